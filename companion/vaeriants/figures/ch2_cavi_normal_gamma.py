"""Mean-field CAVI on a Gaussian with unknown mean and precision (the chapter's worked example).

Panel (a): the exact Normal-Gamma posterior p(mu, tau | x) (filled contours), the mean-field
optimum q(mu) q(tau) (dashed contours) and the path of CAVI's iterates (E_q mu, E_q tau) from
a deliberately poor start. Panel (b): after every half-step, log p(x) minus the ELBO, which
levels off at KL(q* || p(mu, tau | x)), the part of the gap mean field cannot remove, and the
distance to the CAVI optimum, which keeps falling geometrically.
"""
import matplotlib.pyplot as plt
import numpy as np
import torch

from vaeriants.figures._ch2 import BLACK, BLUE, GREEN, ORANGE, VERMILION, panel_label, style
from vaeriants.vi import (DTYPE, MeanField, NormalGamma, cavi_normal_gamma, normal_gamma_elbo,
                          normal_gamma_fixed_point)

OUTPUT = "assets/figures/ch2-cavi-normal-gamma.svg"
DATA = [1.4, 0.6, 2.3, 1.1, 1.9, 0.2]  # the chapter's worked example


def worked_example():
    return NormalGamma(torch.tensor(DATA, dtype=DTYPE), mu0=0.0, lambda0=0.5, a0=1.0, b0=1.0)


def initial_q():
    """A poor start: q(mu) = N(-0.8, 1) and E_q tau = 3, more than twice the optimum's."""
    t = lambda v: torch.tensor(v, dtype=DTYPE)  # noqa: E731
    return MeanField(m=t(-0.8), v=t(1.0), a=t(3.0), b=t(1.0))


def make(path, seed=0, quick=False):
    model = worked_example()
    history = cavi_normal_gamma(model, initial_q(), num_sweeps=6)
    fixed = normal_gamma_fixed_point(model)
    log_px = float(model.log_evidence())
    elbos = np.array([float(normal_gamma_elbo(model, q)) for q in history])
    best = float(normal_gamma_elbo(model, fixed))
    floor = log_px - best

    n = 80 if quick else 200
    mu = torch.linspace(-0.6, 2.9, n, dtype=DTYPE)
    tau = torch.linspace(0.02, 4.6, n, dtype=DTYPE)
    mm, tt = torch.meshgrid(mu, tau, indexing="xy")
    exact = model.log_posterior(mm, tt).exp().numpy()
    approx = fixed.log_density(mm.reshape(-1), tt.reshape(-1)).exp().reshape(mm.shape).numpy()

    with style():
        fig, axes = plt.subplots(1, 2, figsize=(6.67, 3.4), gridspec_kw={"width_ratios": [1.15, 1]})
        ax = axes[0]
        levels = exact.max() * np.array([0.05, 0.2, 0.4, 0.6, 0.8, 0.95])
        filled = ax.contourf(mu.numpy(), tau.numpy(), exact, levels=list(levels) + [exact.max() * 1.01],
                             cmap="Blues", alpha=0.8)
        for layer in filled.collections:
            layer.set_rasterized(True)  # a small embedded image instead of thousands of path nodes
        ax.contour(mu.numpy(), tau.numpy(), approx, levels=approx.max() * np.array([0.05, 0.2, 0.4, 0.6, 0.8, 0.95]),
                   colors=VERMILION, linestyles="--", linewidths=1.0)
        path_mu = [float(q.m) for q in history]
        path_tau = [float(q.a / q.b) for q in history]
        ax.plot(path_mu, path_tau, color=BLACK, lw=1.0, marker="o", ms=3.0)
        ax.annotate("start", (path_mu[0], path_tau[0]), xytext=(6, -3), textcoords="offset points", fontsize=8.5)
        ax.set_xlim(-1.2, 2.9)
        ax.set_ylim(0.0, 6.0)
        ax.set_xlabel(r"mean $\mu$")
        ax.set_ylabel(r"precision $\tau$")
        ax.plot([], [], color=BLUE, lw=6, alpha=0.6, label=r"exact $p(\mu,\tau\mid x)$")
        ax.plot([], [], color=VERMILION, ls="--", label=r"mean field $q(\mu)q(\tau)$")
        ax.plot([], [], color=BLACK, marker="o", ms=3, lw=1, label=r"CAVI path of $(\mathbb{E}_q\mu, \mathbb{E}_q\tau)$")
        ax.legend(loc="upper right", frameon=False)
        panel_label(ax, "a")

        ax = axes[1]
        steps = np.arange(len(elbos)) / 2.0
        ax.semilogy(steps, log_px - elbos, color=BLUE, marker="o", ms=3.5, lw=1.4,
                    label=r"$\log p(x)-\mathcal{L}(q_t)$")
        to_optimum = np.clip(best - elbos, 1e-16, None)
        ax.semilogy(steps, to_optimum, color=GREEN, marker="s", ms=3.0, lw=1.2,
                    label=r"$\mathcal{L}(q^\star)-\mathcal{L}(q_t)$")
        ax.axhline(floor, color=ORANGE, ls="--", lw=1.2,
                   label=r"$D_{\mathrm{KL}}(q^\star\Vert p(\mu,\tau\mid x))$" + f" = {floor:.4f}")
        ax.set_xlabel("CAVI sweep (a dot per half-step)")
        ax.set_ylabel("nats")
        ax.legend(loc="lower left", frameon=False)
        panel_label(ax, "b")
        fig.tight_layout()
        fig.savefig(path, dpi=200, metadata={"Date": None})
        plt.close(fig)

"""Edge one: the ELBO moves the decoder away from maximum likelihood toward simpler posteriors.

Data come from p(z) = N(0, 1), p(x|z) = N(x; z^2, 0.3^2); the model's decoder mean is
z^2 + b z. Top: the population average log-likelihood (largest at the true b = 0) and the
best Gaussian-q ELBO (largest at b* > 0) as functions of b. Bottom: the posterior p_b(z|x) at
x = 1.5 and its best Gaussian approximation, for b = 0 and for b = b*.
"""
import math

import matplotlib.pyplot as plt
import numpy as np
import torch
from scipy.optimize import minimize_scalar

from vaeriants.divergences import DTYPE, SquareDecoder, asymmetry_scan, log_normal_1d, population_nodes

OUTPUT = "assets/figures/ch5-symmetry-breaking.svg"
GREY, BLUE, VERMILLION, GREEN = "#7f7f7f", "#0072B2", "#D55E00", "#009E73"
X_SHOWN = 1.5


def elbo_maximizing_b(nodes, bracket):
    """b* = argmax_b of the population ELBO, by bounded scalar minimization inside `bracket`."""
    result = minimize_scalar(lambda b: -asymmetry_scan([b], nodes=nodes)[1][0], bounds=bracket,
                             method="bounded", options={"xatol": 1e-3})
    return float(result.x)


def posterior_and_fit(b, x0, z):
    """The exact posterior density p_b(z|x0) on z, and the best Gaussian q's density on z."""
    model = SquareDecoder(b=b)
    x = torch.tensor([x0], dtype=DTYPE)
    log_joint = model.log_likelihood(x, z) - 0.5 * (math.log(2 * math.pi) + z**2)
    posterior = (log_joint - model.log_marginal(x)).exp()
    _, mean, logvar = model.best_gaussian_elbo(x)
    return posterior.numpy(), log_normal_1d(z, mean, logvar).exp().numpy()


def make(path, seed=0, quick=False):
    del seed  # deterministic: quadrature and optimization, no sampling
    nodes = population_nodes(SquareDecoder(), n=101 if quick else 301)
    b_values = np.linspace(0.0, 1.4, 5 if quick else 15)
    log_likelihoods, elbos = asymmetry_scan(b_values, nodes=nodes)
    best = int(np.argmax(elbos))
    bracket = (b_values[max(best - 1, 0)], b_values[min(best + 1, len(b_values) - 1)])
    b_star = float(b_values[best]) if quick else elbo_maximizing_b(nodes, bracket)
    ll_star, elbo_star = asymmetry_scan([b_star], nodes=nodes)

    fig, (ax_obj, ax_post) = plt.subplots(2, 1, figsize=(6.4, 5.8), dpi=100)  # stacked: the page is 640 px wide
    ax_obj.plot(b_values, log_likelihoods, color=BLUE, lw=2.0, marker="o", ms=3, label=r"$\mathbb{E}\,\log p_b(x)$")
    ax_obj.plot(b_values, elbos, color=VERMILLION, lw=2.0, marker="o", ms=3, label=r"$\mathbb{E}\,\max_q \mathcal{L}_b(q; x)$")
    ax_obj.fill_between(b_values, elbos, log_likelihoods, color=GREY, alpha=0.2, lw=0, label="gap: posterior KL")
    ax_obj.axvline(b_star, color=VERMILLION, lw=1.0, ls=":")
    ax_obj.annotate(f"$b^* = {b_star:.2f}$", (b_star, elbo_star[0]), xytext=(b_star + 0.08, elbo_star[0] - 0.12),
                    fontsize=9, color=VERMILLION)
    ax_obj.set_xlabel("decoder asymmetry $b$")
    ax_obj.set_ylabel("nats per data point")
    ax_obj.legend(fontsize=9, frameon=False, loc="lower left")

    z = torch.linspace(-3.0, 3.0, 1201, dtype=DTYPE)
    for b, colour, name in ((0.0, BLUE, "b = 0"), (b_star, VERMILLION, f"b = {b_star:.2f}")):
        posterior, fit = posterior_and_fit(b, X_SHOWN, z)
        ax_post.fill_between(z.numpy(), posterior, color=colour, alpha=0.25, lw=0, label=f"$p(z\\mid x)$, ${name}$")
        ax_post.plot(z.numpy(), fit, color=colour, lw=1.8, ls="--", label=f"best Gaussian $q$, ${name}$")
    ax_post.set_xlabel(f"$z$ (at $x = {X_SHOWN}$)")
    ax_post.set_ylabel("density")
    ax_post.legend(fontsize=8.5, frameon=False, loc="upper left")
    ax_post.set_ylim(0, 1.35 * ax_post.get_ylim()[1])
    for ax in (ax_obj, ax_post):
        ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)

"""The ELBO and its gap on a conjugate Gaussian model, where log p(x) and the posterior are known.

z ~ N(0, 1), x_i | z ~ N(z, 1) with five observations; q(z) = N(m, s^2). Panel (a) moves the
variational mean with s at the posterior's standard deviation, panel (b) moves s with m at the
posterior mean. The shaded band between log p(x) and the ELBO is KL(q || p(z | x)).
"""
import matplotlib.pyplot as plt
import numpy as np
import torch

from vaeriants.figures._ch2 import BLACK, BLUE, ORANGE, SKY, panel_label, style
from vaeriants.vi import DTYPE, ConjugateGaussian

OUTPUT = "assets/figures/ch2-elbo-gap.svg"
DATA = [1.2, 0.4, 2.1, 1.6, 0.9]  # the chapter's worked example


def worked_example():
    return ConjugateGaussian(torch.tensor(DATA, dtype=DTYPE), noise_std=1.0)


def make(path, seed=0, quick=False):
    model = worked_example()
    post_mean, post_var = (float(v) for v in model.posterior())
    log_px = float(model.log_evidence())
    grid = 60 if quick else 200
    means = np.linspace(post_mean - 1.0, post_mean + 1.0, grid)
    stds = np.geomspace(0.1, 1.2, grid)
    elbo_m = np.array([float(model.elbo(torch.tensor(m, dtype=DTYPE), post_var)) for m in means])
    elbo_s = np.array([float(model.elbo(torch.tensor(post_mean, dtype=DTYPE), s**2)) for s in stds])

    with style():
        fig, axes = plt.subplots(1, 2, figsize=(6.67, 3.1), sharey=True)
        for ax, xs, elbo, label in ((axes[0], means, elbo_m, "variational mean $m$"),
                                    (axes[1], stds, elbo_s, "variational standard deviation $s$")):
            ax.axhline(log_px, color=BLACK, lw=1.4, label=r"$\log p(x)$")
            ax.plot(xs, elbo, color=BLUE, lw=1.8, label=r"ELBO $\mathcal{L}(q)$")
            ax.fill_between(xs, elbo, log_px, color=SKY, alpha=0.35, lw=0,
                            label=r"gap $=D_{\mathrm{KL}}(q\,\Vert\,p(z\mid x))$")
            ax.set_xlabel(label)
            ax.set_ylim(-10.2, -6.6)
        axes[0].axvline(post_mean, color=ORANGE, ls="--", lw=1.0)
        axes[0].text(post_mean + 0.05, -6.8, "posterior mean", color=ORANGE, fontsize=8.5)
        axes[1].axvline(np.sqrt(post_var), color=ORANGE, ls="--", lw=1.0)
        axes[1].text(np.sqrt(post_var) * 1.05, -6.8, "posterior std", color=ORANGE, fontsize=8.5)
        axes[1].set_xscale("log")
        axes[0].set_ylabel("nats")
        axes[1].legend(loc="lower left", frameon=False)
        panel_label(axes[0], "a")
        panel_label(axes[1], "b")
        fig.tight_layout()
        fig.savefig(path, metadata={"Date": None})
        plt.close(fig)

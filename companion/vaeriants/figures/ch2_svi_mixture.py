"""Stochastic VI against full-data CAVI on a Bayesian mixture of three 2-D Gaussians.

The ELBO per data point (local parameters at their optimum) falls short of the best value
found by CAVI; the figure plots that shortfall against the number of data points the
algorithm has touched. CAVI touches all N points before its first global update; SVI updates
the global parameters after every minibatch, with Robbins-Monro step sizes
rho_t = (t + 1)^(-kappa), or with a constant step, which stalls at a noise floor.
"""
import matplotlib.pyplot as plt
import numpy as np
import torch

from vaeriants.figures._ch2 import BLACK, BLUE, ORANGE, VERMILION, style
from vaeriants.vi import (DTYPE, GaussianMixture, cavi_mixture, initial_means, mixture_data,
                          robbins_monro_steps, svi_mixture)

OUTPUT = "assets/figures/ch2-svi-mixture.svg"
MEANS = [[-4.0, 0.0], [0.0, 3.0], [4.0, -1.0]]
BATCH = 10


def make(path, seed=0, quick=False):
    torch.set_num_threads(1)
    generator = torch.Generator().manual_seed(seed + 1)
    num_points = 10_000 if quick else 100_000
    model = GaussianMixture(mixture_data(num_points, MEANS, generator), num_components=3, prior_var=25.0)
    m0, s20 = initial_means(model, generator)
    _, _, cavi_elbos = cavi_mixture(model, m0, s20, num_sweeps=8)
    global_steps = cavi_elbos[1::2] / num_points  # ELBO after each full-data global update
    best = float(cavi_elbos.max()) / num_points

    num_steps = 600 if quick else 20_000
    record_at = np.unique(np.geomspace(1, num_steps, 40 if quick else 80).astype(int))
    runs = {
        r"SVI, $\kappa=1$": (robbins_monro_steps(num_steps, delay=1.0, forget=1.0), BLUE, "-"),
        r"SVI, $\kappa=0.6$": (robbins_monro_steps(num_steps, delay=1.0, forget=0.6), ORANGE, "-"),
        r"SVI, constant $\rho=0.1$": (torch.full((num_steps,), 0.1, dtype=DTYPE), VERMILION, ":"),
    }

    with style():
        fig, ax = plt.subplots(figsize=(6.0, 3.4))
        for label, (steps, colour, ls) in runs.items():
            _, _, records = svi_mixture(model, m0, s20, BATCH, steps, torch.Generator().manual_seed(seed + 2),
                                        record_at=record_at)
            visited = np.array([r[0] for r in records])
            shortfall = np.clip(best - np.array([r[1] for r in records]) / num_points, 1e-9, None)
            ax.loglog(visited, shortfall, color=colour, ls=ls, lw=1.5, label=label)
        passes = num_points * np.arange(1, len(global_steps) + 1)
        cavi_shortfall = np.clip(best - global_steps.numpy(), 1e-9, None)
        ax.loglog(passes, cavi_shortfall, color=BLACK, marker="o", ms=4, lw=1.0, label="CAVI (one update per pass)")
        ax.axvline(num_points, color=BLACK, lw=0.6, ls="--")
        ax.text(num_points * 1.08, 1.5, "one pass\nover the data", fontsize=8.5, va="top")
        ax.set_xlim(BATCH * 0.8, passes[-1] * 1.3)
        ax.set_ylim(1e-7, 5.0)
        ax.set_xlabel("data points touched")
        ax.set_ylabel("ELBO shortfall per data point (nats)")
        ax.legend(loc="lower left", frameon=False)
        fig.tight_layout()
        fig.savefig(path, metadata={"Date": None})
        plt.close(fig)

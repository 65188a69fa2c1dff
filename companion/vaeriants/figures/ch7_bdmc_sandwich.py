"""Bidirectional Monte Carlo on data simulated from the worked-example linear-Gaussian model.

For each number of annealing steps T, forward AIS from the prior gives stochastic lower bounds
and reverse AIS from the exact posterior sample (the z that generated x) gives stochastic upper
bounds on log p(x). Both are plotted relative to the exact log p(x), averaged over simulated
data points and chains.
"""
import math

import matplotlib.pyplot as plt
import numpy as np
import torch

from vaeriants.ais import bidirectional_bounds, sigmoid_schedule
from vaeriants.distributions import log_standard_normal
from vaeriants.evaluation import worked_example

OUTPUT = "assets/figures/ch7-bdmc-sandwich.svg"
STEP_SIZE, NUM_LEAPFROG = 0.15, 5


def sandwich(model, num_data, num_chains, steps, generator):
    """Per T: mean lower and upper bound minus log p(x), each with its standard error.

    Bounds are per chain (one AIS weight each), so their means estimate E[log w] and
    E[-log w_reverse], the two sides of the sandwich; the average is over data and chains.
    """
    z_true, x = model.sample(num_data, generator)
    x_rep = x.repeat_interleave(num_chains, 0)  # (num_data * num_chains, d_x)
    z_rep = z_true.repeat_interleave(num_chains, 0)  # exact posterior samples for x_rep
    log_evidence = model.log_marginal(x_rep)  # (C,)

    def log_target(z):
        return model.log_joint(x_rep, z)

    rows = []
    for num_steps in steps:
        z_init = torch.randn(z_rep.shape, generator=generator, dtype=z_rep.dtype)
        lower, upper = bidirectional_bounds(z_init, z_rep, log_standard_normal, log_target,
                                            sigmoid_schedule(num_steps), STEP_SIZE, NUM_LEAPFROG, generator)
        lo, up = (lower - log_evidence).numpy(), (upper - log_evidence).numpy()
        n = math.sqrt(len(lo))
        rows.append((lo.mean(), lo.std() / n, up.mean(), up.std() / n))
    return np.array(rows)


def make(path, seed=0, quick=False):
    torch.set_num_threads(1)
    generator = torch.Generator().manual_seed(seed)
    model, _, _ = worked_example()
    steps = [1, 3, 10, 30] if quick else [1, 3, 10, 30, 100, 300, 1000]
    rows = sandwich(model, num_data=4 if quick else 16, num_chains=8 if quick else 32, steps=steps, generator=generator)

    fig, ax = plt.subplots(figsize=(5.6, 4.4), dpi=100)
    ax.fill_between(steps, rows[:, 0], rows[:, 2], color="#999999", alpha=0.25, linewidth=0,
                    label="the sandwich")
    ax.errorbar(steps, rows[:, 2], yerr=2 * rows[:, 3], fmt="s-", color="#0072B2", markersize=4, capsize=2,
                label="reverse AIS from an exact posterior sample (upper)")
    ax.errorbar(steps, rows[:, 0], yerr=2 * rows[:, 1], fmt="o-", color="#D55E00", markersize=4, capsize=2,
                label="forward AIS from the prior (lower)")
    ax.axhline(0.0, color="black", linewidth=1.0, label="exact $\\log p(x)$")
    ax.set_xscale("log")
    ax.set_yscale("symlog", linthresh=1e-2)
    ax.set_xlabel("number of intermediate distributions $T$")
    ax.set_ylabel("bound $-\\log p(x)$ (nats)")
    ax.legend(fontsize=7.5, loc="upper center", bbox_to_anchor=(0.45, -0.17), ncol=2, frameon=False)
    ax.tick_params(labelsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)

"""What to report for a trained VAE: a VAE with 16 latent units on binarized digits.

Top: the activity Cov_x(E_q[z_u | x]) of each latent unit on held-out digits, sorted, with
the usual 0.01 threshold, and the rate of each unit. Bottom: the K-sample bound L_K on
training and held-out digits against K, with the ELBO, rate and distortion in the legend.
"""
import math

import matplotlib.pyplot as plt
import numpy as np
import torch

from vaeriants.data import digits
from vaeriants.distributions import kl_diag_normal_standard_normal
from vaeriants.evaluation import log_likelihood_estimates, vae_log_weights, vae_report
from vaeriants.vae import VAEConfig, train_vae

OUTPUT = "assets/figures/ch7-digits-vae-report.svg"
LATENT_DIM = 16
THRESHOLD = 1e-2


def binarized_digits_split(seed=0, num_train=1500):
    """scikit-learn's digits, a pixel on when its intensity exceeds 8 of 16; (train, test)."""
    images, _ = digits()
    x = (images > 0.5).float()
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    return x[order[:num_train]], x[order[num_train:]]


def bound_curve(model, x, ks, generator):
    """Mean over data points of one K-sample estimate of log p(x), for each K."""
    return [log_likelihood_estimates(vae_log_weights(model, x, k, generator)).mean().item() for k in ks]


def digits_report(seed=0, quick=False):
    """Train the VAE and compute everything the figure shows; also used to quote numbers."""
    generator = torch.Generator().manual_seed(seed)
    train, test = binarized_digits_split(seed)
    if quick:
        train, test = train[:200], test[:40]
    cfg = VAEConfig(latent_dim=LATENT_DIM, hidden_dim=128, epochs=1 if quick else 100)
    model, _ = train_vae(train, cfg, seed=seed)
    ks = [1, 4, 16, 64] if quick else [1, 4, 16, 64, 256, 1024]
    report = vae_report(model, test, ks[-1], generator)
    with torch.no_grad():
        mean, logvar = model.encoder(test)
        rate_per_unit = 0.5 * (logvar.exp() + mean**2 - 1.0 - logvar).mean(0)  # (d_z,), sums to the rate
    assert math.isclose(rate_per_unit.sum().item(), kl_diag_normal_standard_normal(mean, logvar).mean().item(), rel_tol=1e-4)
    curves = {name: bound_curve(model, data, ks, generator) for name, data in [("training", train), ("held-out", test)]}
    return ks, report, rate_per_unit, curves


def make(path, seed=0, quick=False):
    torch.set_num_threads(1)
    ks, report, rate_per_unit, curves = digits_report(seed, quick)

    fig, (ax_units, ax_bound) = plt.subplots(2, 1, figsize=(6.4, 7.0), dpi=100)  # stacked: the page is 640 px wide
    order = torch.argsort(report["activity"], descending=True)
    activity = report["activity"][order].numpy()
    units = np.arange(1, LATENT_DIM + 1)
    colours = np.where(activity > THRESHOLD, "#0072B2", "#BBBBBB")
    ax_units.bar(units, activity, color=colours, label="activity (left axis)")
    ax_units.axhline(THRESHOLD, color="black", linestyle="--", linewidth=1, label=f"threshold {THRESHOLD}")
    ax_units.set_yscale("log")
    ax_units.set_xlabel("latent unit, sorted by activity")
    ax_units.set_ylabel("activity $\\mathrm{Var}_x\\,\\mathbb{E}_q[z_u \\mid x]$")
    ax_units.set_xticks(units[::3])
    ax_rate = ax_units.twinx()
    ax_rate.plot(units, rate_per_unit[order].numpy(), "o", color="#D55E00", markersize=4,
                 label="rate of the unit, nats (right axis)")
    ax_rate.set_ylabel("nats", color="#D55E00")
    ax_rate.set_ylim(bottom=0)
    handles = ax_units.get_legend_handles_labels()
    handles_rate = ax_rate.get_legend_handles_labels()
    ax_units.legend(handles[0] + handles_rate[0], handles[1] + handles_rate[1], fontsize=8.5, loc="upper right", frameon=False)
    ax_units.set_title(f"(a) {report['active_units']} of {LATENT_DIM} units active (held-out data)", loc="left", fontsize=9)

    for name, colour in [("training", "#009E73"), ("held-out", "#CC79A7")]:
        ax_bound.plot(ks, curves[name], "o-", color=colour, markersize=4,
                      label=f"$\\mathcal{{L}}_K$, {name} digits")
    ax_bound.axhline(report["elbo"], color="#CC79A7", linestyle=":", linewidth=1.2,
                     label=f"held-out ELBO {report['elbo']:.2f} = -(D {report['distortion']:.2f} + R {report['rate']:.2f})")
    ax_bound.set_xscale("log", base=2)
    ax_bound.set_xlabel("number of importance samples $K$")
    ax_bound.set_ylabel("nats per digit")
    # Room below the lowest point for the legend, so that it covers neither curve nor the ELBO line.
    low = min(min(curves["held-out"]), report["elbo"])
    high = max(curves["training"])
    ax_bound.set_ylim(low - 0.4 * (high - low), high + 0.05 * (high - low))
    ax_bound.legend(fontsize=8.5, loc="lower right", frameon=False)
    ax_bound.set_title(f"(b) held-out $\\mathcal{{L}}_{{{ks[-1]}}}$ = {report['iwae']:.2f} nats"
                       f" = {report['bits_per_dim']:.3f} bits/dim", loc="left", fontsize=9)
    for ax in (ax_units, ax_rate, ax_bound):
        ax.tick_params(labelsize=8)
    ax_bound.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)

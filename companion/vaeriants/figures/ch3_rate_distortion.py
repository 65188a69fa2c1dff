"""beta-VAEs trained on the binarized digits, placed on the rate-distortion plane.

Left: each model's rate R and distortion D (filled marker) and its mutual information I_q(x; z)
at the same distortion (open marker), with the boundary D = H - R below which no model can
lie, and lines of equal ELBO (slope -1). Right: ELBO surgery of each model's rate into the
index-code mutual information and the KL from the aggregate posterior to the prior, against
the entropy H of the data, which bounds the mutual information.
"""
import math

import matplotlib.pyplot as plt
import numpy as np
import torch

from vaeriants.information import binarized_digits, empirical_entropy, train_vae_annealed, vae_rate_distortion
from vaeriants.vae import VAEConfig, train_vae

OUTPUT = "assets/figures/ch3-rate-distortion.svg"
BETAS = (0.1, 0.2, 0.5, 1.0, 1.5, 2.0, 4.0)
LATENT_DIM = 8
HIDDEN_DIM = 64
EPOCHS = 150
SAMPLES_PER_POINT = 2  # Monte Carlo samples of z per data point for D and the rate split

# Okabe-Ito colours (colour-blind safe) for the two parts of the rate.
BLUE, ORANGE, GREY = "#0072B2", "#E69F00", "#999999"


def sweep(seed=0, quick=False):
    """Train one VAE per beta and one KL-annealed VAE; return H and every model's terms."""
    torch.set_num_threads(1)
    data = binarized_digits()
    betas = (0.5, 2.0) if quick else BETAS
    if quick:
        data = data[:300]
    epochs = 2 if quick else EPOCHS
    entropy = empirical_entropy(data)
    results = []
    for beta in betas:
        cfg = VAEConfig(latent_dim=LATENT_DIM, hidden_dim=HIDDEN_DIM, epochs=epochs, beta=beta)
        model, _ = train_vae(data, cfg, seed=seed)
        terms = vae_rate_distortion(model, data, SAMPLES_PER_POINT, torch.Generator().manual_seed(seed + 1))
        results.append({"label": f"β = {beta:g}", "beta": beta, **{k: v[0] for k, v in terms.items()}})
    # KL annealing: beta rises from 0 to 1 over the first half of training, then stays at 1.
    cfg = VAEConfig(latent_dim=LATENT_DIM, hidden_dim=HIDDEN_DIM, epochs=epochs, beta=1.0)
    model = train_vae_annealed(data, cfg, seed=seed, warmup_fraction=0.5)
    terms = vae_rate_distortion(model, data, SAMPLES_PER_POINT, torch.Generator().manual_seed(seed + 1))
    results.append({"label": "annealed", "beta": None, **{k: v[0] for k, v in terms.items()}})
    return entropy, len(data), results


def _rate_distortion_panel(ax, entropy, results, colours):
    # Keep both corners, (0, H) and (H, 0), in view whatever the models' rates are.
    r_max = max(1.08 * max(r["rate"] for r in results) + 1.0, 1.6 * entropy)
    d_max = max(1.12 * max(r["distortion"] for r in results) + 1.0, 1.3 * entropy)
    r_min = -0.03 * r_max  # a margin, so that a model at R = 0 is not cut by the axis
    ax.set_xlim(r_min, r_max)
    ax.set_ylim(0, d_max)
    # Infeasible region: D < max(H - R, 0) (binary data, so D >= 0 as well).
    rr = np.array([0.0, entropy, r_max])  # the boundary is piecewise linear with a kink at R = H
    boundary = np.maximum(entropy - rr, 0.0)
    ax.fill_between(rr, 0, boundary, color=GREY, alpha=0.35, linewidth=0)
    ax.plot(rr, boundary, color="black", linewidth=1.6)
    # Lines of equal ELBO, D + R = const, each labelled along its lower end.
    for level in range(10, int(r_max + d_max) + 1, 5):
        ax.plot(rr, level - rr, color=GREY, linewidth=0.8, linestyle="--", zorder=0)
        r_label = level - 0.04 * d_max
        if r_label < 0.97 * r_max:  # the lines that reach the bottom edge; the rest follow every 5 nats
            ax.text(r_label, level - r_label, f"−ELBO = {level} ", color="#555555", fontsize=7.5, rotation=-45,
                    transform_rotates_text=True, rotation_mode="anchor", ha="right", va="bottom", clip_on=True)
    for r, colour in zip(results, colours):
        marker = "*" if r["beta"] is None else "o"
        size = 13 if r["beta"] is None else 7
        ax.plot([r["mutual_information"], r["rate"]], [r["distortion"]] * 2, color=colour, linewidth=1.0)
        ax.plot(r["mutual_information"], r["distortion"], marker=marker, markersize=size, markerfacecolor="white",
                markeredgecolor=colour, markeredgewidth=1.3, linestyle="none")
        ax.plot(r["rate"], r["distortion"], marker=marker, markersize=size, color=colour, linestyle="none",
                label=r["label"])
    ax.plot([0, entropy], [entropy, 0], linestyle="none", marker="s", markersize=5, color="black", clip_on=False)
    ax.text(0.02 * r_max, entropy + 0.02 * d_max, "auto-decoding (0, H)", fontsize=8, va="bottom")
    ax.text(entropy + 0.02 * r_max, 0.015 * d_max, "auto-encoding (H, 0)", fontsize=8, va="bottom")
    ax.text(0.02 * r_max, 0.1 * entropy, "infeasible", fontsize=8, color="#333333")
    ax.set_xlabel("rate R (nats); open markers: I(x; z)")
    ax.set_ylabel("distortion D (nats)")
    ax.legend(fontsize=7.5, loc="upper right", frameon=True, framealpha=0.9, edgecolor="none", handletextpad=0.3,
              labelspacing=0.3)


def _surgery_panel(ax, entropy, num_points, results):
    positions = np.arange(len(results))
    information = np.array([r["mutual_information"] for r in results])
    marginal_kl = np.array([r["marginal_kl"] for r in results])
    ax.bar(positions, information, color=BLUE, width=0.7, label="I(n; z), index-code MI")
    ax.bar(positions, marginal_kl, bottom=information, color=ORANGE, width=0.7, label="KL(q(z) ‖ p(z))")
    for position, r in zip(positions, results):
        if r["rate"] < 0.05 * entropy:  # a collapsed model has no bar to see
            ax.text(position, 0.2, "R ≈ 0", ha="center", va="bottom", fontsize=7.5, rotation=90)
    ax.axhline(entropy, color="black", linewidth=1.2, linestyle="--")
    ax.text(len(results) - 0.6, entropy + 0.3, f"H = {entropy:.2f} ≤ log N = {math.log(num_points):.2f}",
            fontsize=8, ha="right", va="bottom")
    ax.set_xticks(positions, [r["label"].replace("β = ", "β=") for r in results], rotation=40, fontsize=8)
    ax.set_ylabel("average rate R (nats)")
    ax.legend(fontsize=7.5, loc="upper right", frameon=False)


def draw(entropy, num_points, results, path):
    # Text stays text in the SVG (svg.fonttype none): a much smaller file that the page can search.
    with plt.rc_context({"svg.hashsalt": "ch3-rate-distortion", "svg.fonttype": "none", "font.size": 9}):
        _draw(entropy, num_points, results, path)


def _draw(entropy, num_points, results, path):
    colours = plt.cm.viridis(np.linspace(0.0, 0.85, len(results) - 1)).tolist() + ["#D55E00"]
    # Stacked panels, so that the figure keeps readable text at the width of the page's column.
    fig, (left, right) = plt.subplots(2, 1, figsize=(7.2, 7.6), gridspec_kw={"height_ratios": [1.55, 1]})
    _rate_distortion_panel(left, entropy, results, colours)
    _surgery_panel(right, entropy, num_points, results)
    left.set_title("(a)", fontsize=10, loc="left")
    right.set_title("(b)", fontsize=10, loc="left")
    fig.tight_layout()
    fig.savefig(path, metadata={"Date": None})
    plt.close(fig)


def make(path, seed=0, quick=False):
    entropy, num_points, results = sweep(seed=seed, quick=quick)
    draw(entropy, num_points, results, path)

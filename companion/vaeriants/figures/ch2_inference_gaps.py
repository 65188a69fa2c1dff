"""The approximation gap and the amortization gap, point by point, on a model with known evidence.

A fixed tanh decoder with a 2-D latent space (`vaeriants.amortized.tanh_decoder`) generates
the data. For every data point: log p(x) by quadrature on a grid, the ELBO of the best
diagonal Gaussian for that point (L-BFGS per point), and the ELBO of encoders q_phi(z | x)
trained on the whole data set with the SGVB estimator. Panel (a): the three numbers for each
point, measured from log p(x), for one encoder. Panel (b): the average gaps against the
encoder's width (0 = an affine encoder).
"""
import matplotlib.pyplot as plt
import numpy as np
import torch

from vaeriants.amortized import best_gaussian_per_datapoint, inference_gaps, tanh_decoder, train_encoder
from vaeriants.figures._ch2 import BLACK, BLUE, ORANGE, SKY, panel_label, style

OUTPUT = "assets/figures/ch2-inference-gaps.svg"
SHOWN_WIDTH = 16  # the encoder of panel (a)


def make(path, seed=0, quick=False):
    torch.set_num_threads(1)
    decoder = tanh_decoder(data_dim=4, hidden=16, noise_std=0.3, scale=1.5, seed=seed)
    x = decoder.sample(12 if quick else 100, torch.Generator().manual_seed(seed + 1))
    order = 10 if quick else 20
    best = best_gaussian_per_datapoint(decoder, x, order=order, max_iter=20 if quick else 200)
    widths = [0, 16] if quick else [0, 2, 4, 8, 16, 32, 64, 128]
    steps = 100 if quick else 2000
    results = {w: inference_gaps(decoder, x, train_encoder(decoder, x, w, steps, seed=seed), best, order)
               for w in widths}

    shown = results[SHOWN_WIDTH]
    approx = shown["approximation_gap"].numpy()
    amort = shown["amortization_gap"].numpy()
    order_idx = np.argsort(approx + amort)
    idx = np.arange(len(x))

    with style():
        fig, axes = plt.subplots(1, 2, figsize=(7.8, 3.3), gridspec_kw={"width_ratios": [1.5, 1]})
        ax = axes[0]
        ax.axhline(0.0, color=BLACK, lw=1.4, label=r"$\log p(x)$")
        ax.fill_between(idx, 0.0, -approx[order_idx], color=SKY, alpha=0.5, lw=0, step="mid",
                        label="approximation gap")
        ax.fill_between(idx, -approx[order_idx], -(approx + amort)[order_idx], color=ORANGE, alpha=0.45, lw=0,
                        step="mid", label="amortization gap")
        ax.plot(idx, -approx[order_idx], color=BLUE, lw=1.2, drawstyle="steps-mid",
                label=r"best Gaussian $\mathcal{L}(q^\star_x)$")
        ax.plot(idx, -(approx + amort)[order_idx], color=ORANGE, lw=1.2, drawstyle="steps-mid",
                label=r"encoder $\mathcal{L}(q_\phi(\cdot\mid x))$")
        ax.set_xlabel("data point (sorted by total gap)")
        ax.set_ylabel(r"ELBO $-\log p(x)$ (nats)")
        ax.set_xlim(-0.5, len(x) - 0.5)
        ax.legend(loc="lower left", frameon=False)
        panel_label(ax, "a")

        ax = axes[1]
        pos = np.arange(len(widths))
        mean_approx = np.array([results[w]["approximation_gap"].mean().item() for w in widths])
        mean_amort = np.array([results[w]["amortization_gap"].mean().item() for w in widths])
        ax.bar(pos, mean_approx, color=SKY, alpha=0.8, label="approximation")
        ax.bar(pos, mean_amort, bottom=mean_approx, color=ORANGE, alpha=0.7, label="amortization")
        ax.set_xticks(pos, ["affine" if w == 0 else str(w) for w in widths])
        ax.set_xlabel("encoder hidden units")
        ax.set_ylabel("average gap (nats)")
        ax.legend(loc="upper right", frameon=False)
        panel_label(ax, "b")
        fig.tight_layout()
        fig.savefig(path, metadata={"Date": None})
        plt.close(fig)

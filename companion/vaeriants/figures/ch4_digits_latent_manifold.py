"""The decoded latent plane of a VAE with a 2-D latent space trained on the digits.

The monograph's own answer to the Frey Face figure of Kingma and Welling (2014): a grid of
points z in the plane, placed at evenly spaced quantiles of the N(0, I) prior, each decoded
to the mean image of p_theta(x|z). The model is the listing's (`vaeriants.vae`), trained on all
1,797 digits for 150 epochs.
"""
import matplotlib.pyplot as plt
import numpy as np
import torch
from scipy.stats import norm

from vaeriants.data import digits
from vaeriants.figures._ch4_common import show, tile
from vaeriants.vae import VAEConfig, train_vae

OUTPUT = "assets/figures/ch4-digits-latent-manifold.png"
GRID = 15


def make(path, seed=0, quick=False):
    torch.set_num_threads(1)
    images, _ = digits()
    cfg = VAEConfig(epochs=3 if quick else 150)
    model, _ = train_vae(images, cfg, seed=seed)
    # Quantiles of the prior, so each cell covers equal prior mass (as in Kingma and Welling).
    ticks = norm.ppf(np.linspace(0.03, 0.97, GRID))
    zz = torch.tensor([[a, b] for b in ticks[::-1] for a in ticks], dtype=torch.float32)
    with torch.no_grad():
        means = torch.sigmoid(model.decoder(zz)).numpy()  # (GRID*GRID, 64), row-major from the top
    fig, ax = plt.subplots(figsize=(5.5, 5.5), dpi=120)
    show(ax, tile(means, GRID, GRID))
    centres = 1 + 9 * np.arange(GRID) + 3.5
    ax.set_xticks(centres[::2], [f"{t:.1f}" for t in ticks[::2]], fontsize=10)
    ax.set_yticks(centres[::2], [f"{t:.1f}" for t in ticks[::-1][::2]], fontsize=10)
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)

"""The decoded latent plane of a VAE with a 2-D latent space trained on the digits.

The monograph's own answer to the Frey Face figure of Kingma and Welling (2014): a grid of
points z in the plane, placed at evenly spaced quantiles of the N(0, I) prior, each decoded
to the mean image of p_theta(x|z).
"""
import matplotlib.pyplot as plt
import numpy as np
import torch
from scipy.stats import norm

from vaeriants.data import digits
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
        means = torch.sigmoid(model.decoder(zz)).numpy()  # (GRID*GRID, 64)
    canvas = np.zeros((GRID * 9 + 1, GRID * 9 + 1))
    for idx, img in enumerate(means):
        row, col = divmod(idx, GRID)
        canvas[1 + row * 9: 1 + row * 9 + 8, 1 + col * 9: 1 + col * 9 + 8] = img.reshape(8, 8)
    fig, ax = plt.subplots(figsize=(5.5, 5.5), dpi=120)
    ax.imshow(canvas, cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks(1 + 9 * np.arange(GRID)[::2] + 3.5, [f"{t:.1f}" for t in ticks[::2]], fontsize=7)
    ax.set_yticks(1 + 9 * np.arange(GRID)[::2] + 3.5, [f"{t:.1f}" for t in ticks[::-1][::2]], fontsize=7)
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)

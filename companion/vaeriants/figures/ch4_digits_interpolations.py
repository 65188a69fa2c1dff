"""Straight-line interpolations in latent space between pairs of held-out digits, for a VAE and
a deterministic autoencoder with 8-dimensional latent spaces and the same networks.

Each pair takes two rows: the VAE (path between the encoder means mu(x)) and the autoencoder
(path between the codes). The first and last columns are the test images themselves.
"""
import matplotlib.pyplot as plt
import numpy as np
import torch

from vaeriants.figures._ch4_common import show, split_labels, tile, trained_autoencoder, trained_vae
from vaeriants.vae import digits_split

OUTPUT = "assets/figures/ch4-digits-interpolations.png"
LATENT_DIM = 8
STEPS = 9
PAIRS = [(0, 1), (3, 8), (4, 9), (7, 2)]  # digit classes to go from and to


def decode_path(decoder, start, end):
    """Decoder means along z = (1 - t) start + t end for STEPS values of t in [0, 1]."""
    t = torch.linspace(0, 1, STEPS)[:, None]  # (STEPS, 1)
    return torch.sigmoid(decoder((1 - t) * start + t * end))  # (STEPS, 64)


def make(path, seed=0, quick=False):
    _, test = digits_split()
    _, test_labels = split_labels()
    vae = trained_vae(LATENT_DIM, quick, seed)
    ae = trained_autoencoder(LATENT_DIM, quick, seed)
    rows, labels = [], []
    with torch.no_grad():
        for a, b in PAIRS:
            xa = test[int((test_labels == a).nonzero()[0])]
            xb = test[int((test_labels == b).nonzero()[0])]
            ends = torch.stack([xa, xb])
            vae_codes = vae.encoder(ends)[0]
            ae_codes = ae.encode(ends)
            for decoder, codes, name in [(vae.decoder, vae_codes, "VAE"), (ae.decoder, ae_codes, "autoencoder")]:
                path_images = decode_path(decoder, codes[0], codes[1])
                rows.append(torch.cat([xa[None], path_images, xb[None]]))
                labels.append(f"{name}, {a} to {b}")
    fig, ax = plt.subplots(figsize=(6.4, 4.6), dpi=120)
    show(ax, tile(torch.cat(rows).numpy(), len(rows), STEPS + 2))
    ax.set_yticks(1 + 9 * np.arange(len(rows)) + 3.5, labels, fontsize=10.5)
    centres = 1 + 9 * np.arange(STEPS + 2) + 3.5
    ax.set_xticks(centres, ["data"] + [f"{t:.2g}" for t in np.linspace(0, 1, STEPS)] + ["data"], fontsize=10)
    ax.set_xlabel("$t$, position along the straight line between the two codes")
    ax.tick_params(length=0)
    fig.tight_layout()
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)

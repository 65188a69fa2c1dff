"""Reconstructions of held-out digits by a deterministic autoencoder and by a VAE, both with an
8-dimensional latent space, the same networks and the same training loop.

Rows: the test images; the autoencoder's reconstruction; the VAE's decoder mean at the encoder
mean z = mu(x); and the decoder mean at three draws z ~ q(z|x), which shows how much the
stochastic encoder blurs a code.
"""
import matplotlib.pyplot as plt
import numpy as np
import torch

from vaeriants.figures._ch4_common import show, split_labels, tile, trained_autoencoder, trained_vae
from vaeriants.vae import digits_split

OUTPUT = "assets/figures/ch4-digits-reconstructions.png"
LATENT_DIM = 8
DRAWS = 3


def first_of_each_class(labels):
    """Index of the first test image of each digit class 0..9."""
    return [int((labels == c).nonzero()[0]) for c in range(10)]


def make(path, seed=0, quick=False):
    _, test = digits_split()
    _, test_labels = split_labels()
    x = test[first_of_each_class(test_labels)]  # (10, 64)
    vae = trained_vae(LATENT_DIM, quick, seed)
    ae = trained_autoencoder(LATENT_DIM, quick, seed)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        rows = [x, torch.sigmoid(ae.decoder(ae.encode(x)))]
        mean, logvar = vae.encoder(x)
        rows.append(torch.sigmoid(vae.decoder(mean)))
        for _ in range(DRAWS):
            z = mean + (0.5 * logvar).exp() * torch.randn(mean.shape, generator=generator)
            rows.append(torch.sigmoid(vae.decoder(z)))
    labels = ["test image", "autoencoder", r"VAE, $z=\mu_\phi(x)$"] + [r"VAE, $z\sim q_\phi(z\mid x)$"] * DRAWS
    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=120)
    show(ax, tile(torch.cat(rows).numpy(), len(rows), 10))
    ax.set_yticks(1 + 9 * np.arange(len(rows)) + 3.5, labels, fontsize=10.5)
    ax.tick_params(length=0)
    fig.tight_layout()
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)

"""Where the training digits land in a 2-D latent space: the encoder means mu_phi(x) of a VAE
(left) against the codes of a deterministic autoencoder with the same networks (right).

Each point is drawn as its digit, coloured by class. Left: circles of radius 1, 2, 3 of the
prior N(0, I). Right: the 1-, 2-, 3-sigma ellipses of a Gaussian fitted to the codes.
"""
import matplotlib.pyplot as plt
import numpy as np
import torch

from vaeriants.autoencoders import gaussian_fit
from vaeriants.figures._ch4_common import DIGIT_COLOURS, split_labels, trained_autoencoder, trained_vae
from vaeriants.vae import digits_split

OUTPUT = "assets/figures/ch4-latent-holes.svg"


def ellipse(mean, cov, radius, points=200):
    """The curve {mean + radius * L u : |u| = 1}, L the Cholesky factor of cov, as (points, 2)."""
    angle = np.linspace(0, 2 * np.pi, points)
    circle = np.stack([np.cos(angle), np.sin(angle)], axis=1)
    return mean + radius * circle @ np.linalg.cholesky(cov).T


def scatter_digits(ax, codes, labels):
    for digit in range(10):
        chosen = codes[labels == digit]
        ax.scatter(chosen[:, 0], chosen[:, 1], marker=f"${digit}$", s=16, linewidths=0,
                   color=DIGIT_COLOURS[digit], rasterized=True)


def make(path, seed=0, quick=False):
    train, _ = digits_split()
    train_labels, _ = split_labels()
    labels = train_labels.numpy()
    with torch.no_grad():
        vae_codes = trained_vae(2, quick, seed).encoder(train)[0].numpy()
        ae_codes = trained_autoencoder(2, quick, seed).encode(train).numpy()
    fig, axes = plt.subplots(1, 2, figsize=(6.67, 3.6), dpi=100)  # the 640 px text column
    panels = [(vae_codes, np.zeros(2), np.eye(2), "VAE: $\\mu_\\phi(x)$\ncircles: prior $\\mathcal{N}(0, I)$"),
              (ae_codes, *[v.numpy() for v in gaussian_fit(torch.as_tensor(ae_codes))],
               "autoencoder: codes\nellipses: fitted Gaussian")]
    for ax, (codes, mean, cov, label) in zip(axes, panels):
        scatter_digits(ax, codes, labels)
        for radius in (1, 2, 3):
            curve = ellipse(mean, cov, radius)
            ax.plot(curve[:, 0], curve[:, 1], color="black", lw=0.8, ls=(0, (4, 3)))
        ax.set_aspect("equal", adjustable="datalim")
        ax.set_xlabel(f"$z_1$\n{label}", fontsize=10)
        ax.set_ylabel("$z_2$")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)

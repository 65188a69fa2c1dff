"""Ancestral samples from a VAE with an 8-dimensional latent space, against "samples" of a
deterministic autoencoder with the same networks.

(a) decoder means of z ~ p(z) = N(0, I); (b) one binary image x ~ p_theta(x|z) for each of the
same z, which is what the model's likelihood actually generates; (c) the autoencoder's decoder
at codes drawn from a Gaussian fitted to its training codes after training; (d) the
autoencoder's decoder at z ~ N(0, I), the prior it was never trained with. Each panel is labelled
with the average confidence (largest class probability) of a logistic-regression digit
classifier, a rough measure of how digit-like the images are.
"""
import matplotlib.pyplot as plt
import torch

from vaeriants.autoencoders import gaussian_fit, sample_gaussian
from vaeriants.figures._ch4_common import (classifier_confidence, digit_classifier, show, tile, trained_autoencoder,
                                          trained_vae)
from vaeriants.vae import digits_split

OUTPUT = "assets/figures/ch4-digits-samples.png"
LATENT_DIM = 8
SIDE = 8  # an 8 x 8 grid of samples per panel
SCORED = 2000  # samples scored by the classifier, of which the first SIDE * SIDE are shown


def make(path, seed=0, quick=False):
    train, test = digits_split()
    vae = trained_vae(LATENT_DIM, quick, seed)
    ae = trained_autoencoder(LATENT_DIM, quick, seed)
    classifier = digit_classifier()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        _, vae_means, vae_draws = vae.sample(SCORED, generator)
        fitted = sample_gaussian(SCORED, *gaussian_fit(ae.encode(train)), generator)
        ae_fitted = torch.sigmoid(ae.decoder(fitted))
        ae_prior = torch.sigmoid(ae.decoder(torch.randn(SCORED, LATENT_DIM, generator=generator)))
    panels = [(vae_means, r"(a) VAE: mean of $p_\theta(x\mid z)$, $z\sim\mathcal{N}(0,I)$"),
              (vae_draws, r"(b) VAE: $x\sim p_\theta(x\mid z)$, the same $z$"),
              (ae_fitted, "(c) autoencoder: $z$ from a Gaussian\nfitted to its training codes"),
              (ae_prior, r"(d) autoencoder: $z\sim\mathcal{N}(0,I)$")]
    fig, axes = plt.subplots(2, 2, figsize=(6.67, 7.9), dpi=120)  # the 640 px text column
    for ax, (images, label) in zip(axes.flat, panels):
        show(ax, tile(images[: SIDE * SIDE].numpy(), SIDE, SIDE))
        confidence = classifier_confidence(classifier, images)
        ax.set_xlabel(f"{label}\nclassifier confidence {confidence:.2f}", fontsize=10)
    fig.text(0.5, 0.005, f"(held-out test digits: classifier confidence {classifier_confidence(classifier, test):.2f})",
             ha="center", fontsize=10)
    fig.tight_layout(rect=(0, 0.02, 1, 1))
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)

"""What chapter 4's digits figures share: the trained models and the image-grid drawing.

The models are those of `vaeriants.vae.main` (the chapter's listing): trained on the 1,500
training digits of `digits_split`, 100 epochs, a 10-epoch KL warm-up. A deterministic
autoencoder with the same networks and training loop is the point of comparison. Models are
cached per process, so that figures drawn together train each model once.
"""
from functools import lru_cache

import numpy as np
import torch

from vaeriants.autoencoders import train_autoencoder
from vaeriants.data import digits
from vaeriants.vae import VAEConfig, digits_split, train_vae

FULL_EPOCHS = 100
QUICK_EPOCHS = 2
GRID_GREY = 0.35  # the colour of the lines between images, on the 0 (white) .. 1 (black) scale

# Paul Tol's "muted" palette (colour-blind safe) plus his pale grey: one colour per digit class.
DIGIT_COLOURS = ["#332288", "#88CCEE", "#44AA99", "#117733", "#999933",
                 "#DDCC77", "#CC6677", "#882255", "#AA4499", "#BBBBBB"]


def config(latent_dim, quick):
    epochs = QUICK_EPOCHS if quick else FULL_EPOCHS
    return VAEConfig(latent_dim=latent_dim, epochs=epochs, warmup_epochs=min(10, epochs))


@lru_cache(maxsize=None)
def trained_vae(latent_dim, quick, seed):
    torch.set_num_threads(1)
    with torch.enable_grad():  # callers may be inside torch.no_grad()
        model, _ = train_vae(digits_split()[0], config(latent_dim, quick), seed)
    return model.eval()


@lru_cache(maxsize=None)
def trained_autoencoder(latent_dim, quick, seed):
    torch.set_num_threads(1)
    with torch.enable_grad():
        model, _ = train_autoencoder(digits_split()[0], config(latent_dim, quick), seed)
    return model.eval()


@lru_cache(maxsize=None)
def digit_classifier():
    """Multinomial logistic regression fitted to the training digits (about 96% test accuracy)."""
    from sklearn.linear_model import LogisticRegression

    train, _ = digits_split()
    train_labels, _ = split_labels()
    return LogisticRegression(max_iter=3000).fit(train.numpy(), train_labels.numpy())


def classifier_confidence(classifier, images):
    """Average largest class probability: near 1 for clear digits, lower for ambiguous images."""
    return float(classifier.predict_proba(images.numpy()).max(1).mean())


def split_labels(n_train=1500, seed=0):
    """The digit labels of `digits_split`'s (train, test) images, in the same order."""
    images, labels = digits()
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
    train, test = digits_split(n_train, seed)
    assert torch.equal(images[order[:n_train]], train)  # the same shuffle as digits_split
    return labels[order[:n_train]], labels[order[n_train:]]


def tile(images, rows, cols, gap=1):
    """Images (rows*cols, 64) with values in [0, 1] on one canvas, separated by grey lines."""
    images = np.asarray(images).reshape(rows, cols, 8, 8)
    step = 8 + gap
    canvas = np.full((rows * step + gap, cols * step + gap), GRID_GREY)
    for r in range(rows):
        for c in range(cols):
            canvas[gap + r * step: gap + r * step + 8, gap + c * step: gap + c * step + 8] = images[r, c]
    return canvas


def show(ax, canvas):
    """Draw a canvas from `tile`: ink dark on white, no axes frame."""
    ax.imshow(canvas, cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)

"""Data sets the companion uses. Nothing is downloaded: scikit-learn ships the digits."""
import numpy as np
import torch
from sklearn.datasets import load_digits


def digits(dtype=torch.float32):
    """The 1,797 8x8 handwritten digits of scikit-learn, as (images, labels).

    Pixel intensities (integers 0..16) are scaled to [0, 1]; images are flattened to 64
    values, so `images` has shape (1797, 64).
    """
    bunch = load_digits()
    images = torch.as_tensor(bunch.data / 16.0, dtype=dtype)
    labels = torch.as_tensor(bunch.target, dtype=torch.long)
    return images, labels


def gaussian_mixture_2d(n, means, covariances, weights, seed):
    """n points from a 2-D Gaussian mixture, with their component labels (numpy arrays)."""
    rng = np.random.default_rng(seed)
    labels = rng.choice(len(weights), size=n, p=np.asarray(weights) / np.sum(weights))
    points = np.empty((n, 2))
    for k in range(len(weights)):
        idx = labels == k
        points[idx] = rng.multivariate_normal(means[k], covariances[k], size=idx.sum())
    return points, labels

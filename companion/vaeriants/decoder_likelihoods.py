"""Decoder likelihoods p_theta(x|z) discussed in chapter 4's training details.

Every function returns log p(x | decoder output) summed over the last (pixel) dimension, so a
batch (B, D) gives (B,). The Bernoulli likelihood of the digits VAE is
`vaeriants.vae.bernoulli_log_likelihood`.
"""
import math

import torch
from torch.nn import functional as F

LOG_2PI = math.log(2.0 * math.pi)


def gaussian_fixed_variance(x, mean, var):
    """log N(x; mean, var I) = -||x - mean||^2 / (2 var) - (D / 2) log(2 pi var), var a number."""
    d = x.shape[-1]
    return -((x - mean) ** 2).sum(-1) / (2.0 * var) - 0.5 * d * (LOG_2PI + math.log(var))


def best_shared_variance(x, mean):
    """The variance sigma^2 that maximizes sum_i log N(x_i; mean_i, sigma^2 I) over one shared
    sigma^2: the mean squared residual per coordinate."""
    return ((x - mean) ** 2).mean().item()


def binomial(counts, trials, logits):
    """log Binomial(counts; trials, sigmoid(logits)), for integer-valued counts in [0, trials]."""
    trials = torch.as_tensor(trials, dtype=counts.dtype)
    log_choose = torch.lgamma(trials + 1.0) - torch.lgamma(counts + 1.0) - torch.lgamma(trials - counts + 1.0)
    return (log_choose - counts * F.softplus(-logits) - (trials - counts) * F.softplus(logits)).sum(-1)


def discretized_logistic(x, mean, log_scale, levels):
    """log P(x) for x on the grid {0, 1/(levels-1), ..., 1}: the mass that a logistic(mean, scale)
    puts on the bin [x - h, x + h], h = 1 / (2 (levels - 1)), the two end bins extended to
    -inf and +inf (Salimans et al., 2017).

    With a = (x + h - mean)/scale and b = (x - h - mean)/scale, an interior bin has mass
    sigmoid(a) - sigmoid(b) = sigmoid(a) sigmoid(-b) (1 - exp(b - a)), whose logarithm is
    computed without subtracting two nearly equal numbers.
    """
    half = 0.5 / (levels - 1)
    inv_scale = torch.exp(-log_scale)
    a = (x + half - mean) * inv_scale
    b = (x - half - mean) * inv_scale
    interior = F.logsigmoid(a) + F.logsigmoid(-b) + torch.log(-torch.expm1(b - a))
    lowest = F.logsigmoid(a)  # P(X <= h): the first bin reaches down to -inf
    highest = F.logsigmoid(-b)  # P(X >= 1 - h): the last bin reaches up to +inf
    log_p = torch.where(x < half, lowest, torch.where(x > 1.0 - half, highest, interior))
    return log_p.sum(-1)


def discretized_logistic_naive(x, mean, log_scale, levels):
    """The same mass as `discretized_logistic`, computed as log(sigmoid(a) - sigmoid(b)):
    correct in exact arithmetic, but it underflows to log(0) far from the mean."""
    half = 0.5 / (levels - 1)
    scale = log_scale.exp()
    upper = torch.where(x > 1.0 - half, torch.ones_like(x), torch.sigmoid((x + half - mean) / scale))
    lower = torch.where(x < half, torch.zeros_like(x), torch.sigmoid((x - half - mean) / scale))
    return torch.log(upper - lower).sum(-1)

"""Densities and divergences that recur across chapters, in closed form.

Functions take torch tensors and reduce over the last dimension (the event dimension), so
a batch of shape (B, d) gives results of shape (B,).
"""
import math

import torch

LOG_2PI = math.log(2.0 * math.pi)


def log_normal_diag(x, mean, logvar):
    """log N(x; mean, diag(exp(logvar))), summed over the last dimension."""
    return -0.5 * (LOG_2PI + logvar + (x - mean) ** 2 / logvar.exp()).sum(-1)


def log_standard_normal(x):
    """log N(x; 0, I), summed over the last dimension."""
    return -0.5 * (LOG_2PI + x**2).sum(-1)


def log_bernoulli(x, logits):
    """log Bern(x; sigmoid(logits)), summed over the last dimension.

    Written with softplus so that large |logits| neither overflow nor lose precision:
    log sigmoid(l) = -softplus(-l) and log(1 - sigmoid(l)) = -softplus(l).
    """
    return -(x * torch.nn.functional.softplus(-logits) + (1 - x) * torch.nn.functional.softplus(logits)).sum(-1)


def kl_diag_normal_standard_normal(mean, logvar):
    """KL(N(mean, diag(exp(logvar))) || N(0, I)) = 1/2 sum(var + mean^2 - 1 - logvar)."""
    return 0.5 * (logvar.exp() + mean**2 - 1.0 - logvar).sum(-1)


def kl_diag_normals(mean_q, logvar_q, mean_p, logvar_p):
    """KL(N(mean_q, diag var_q) || N(mean_p, diag var_p)), summed over the last dimension."""
    var_ratio = (logvar_q - logvar_p).exp()
    return 0.5 * (var_ratio + (mean_q - mean_p) ** 2 / logvar_p.exp() - 1.0 - (logvar_q - logvar_p)).sum(-1)


def kl_full_normals(mean_q, cov_q, mean_p, cov_p):
    """KL(N(mean_q, cov_q) || N(mean_p, cov_p)) for full covariance matrices.

    1/2 [ tr(cov_p^{-1} cov_q) + (mean_p - mean_q)^T cov_p^{-1} (mean_p - mean_q) - d
          + log det cov_p - log det cov_q ]
    """
    d = mean_q.shape[-1]
    chol_p = torch.linalg.cholesky(cov_p)
    diff = (mean_p - mean_q).unsqueeze(-1)
    trace = torch.cholesky_solve(cov_q, chol_p).diagonal(dim1=-2, dim2=-1).sum(-1)
    mahalanobis = (diff * torch.cholesky_solve(diff, chol_p)).sum((-2, -1))
    logdet_p = 2.0 * chol_p.diagonal(dim1=-2, dim2=-1).log().sum(-1)
    logdet_q = torch.linalg.slogdet(cov_q)[1]
    return 0.5 * (trace + mahalanobis - d + logdet_p - logdet_q)


def log_mean_exp(values, dim=0):
    """log(mean(exp(values))) along `dim`, computed stably with logsumexp."""
    return torch.logsumexp(values, dim=dim) - math.log(values.shape[dim])

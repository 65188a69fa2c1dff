"""Chapter 2: the closed-form Gaussian KL divergences of `vaeriants.distributions`.

Each closed form is compared with a Monte Carlo estimate E_q[log q(z) - log p(z)] (tolerance:
four standard errors), with torch.distributions as an independent implementation, and with the
other closed forms in the special cases where they must coincide.
"""
import math

import torch
from torch.distributions import MultivariateNormal, kl_divergence

from vaeriants.distributions import (kl_diag_normal_standard_normal, kl_diag_normals, kl_full_normals,
                                     log_normal_diag)

DTYPE = torch.float64
D = 3


def random_covariance(g):
    a = torch.randn(D, D, generator=g, dtype=DTYPE)
    return a @ a.T + 0.3 * torch.eye(D, dtype=DTYPE)


def monte_carlo_kl(q, p, num_samples=200_000, seed=0):
    """Mean and standard error of log q(z) - log p(z), z ~ q."""
    torch.manual_seed(seed)
    z = q.sample((num_samples,))
    values = q.log_prob(z) - p.log_prob(z)
    return float(values.mean()), float(values.std() / math.sqrt(num_samples))


def test_full_covariance_kl_matches_monte_carlo_and_torch():
    g = torch.Generator().manual_seed(0)
    for _ in range(3):
        mean_q, mean_p = torch.randn(D, generator=g, dtype=DTYPE), torch.randn(D, generator=g, dtype=DTYPE)
        cov_q, cov_p = random_covariance(g), random_covariance(g)
        closed = float(kl_full_normals(mean_q, cov_q, mean_p, cov_p))
        q, p = MultivariateNormal(mean_q, cov_q), MultivariateNormal(mean_p, cov_p)
        estimate, se = monte_carlo_kl(q, p)
        assert abs(closed - estimate) < 4 * se
        assert abs(closed - float(kl_divergence(q, p))) < 1e-10


def test_diagonal_kl_matches_monte_carlo_and_the_full_formula():
    g = torch.Generator().manual_seed(1)
    mean_q, mean_p = torch.randn(D, generator=g, dtype=DTYPE), torch.randn(D, generator=g, dtype=DTYPE)
    logvar_q, logvar_p = torch.randn(D, generator=g, dtype=DTYPE), torch.randn(D, generator=g, dtype=DTYPE)
    closed = float(kl_diag_normals(mean_q, logvar_q, mean_p, logvar_p))
    full = float(kl_full_normals(mean_q, torch.diag(logvar_q.exp()), mean_p, torch.diag(logvar_p.exp())))
    assert abs(closed - full) < 1e-12
    torch.manual_seed(2)
    z = mean_q + (0.5 * logvar_q).exp() * torch.randn(200_000, D, dtype=DTYPE)  # (S, D)
    values = log_normal_diag(z, mean_q, logvar_q) - log_normal_diag(z, mean_p, logvar_p)
    assert abs(closed - float(values.mean())) < 4 * float(values.std()) / math.sqrt(len(values))


def test_kl_to_standard_normal_is_the_special_case():
    g = torch.Generator().manual_seed(3)
    mean, logvar = torch.randn(5, D, generator=g, dtype=DTYPE), torch.randn(5, D, generator=g, dtype=DTYPE)
    zeros = torch.zeros_like(mean)
    special = kl_diag_normal_standard_normal(mean, logvar)  # (5,)
    general = kl_diag_normals(mean, logvar, zeros, zeros)
    assert torch.allclose(special, general, atol=1e-12)
    # The per-dimension form 1/2 (sigma^2 + mu^2 - 1 - log sigma^2) (eq:2-kl-standard), by hand.
    by_hand = 0.5 * (logvar.exp() + mean**2 - 1.0 - logvar).sum(-1)
    assert torch.allclose(special, by_hand, atol=1e-12)


def test_full_covariance_q_to_standard_normal():
    # 1/2 (tr Sigma + mu^T mu - d - log det Sigma), with log det Sigma = 2 sum log L_jj.
    g = torch.Generator().manual_seed(4)
    mean, cov = torch.randn(D, generator=g, dtype=DTYPE), random_covariance(g)
    chol = torch.linalg.cholesky(cov)
    by_hand = 0.5 * (torch.trace(cov) + mean @ mean - D - 2.0 * torch.log(torch.diagonal(chol)).sum())
    general = kl_full_normals(mean, cov, torch.zeros(D, dtype=DTYPE), torch.eye(D, dtype=DTYPE))
    assert abs(float(by_hand - general)) < 1e-12


def test_kl_is_nonnegative_and_zero_only_for_equal_gaussians():
    g = torch.Generator().manual_seed(5)
    mean, cov = torch.randn(D, generator=g, dtype=DTYPE), random_covariance(g)
    assert abs(float(kl_full_normals(mean, cov, mean, cov))) < 1e-12
    for _ in range(20):
        other_mean, other_cov = torch.randn(D, generator=g, dtype=DTYPE), random_covariance(g)
        assert float(kl_full_normals(mean, cov, other_mean, other_cov)) > 0.0

"""Chapter 2: amortized inference, the approximation gap and the amortization gap."""
import math

import torch

from vaeriants.amortized import (DTYPE, best_gaussian_per_datapoint, gauss_hermite_elbo, inference_gaps,
                                 linear_decoder, log_evidence_grid, sgvb_estimates, tanh_decoder, train_encoder)
from vaeriants.distributions import log_mean_exp

TANH = tanh_decoder(data_dim=4, hidden=16, noise_std=0.3, scale=1.5, seed=0)
W = torch.tensor([[1.0, 0.5], [0.3, -1.2], [0.8, 0.9]], dtype=DTYPE)
LINEAR = linear_decoder(W, noise_std=0.5)


def points(decoder, num, seed):
    return decoder.sample(num, torch.Generator().manual_seed(seed))


def test_grid_evidence_is_exact_on_the_linear_gaussian_model():
    x = points(LINEAR, 20, seed=0)
    cov = W @ W.T + 0.25 * torch.eye(3, dtype=DTYPE)  # x ~ N(0, W W^T + sigma^2 I)
    exact = torch.distributions.MultivariateNormal(torch.zeros(3, dtype=DTYPE), cov).log_prob(x)
    assert torch.allclose(log_evidence_grid(LINEAR, x), exact, atol=1e-9)


def test_grid_evidence_agrees_with_importance_sampling_on_the_tanh_model():
    x = points(TANH, 5, seed=1)
    best_mean, best_log_std, _ = best_gaussian_per_datapoint(TANH, x, order=12, max_iter=50)
    g = torch.Generator().manual_seed(2)
    # Proposal: half the per-point Gaussian, half the prior. The prior half keeps every weight
    # below 2 max_z p(x | z), so the estimator's variance is finite even if q misses a mode.
    num = 200_000
    eps = torch.randn(5, num, 2, generator=g, dtype=DTYPE)
    from_q = (torch.rand(5, num, 1, generator=g, dtype=DTYPE) < 0.5)
    z = torch.where(from_q, best_mean.unsqueeze(1) + best_log_std.exp().unsqueeze(1) * eps, eps)
    log_prior = (-0.5 * (math.log(2 * math.pi) + z**2)).sum(-1)  # (B, S)
    log_q = (-0.5 * (math.log(2 * math.pi) + ((z - best_mean.unsqueeze(1)) / best_log_std.exp().unsqueeze(1)) ** 2)
             ).sum(-1) - best_log_std.sum(-1, keepdim=True)
    log_proposal = torch.logaddexp(log_q, log_prior) - math.log(2.0)
    log_w = TANH.log_likelihood(x, z) + log_prior - log_proposal  # (B, S)
    grid = log_evidence_grid(TANH, x)
    # Compare p(x) itself (the quantity the weights estimate without bias) within four standard errors.
    w = torch.exp(log_w - grid.unsqueeze(1))
    assert torch.all((w.mean(1) - 1.0).abs() < 4 * w.std(1) / math.sqrt(num))
    assert torch.allclose(log_mean_exp(log_w, dim=1), grid, atol=0.02)


def test_gauss_hermite_elbo_matches_both_sgvb_estimators():
    x = points(TANH, 4, seed=3)
    g = torch.Generator().manual_seed(4)
    mean = 0.5 * torch.randn(4, 2, generator=g, dtype=DTYPE)
    log_std = -1.0 + 0.3 * torch.randn(4, 2, generator=g, dtype=DTYPE)
    quadrature = gauss_hermite_elbo(TANH, x, mean, log_std, order=30)
    for analytic_kl in (False, True):
        estimates = sgvb_estimates(TANH.log_likelihood, x, mean, log_std, 100_000, g, analytic_kl)  # (B, S)
        standard_error = estimates.std(1) / math.sqrt(estimates.shape[1])
        assert torch.all((estimates.mean(1) - quadrature).abs() < 4 * standard_error + 1e-4)


def test_linear_decoder_approximation_gap_is_the_closed_form_for_every_x():
    # The best diagonal Gaussian to N(m, Lambda^{-1}) has the posterior mean and variances 1/Lambda_jj;
    # its gap is 1/2 (sum_j log Lambda_jj - log det Lambda), whatever x is.
    x = points(LINEAR, 8, seed=5)
    precision = torch.eye(2, dtype=DTYPE) + W.T @ W / 0.25
    closed_form = 0.5 * (torch.log(torch.diagonal(precision)).sum() - torch.logdet(precision))
    mean, log_std, best = best_gaussian_per_datapoint(LINEAR, x, order=8)
    gaps = log_evidence_grid(LINEAR, x) - best
    assert torch.allclose(gaps, closed_form.expand(8), atol=1e-7)
    posterior_mean = torch.linalg.solve(precision, W.T @ x.T / 0.25).T  # (B, 2)
    assert torch.allclose(mean, posterior_mean, atol=1e-6)
    assert torch.allclose(torch.exp(-2 * log_std), torch.diagonal(precision).expand(8, 2), rtol=1e-6)


def test_gaps_are_ordered_point_by_point():
    # log p(x) >= best ELBO in the family >= ELBO of the amortized encoder, for every data point.
    x = points(TANH, 12, seed=6)
    best = best_gaussian_per_datapoint(TANH, x, order=12, max_iter=100)
    encoder = train_encoder(TANH, x, hidden=8, steps=200, seed=0)
    gaps = inference_gaps(TANH, x, encoder, best, order=12)
    assert torch.all(gaps["approximation_gap"] > 0)
    assert torch.all(gaps["amortization_gap"] > -1e-6)
    total = gaps["log_evidence"] - gaps["amortized_elbo"]
    assert torch.allclose(total, gaps["approximation_gap"] + gaps["amortization_gap"])

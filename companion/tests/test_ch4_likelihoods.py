"""Chapter 4, training details: what each decoder likelihood means, and its numerics."""
import math

import pytest
import torch

from vaeriants import decoder_likelihoods as lik
from vaeriants.data import digits
from vaeriants.vae import bernoulli_log_likelihood, kl_to_standard_normal


def random_batch(seed, b=16, d=64, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(b, d, generator=g, dtype=dtype)
    mean = torch.rand(b, d, generator=g, dtype=dtype)
    kl = 10.0 * torch.rand(b, generator=g, dtype=dtype)  # stands for any KL term
    return x, mean, kl


@pytest.mark.parametrize("var", [0.01, 0.1, 1.0])
def test_fixed_variance_gaussian_elbo_is_scaled_mse_plus_beta_kl(var):
    # -2 var * ELBO = ||x - mean||^2 + (2 var) * KL + constant: a "beta-VAE" with beta = 2 var.
    x, mean, kl = random_batch(0)
    elbo = lik.gaussian_fixed_variance(x, mean, var) - kl
    mse_loss = ((x - mean) ** 2).sum(-1) + 2.0 * var * kl
    offset = -2.0 * var * elbo - mse_loss  # the same number for every image
    assert torch.allclose(offset, torch.full_like(offset, 64 * var * math.log(2 * math.pi * var)), atol=1e-10)


def test_pixel_mean_mse_plus_kl_is_a_gaussian_with_variance_d_over_2():
    # F.mse_loss(reduction="mean") + KL  ==  -ELBO / 1 with sigma^2 = D / 2, up to a constant.
    x, mean, kl = random_batch(1)
    d = x.shape[1]
    loss = ((x - mean) ** 2).mean(-1) + kl
    neg_elbo = -(lik.gaussian_fixed_variance(x, mean, d / 2.0) - kl)
    offset = neg_elbo - loss
    assert torch.allclose(offset, offset[0].expand_as(offset), atol=1e-10)


def test_best_shared_variance_is_the_mean_squared_residual():
    x, mean, _ = random_batch(2)
    best = lik.best_shared_variance(x, mean)
    value = lik.gaussian_fixed_variance(x, mean, best).sum()
    for factor in [0.9, 0.99, 1.01, 1.1]:
        assert lik.gaussian_fixed_variance(x, mean, best * factor).sum() < value
    # The profiled log-likelihood per pixel is -1/2 log(2 pi e sigma^2).
    per_pixel = value.item() / x.numel()
    assert per_pixel == pytest.approx(-0.5 * (math.log(2 * math.pi * best) + 1.0), abs=1e-12)


def test_learned_variance_likelihood_is_unbounded_on_the_digits():
    # Three pixels are 0 in all 1,797 digits: a decoder that predicts mean 0 there can drive the
    # variance to 0 and the log-likelihood to +infinity.
    images, _ = digits(torch.float64)
    constant = (images.var(0) == 0).nonzero().flatten().tolist()
    assert constant == [0, 32, 39]
    zeros = images[:, constant]  # (1797, 3)
    values = [lik.gaussian_fixed_variance(zeros, torch.zeros_like(zeros), 10.0**-e).mean().item() for e in range(2, 12, 2)]
    steps = [b - a for a, b in zip(values, values[1:])]  # each 100-fold smaller variance ...
    assert steps == pytest.approx([1.5 * math.log(100.0)] * 4)  # ... adds (3/2) log 100 nats, forever


def test_bernoulli_on_grey_levels_is_a_binomial_with_beta_16():
    # Digits pixels are counts k in 0..16 scaled to x = k / 16; for any logits,
    # log Binomial(k; 16, p) = log C(16, k) + 16 * [x log p + (1 - x) log(1 - p)].
    images, _ = digits(torch.float64)
    x = images[:32]
    logits = torch.randn(x.shape, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    counts = torch.round(16 * x)
    log_choose = (torch.lgamma(torch.tensor(17.0, dtype=torch.float64)) - torch.lgamma(counts + 1)
                  - torch.lgamma(17 - counts)).sum(-1)
    assert torch.allclose(lik.binomial(counts, 16.0, logits), log_choose + 16 * bernoulli_log_likelihood(x, logits))


def test_stable_bernoulli_stays_finite_where_the_naive_form_fails():
    x = torch.tensor([[1.0, 0.0]])
    logits = torch.tensor([[-120.0, 120.0]])  # confident and wrong, in float32
    naive = (x * torch.log(torch.sigmoid(logits)) + (1 - x) * torch.log(1 - torch.sigmoid(logits))).sum(-1)
    assert torch.isinf(naive).all()
    assert bernoulli_log_likelihood(x, logits).item() == pytest.approx(-240.0)


def test_discretized_logistic_is_a_distribution_over_the_17_levels():
    levels = torch.arange(17, dtype=torch.float64)[:, None] / 16  # every possible pixel value
    for mean, log_scale in [(0.3, -3.0), (0.0, -1.0), (1.2, -5.0), (0.5, 0.5)]:
        m = torch.full_like(levels, mean)
        s = torch.full_like(levels, log_scale)
        total = lik.discretized_logistic(levels, m, s, 17).exp().sum().item()
        assert total == pytest.approx(1.0, abs=1e-12)


def test_discretized_logistic_stable_form_matches_and_survives_float32():
    g = torch.Generator().manual_seed(4)
    x = torch.randint(0, 17, (8, 64), generator=g).double() / 16
    mean = torch.rand(8, 64, generator=g, dtype=torch.float64)
    log_scale = -2 + 2 * torch.rand(8, 64, generator=g, dtype=torch.float64)  # scales 0.14 to 1
    assert torch.allclose(lik.discretized_logistic(x, mean, log_scale, 17),
                          lik.discretized_logistic_naive(x, mean, log_scale, 17), atol=1e-9)
    # Far in the tail (a pixel 25 scales from the mean) the naive float32 form gives log 0.
    x32, mean32, scale32 = torch.tensor([[0.5]]), torch.tensor([[0.0]]), torch.tensor([[math.log(0.02)]])
    assert torch.isinf(lik.discretized_logistic_naive(x32, mean32, scale32, 17)).all()
    stable = lik.discretized_logistic(x32, mean32, scale32, 17).item()
    exact = lik.discretized_logistic(x32.double(), mean32.double(), scale32.double(), 17).item()
    assert math.isfinite(stable) and stable == pytest.approx(exact, rel=1e-5)


def test_kl_of_the_listing_matches_the_shared_closed_form():
    from vaeriants.distributions import kl_diag_normal_standard_normal, log_bernoulli

    g = torch.Generator().manual_seed(5)
    mean, logvar, logits = (torch.randn(4, 6, generator=g) for _ in range(3))
    x = torch.rand(4, 6, generator=g)
    assert torch.allclose(kl_to_standard_normal(mean, logvar), kl_diag_normal_standard_normal(mean, logvar))
    assert torch.allclose(bernoulli_log_likelihood(x, logits), log_bernoulli(x, logits))


def test_kl_gradient_in_the_log_variance_is_bounded_and_never_divides_by_sigma():
    # kappa = 1/2 (e^l + mu^2 - 1 - l) has d kappa / d l = (e^l - 1) / 2, which lies in (-1/2, 0)
    # for every negative l; through sigma itself, d(-log sigma^2) / d sigma = -2 / sigma.
    logvar = torch.linspace(-30.0, 5.0, 36, dtype=torch.float64, requires_grad=True)
    mean = torch.zeros(1, 36, dtype=torch.float64)
    (grad,) = torch.autograd.grad(kl_to_standard_normal(mean, logvar[None]).sum(), logvar)
    assert torch.allclose(grad, 0.5 * (logvar.detach().exp() - 1.0), atol=1e-12)
    assert (grad[logvar < 0].abs() <= 0.5).all()
    sigma = torch.tensor([1e-1, 1e-3, 1e-6], dtype=torch.float64, requires_grad=True)
    (grad_sigma,) = torch.autograd.grad(kl_to_standard_normal(torch.zeros(1, 3, dtype=torch.float64),
                                                              (sigma**2).log()[None]).sum(), sigma)
    assert torch.allclose(grad_sigma, sigma.detach() - 1.0 / sigma.detach(), rtol=1e-9)  # sigma - 1/sigma
    # The other tail: exp(l) overflows single precision just above l = 88.
    assert torch.isfinite(torch.tensor(88.0).exp()) and torch.isinf(torch.tensor(89.0).exp())


def test_bernoulli_formula_on_grey_levels_is_not_normalized():
    # int_0^1 exp(b(x; l)) dx < 1 for every logit l, at most 1/2, reached at l = 0: the Bernoulli
    # "likelihood" of a grey level is not a density on [0, 1] (Loaiza-Ganem and Cunningham).
    grid = torch.linspace(0.0, 1.0, 20001, dtype=torch.float64)[:, None]  # (G, 1)
    totals = []
    for logit in [-8.0, -2.0, -0.5, 0.0, 0.5, 2.0, 8.0]:
        density = bernoulli_log_likelihood(grid, torch.full_like(grid, logit)).exp()
        totals.append(torch.trapezoid(density, grid[:, 0]).item())
    assert max(totals) == pytest.approx(0.5, abs=1e-9) and totals[3] == max(totals)
    assert all(t < 0.5 for i, t in enumerate(totals) if i != 3)

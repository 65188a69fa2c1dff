"""Chapter 2: score-function and reparameterization gradients of the ELBO, and black-box VI.

On the conjugate Gaussian model of the worked example the ELBO of q = N(m, s^2) is a closed
form, so its exact gradient (by autograd) is the target both Monte Carlo estimators must hit on
average. The estimators are chapter 8's (`vaeriants.gradients`), run on chapter 2's model.
"""
import math

import torch

from vaeriants.figures.ch2_elbo_gap import worked_example
from vaeriants.gradients import elbo_pathwise, elbo_score_function, score_of_q
from vaeriants.vi import DTYPE, black_box_vi, robbins_monro_steps

MODEL = worked_example()
MEAN = torch.tensor([0.3], dtype=DTYPE)
LOG_STD = torch.tensor([-0.5], dtype=DTYPE)


def exact_gradient(mean, log_std):
    mean = mean.clone().requires_grad_(True)
    log_std = log_std.clone().requires_grad_(True)
    MODEL.elbo(mean[0], torch.exp(2.0 * log_std)[0]).backward()
    return torch.cat([mean.grad, log_std.grad])


def per_sample(estimator, num_samples=100_000, seed=0):
    g = torch.Generator().manual_seed(seed)
    return estimator(MODEL, MEAN, LOG_STD, num_samples, g)  # (S, 2): d/d mean, d/d log_std


def test_both_estimators_are_unbiased_and_reparameterization_has_lower_variance():
    exact = exact_gradient(MEAN, LOG_STD)
    score, reparam = per_sample(elbo_score_function), per_sample(elbo_pathwise)
    for samples in (score, reparam):
        standard_error = samples.std(0) / math.sqrt(samples.shape[0])
        assert torch.all((samples.mean(0) - exact).abs() < 4 * standard_error)
    # The claim of the text: same expectation, very different spread (here more than tenfold).
    assert torch.all(reparam.var(0) * 10 < score.var(0))


def test_the_score_has_zero_mean():
    # E_q[grad log q(z)] = grad of the integral of q = 0: why a constant baseline costs no bias.
    g = torch.Generator().manual_seed(1)
    n = 200_000
    z = MEAN + LOG_STD.exp() * torch.randn(n, 1, generator=g, dtype=DTYPE)  # (n, 1) draws from q
    score = score_of_q(MEAN, LOG_STD, z).mean(0)  # (2,): d/d mean, d/d log_std
    assert abs(float(score[0])) < 4 * math.exp(0.5) / math.sqrt(n)  # sd of (z - m)/s^2 is 1/s
    assert abs(float(score[1])) < 4 * math.sqrt(2.0) / math.sqrt(n)  # sd of eps^2 - 1 is sqrt 2


def test_variances_of_the_two_estimators_for_z_squared():
    # d/dmu E_{N(mu, sigma^2)}[z^2] = 2 mu. Reparameterization: 2 (mu + sigma eps), variance 4 sigma^2.
    # Score function: z^2 (z - mu) / sigma^2, variance mu^4/sigma^2 + 14 mu^2 + 15 sigma^2.
    g = torch.Generator().manual_seed(2)
    for mu, sigma in [(0.0, 1.0), (1.0, 0.5), (2.0, 1.5)]:
        eps = torch.randn(2_000_000, generator=g, dtype=DTYPE)
        z = mu + sigma * eps
        reparam = 2.0 * z
        score = z**2 * (z - mu) / sigma**2
        assert abs(float(reparam.mean()) - 2 * mu) < 4 * 2 * sigma / math.sqrt(len(z))
        assert abs(float(score.mean()) - 2 * mu) < 4 * float(score.std()) / math.sqrt(len(z))
        assert abs(float(reparam.var()) / (4 * sigma**2) - 1) < 0.01
        assert abs(float(score.var()) / (mu**4 / sigma**2 + 14 * mu**2 + 15 * sigma**2) - 1) < 0.05


def test_black_box_vi_with_robbins_monro_steps_finds_the_posterior():
    post_mean, post_var = MODEL.posterior()
    for estimator in (elbo_score_function, elbo_pathwise):
        steps = robbins_monro_steps(1500, delay=10.0, forget=0.7, scale=0.05)
        mean, log_std = black_box_vi(MODEL, 1, estimator, 1500, 20, torch.Generator().manual_seed(3), steps=steps)
        # The family contains the posterior, so the stochastic optimum is the posterior itself.
        assert float(MODEL.kl_to_posterior(mean[0], torch.exp(2 * log_std)[0])) < 0.01
        assert abs(float(mean[0] - post_mean)) < 0.1 and abs(float(torch.exp(2 * log_std)[0] / post_var) - 1) < 0.2

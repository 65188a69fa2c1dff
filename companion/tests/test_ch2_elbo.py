"""Chapter 2, the evidence lower bound: its gap, its forms and the SGVB estimators.

All on the conjugate Gaussian model z ~ N(0, 1), x_i | z ~ N(z, 1) of the worked example,
where the posterior and log p(x) are closed forms.
"""
import math

import pytest
import torch

from vaeriants.amortized import sgvb_estimates
from vaeriants.figures.ch2_elbo_gap import worked_example
from vaeriants.vi import DTYPE

MODEL = worked_example()


def t(v):
    return torch.tensor(v, dtype=DTYPE)


def random_gaussians(num, seed):
    g = torch.Generator().manual_seed(seed)
    means = 3.0 * torch.randn(num, generator=g, dtype=DTYPE)
    variances = torch.exp(2.0 * torch.randn(num, generator=g, dtype=DTYPE))
    return zip(means, variances)


def test_log_evidence_matches_numerical_integration():
    # An independent check of the closed form that every other test relies on.
    z = torch.linspace(-12.0, 12.0, 240_001, dtype=DTYPE).unsqueeze(-1)
    numerical = torch.logsumexp(MODEL.log_joint(z), 0) + math.log(24.0 / 240_000)
    assert float(numerical) == pytest.approx(float(MODEL.log_evidence()), abs=1e-9)


def test_elbo_plus_posterior_kl_is_log_evidence():
    # eq:2-elbo-gap: log p(x) = L(q) + KL(q || p(z | x)) for every q, not only the optimum.
    log_px = float(MODEL.log_evidence())
    for m, s2 in random_gaussians(50, seed=0):
        assert float(MODEL.elbo(m, s2) + MODEL.kl_to_posterior(m, s2)) == pytest.approx(log_px, abs=1e-10)


def test_the_two_forms_of_the_elbo_agree():
    # Expected log-likelihood minus prior KL = expected log joint plus entropy.
    for m, s2 in random_gaussians(20, seed=1):
        assert float(MODEL.elbo(m, s2)) == pytest.approx(float(MODEL.elbo_joint_plus_entropy(m, s2)), abs=1e-10)


def test_elbo_is_a_lower_bound_that_is_tight_only_at_the_posterior():
    log_px = float(MODEL.log_evidence())
    post_mean, post_var = MODEL.posterior()
    assert float(MODEL.elbo(post_mean, post_var)) == pytest.approx(log_px, abs=1e-12)
    for m, s2 in random_gaussians(50, seed=2):
        assert float(MODEL.elbo(m, s2)) < log_px


def test_worked_example_numbers_in_the_text():
    post_mean, post_var = MODEL.posterior()
    assert float(post_mean) == pytest.approx(31 / 30) and float(post_var) == pytest.approx(1 / 6)
    assert round(float(MODEL.log_evidence()), 3) == -6.977
    # q = prior N(0, 1): the KL to the prior vanishes and the whole gap is KL(prior || posterior).
    assert round(float(MODEL.elbo(t(0.0), 1.0)), 3) == -11.785
    assert round(float(MODEL.kl_to_posterior(t(0.0), 1.0)), 3) == 4.807
    # q = the posterior: expected log-likelihood and prior KL of the optimum.
    assert round(float(MODEL.expected_log_likelihood(post_mean, post_var)), 3) == -5.964
    assert round(float(MODEL.kl_to_prior(post_mean, post_var)), 3) == 1.013
    # q = N(posterior mean, 1): a right mean with a too-wide spread.
    assert round(float(MODEL.elbo(post_mean, 1.0)), 3) == -8.581
    assert round(float(MODEL.kl_to_posterior(post_mean, 1.0)), 3) == 1.604


def sgvb(mean, var, analytic_kl, num_samples=200_000, seed=0):
    mean = t([[mean]])
    log_std = t([[0.5 * math.log(var)]])
    log_lik = lambda x, z: MODEL.log_likelihood(z)  # noqa: E731  (x is fixed inside the model)
    g = torch.Generator().manual_seed(seed)
    return sgvb_estimates(log_lik, None, mean, log_std, num_samples, g, analytic_kl).reshape(-1)


@pytest.mark.parametrize("analytic_kl", [False, True])
@pytest.mark.parametrize("mean,var", [(0.0, 1.0), (0.5, 0.5), (2.0, 0.05)])
def test_sgvb_estimators_are_unbiased(mean, var, analytic_kl):
    estimates = sgvb(mean, var, analytic_kl)
    standard_error = estimates.std() / math.sqrt(len(estimates))
    assert abs(float(estimates.mean() - MODEL.elbo(t(mean), var))) < 4 * float(standard_error)


def test_neither_sgvb_estimator_dominates_in_variance():
    post_mean, post_var = (float(v) for v in MODEL.posterior())
    # At the exact posterior log p(x, z) - log q(z) = log p(x) for every z: estimator A is exact.
    assert float(sgvb(post_mean, post_var, analytic_kl=False).var()) < 1e-20
    assert float(sgvb(post_mean, post_var, analytic_kl=True).var()) > 0.1
    # Far from it, the analytic KL removes noise: B has the smaller variance at N(2, 0.05).
    assert float(sgvb(2.0, 0.05, analytic_kl=True).var()) < 0.5 * float(sgvb(2.0, 0.05, analytic_kl=False).var())



def test_sgvb_variances_in_the_text_match_their_closed_forms():
    # One sample, noise_std = 1, q = N(m, s2). Estimator B is log p(x | z) - KL, and
    # log p(x | z) = const - n/2 (z - xbar)^2, so Var B = n^2/4 (2 s2^2 + 4 (m - xbar)^2 s2).
    # Estimator A is log p(x) + log p(z | x) - log q(z); with z = m + s eps that is
    # const + eps^2 (1 - s2/v)/2 - (m - mean) s eps / v, so Var A = (1 - s2/v)^2 / 2 + (m - mean)^2 s2 / v^2.
    n, xbar = MODEL.n, float(MODEL.x.mean())
    post_mean, post_var = (float(v) for v in MODEL.posterior())

    def var_b(m, s2):
        return n**2 / 4 * (2 * s2**2 + 4 * (m - xbar) ** 2 * s2)

    def var_a(m, s2):
        return 0.5 * (1 - s2 / post_var) ** 2 + (m - post_mean) ** 2 * s2 / post_var**2

    for m, s2 in [(2.0, 0.05), (0.5, 0.5)]:
        # Sample variances of 200,000 draws: relative standard error below 1% for these laws.
        assert float(sgvb(m, s2, analytic_kl=True).var()) == pytest.approx(var_b(m, s2), rel=0.03)
        assert float(sgvb(m, s2, analytic_kl=False).var()) == pytest.approx(var_a(m, s2), rel=0.03)
    assert float(sgvb(post_mean, post_var, analytic_kl=True).var()) == pytest.approx(var_b(post_mean, post_var), rel=0.03)
    # The numbers of the text.
    assert (round(var_b(2.0, 0.05), 2), round(var_a(2.0, 0.05), 2)) == (0.75, 1.93)
    assert round(var_b(post_mean, post_var), 2) == 0.53 and var_a(post_mean, post_var) == 0.0

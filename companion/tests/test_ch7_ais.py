"""Chapter 7: annealed importance sampling and bidirectional Monte Carlo on the
linear-Gaussian worked example, where log p(x) is exact. Fixed seeds; tolerances are
multiples of the Monte Carlo standard error of the same run."""
import math

import pytest
import torch

from vaeriants.ais import ais_log_weights, bidirectional_bounds, hmc_step, sigmoid_schedule
from vaeriants.distributions import log_mean_exp, log_standard_normal
from vaeriants.evaluation import worked_example

MODEL, X, _ = worked_example()
LOG_EVIDENCE = MODEL.log_marginal(X).item()
STEP, LEAPFROG = 0.15, 5


def forward_ais(num_chains, num_steps, seed):
    generator = torch.Generator().manual_seed(seed)
    z0 = torch.randn(num_chains, 2, generator=generator, dtype=torch.float64)  # ~ prior
    return ais_log_weights(z0, log_standard_normal, lambda z: MODEL.log_joint(X, z),
                           sigmoid_schedule(num_steps), STEP, LEAPFROG, generator)


def test_schedule_runs_from_zero_to_one_and_increases():
    betas = sigmoid_schedule(50)
    assert betas[0] == 0.0 and betas[-1] == 1.0 and len(betas) == 51
    assert (betas[1:] > betas[:-1]).all()


def test_one_step_ais_is_importance_sampling_from_the_prior():
    # With T = 1 there is no transition and log w = log p(x, z0) - log p(z0) = log p(x | z0).
    generator = torch.Generator().manual_seed(0)
    z0 = torch.randn(5, 2, generator=generator, dtype=torch.float64)
    log_w = ais_log_weights(z0, log_standard_normal, lambda z: MODEL.log_joint(X, z),
                            sigmoid_schedule(1), STEP, LEAPFROG, generator)
    assert torch.allclose(log_w, MODEL.log_likelihood(X, z0))


def test_hmc_leaves_its_target_invariant():
    # Start from exact posterior draws; after 50 HMC steps the draws must still have the
    # posterior's mean and covariance (each within a few standard errors).
    generator = torch.Generator().manual_seed(1)
    mean, cov = MODEL.posterior(X)
    z = mean + torch.randn(4000, 2, generator=generator, dtype=torch.float64) @ torch.linalg.cholesky(cov).T
    rates = []
    for _ in range(50):
        z, rate = hmc_step(z, lambda v: MODEL.log_joint(X, v), STEP, LEAPFROG, generator)
        rates.append(rate)
    assert 0.5 < sum(rates) / len(rates) < 1.0  # the chain moves, and is not always rejected
    se_mean = cov.diagonal().sqrt() / math.sqrt(len(z))
    assert ((z.mean(0) - mean).abs() < 4 * se_mean).all()
    assert torch.allclose(torch.cov(z.T), cov, atol=4 * math.sqrt(2.0 / len(z)) * cov.diagonal().max().item())


def test_ais_weights_are_unbiased_for_p_of_x_and_agree_with_the_exact_value():
    log_w = forward_ais(num_chains=2000, num_steps=50, seed=2)
    ratio = (log_w - LOG_EVIDENCE).exp()
    se = ratio.std().item() / math.sqrt(len(ratio))
    assert abs(ratio.mean().item() - 1.0) < 4 * se
    # The log of the estimate: its s.e. is about the relative s.e. of the estimate itself.
    assert log_mean_exp(log_w).item() == pytest.approx(LOG_EVIDENCE, abs=4 * se)
    # Each chain's log w is a stochastic lower bound: its mean lies below log p(x).
    assert log_w.mean().item() < LOG_EVIDENCE


def test_more_intermediate_distributions_tighten_the_per_chain_bound():
    gaps = [LOG_EVIDENCE - forward_ais(num_chains=400, num_steps=t, seed=3).mean().item() for t in [1, 10, 100]]
    assert gaps[0] > gaps[1] > gaps[2] > 0
    assert gaps[2] < 0.25  # from about 13 nats for this x with prior sampling at T = 1


def test_bidirectional_monte_carlo_sandwiches_log_p_on_simulated_data():
    generator = torch.Generator().manual_seed(4)
    z_true, x = MODEL.sample(8, generator)
    x_rep, z_rep = x.repeat_interleave(32, 0), z_true.repeat_interleave(32, 0)
    log_evidence = MODEL.log_marginal(x_rep)
    widths = []
    for num_steps in [10, 200]:
        z0 = torch.randn(z_rep.shape, generator=generator, dtype=torch.float64)
        lower, upper = bidirectional_bounds(z0, z_rep, log_standard_normal, lambda z: MODEL.log_joint(x_rep, z),
                                            sigmoid_schedule(num_steps), STEP, LEAPFROG, generator)
        lo, up = lower - log_evidence, upper - log_evidence  # per chain, relative to the truth
        n = math.sqrt(len(lo))
        assert lo.mean().item() < 4 * lo.std().item() / n  # lower bound, within error
        assert up.mean().item() > -4 * up.std().item() / n  # upper bound, within error
        widths.append((up - lo).mean().item())
    assert widths[1] < widths[0] / 5  # the sandwich closes as T grows
    assert widths[1] < 0.2

"""Chapter 4, the joint-distribution view of the ELBO, checked exactly on enumerable models."""
from dataclasses import replace

import pytest
import torch

from vaeriants import joint_view as jv

MODELS = [jv.random_model(n_x=6, n_z=3, seed=s, concentration=c) for s, c in [(0, 1.0), (1, 0.3), (2, 3.0)]]


@pytest.mark.parametrize("m", MODELS)
def test_joint_kl_is_minus_average_elbo_minus_data_entropy(m):
    average_elbo = (m.log_data.exp() * jv.elbo(m)).sum()
    assert jv.joint_kl(m).item() == pytest.approx((-average_elbo - jv.data_entropy(m)).item(), abs=1e-12)


@pytest.mark.parametrize("m", MODELS)
def test_joint_kl_splits_into_marginal_kl_and_posterior_gap(m):
    gap = (m.log_data.exp() * jv.posterior_kl(m)).sum()
    assert jv.joint_kl(m).item() == pytest.approx((jv.marginal_kl(m) + gap).item(), abs=1e-12)
    assert jv.joint_kl(m) >= jv.marginal_kl(m)


@pytest.mark.parametrize("m", MODELS)
def test_joint_kl_splits_on_the_latent_side(m):
    prior_kl, conditional_kl = jv.latent_side_kls(m)
    assert jv.joint_kl(m).item() == pytest.approx((prior_kl + conditional_kl).item(), abs=1e-12)
    assert prior_kl >= 0 and conditional_kl >= 0


@pytest.mark.parametrize("m", MODELS)
def test_average_kl_term_is_information_plus_prior_mismatch(m):
    average_kl, information, prior_kl = jv.average_rate_split(m)
    assert average_kl.item() == pytest.approx((information + prior_kl).item(), abs=1e-12)
    assert information <= -(m.log_data.exp() * m.log_data).sum() + 1e-12  # I(x; z) <= H(p_D)


def test_exact_posterior_closes_the_gap():
    m = MODELS[0]
    exact = replace(m, log_q=jv.log_joint(m) - jv.log_marginal(m)[:, None])
    assert torch.allclose(jv.elbo(exact), jv.log_marginal(exact), atol=1e-12)
    assert jv.joint_kl(exact).item() == pytest.approx(jv.marginal_kl(exact).item(), abs=1e-12)


def test_sleep_phase_minimizes_the_reverse_posterior_kl():
    # E_p[log q(z|x)] + E_{p(x)} KL(p(z|x) || q(z|x)) does not depend on q: maximizing the first
    # is minimizing the second, whose arguments are in the opposite order to the ELBO's.
    objectives, totals = [], []
    for seed in range(4):
        m = replace(MODELS[0], log_q=jv.random_model(6, 3, seed=10 + seed).log_q)
        objectives.append(jv.sleep_objective(m).item())
        totals.append(objectives[-1] + jv.model_posterior_kl(m).item())
    assert max(totals) - min(totals) < 1e-12
    assert max(objectives) - min(objectives) > 1e-2  # while the objective itself does move

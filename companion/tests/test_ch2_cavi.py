"""Chapter 2: mean-field coordinate ascent (CAVI) on the Normal-Gamma worked example and a mixture."""
import math

import pytest
import torch

from vaeriants.figures.ch2_cavi_normal_gamma import initial_q, worked_example
from vaeriants.vi import (DTYPE, GaussianMixture, MeanField, cavi_mixture, cavi_normal_gamma, initial_means,
                          mixture_data, normal_gamma_elbo, normal_gamma_fixed_point)

MODEL = worked_example()


def t(v):
    return torch.tensor(v, dtype=DTYPE)


def random_starts(num, seed):
    g = torch.Generator().manual_seed(seed)
    for _ in range(num):
        m, log_v, log_a, log_b = (2.0 * torch.randn((), generator=g, dtype=DTYPE) for _ in range(4))
        yield MeanField(m, log_v.exp(), log_a.exp() + 0.1, log_b.exp())


def test_normal_gamma_evidence_matches_numerical_integration():
    mu = torch.linspace(-4.0, 6.0, 2001, dtype=DTYPE)
    tau = torch.linspace(1e-6, 12.0, 2400, dtype=DTYPE)
    mm, tt = torch.meshgrid(mu, tau, indexing="ij")
    cell = float((mu[1] - mu[0]) * (tau[1] - tau[0]))
    numerical = torch.logsumexp(MODEL.log_joint(mm, tt).reshape(-1), 0) + math.log(cell)
    assert float(numerical) == pytest.approx(float(MODEL.log_evidence()), abs=1e-5)


def test_cavi_never_decreases_the_elbo():
    for q0 in random_starts(20, seed=0):
        elbos = torch.stack([normal_gamma_elbo(MODEL, q) for q in cavi_normal_gamma(MODEL, q0, 8)])
        assert torch.all(elbos[1:] - elbos[:-1] >= -1e-12)  # every half-step, not only every sweep
        assert torch.all(elbos < MODEL.log_evidence())


def test_cavi_reaches_the_closed_form_fixed_point_at_the_predicted_rate():
    fixed = normal_gamma_fixed_point(MODEL)
    _, _, a_n, b_n = MODEL.exact_posterior()
    history = cavi_normal_gamma(MODEL, initial_q(), 10)
    errors = torch.stack([q.a / q.b - a_n / b_n for q in history[2::2]])  # E_q tau after each sweep
    assert abs(float(errors[-1])) < 1e-9
    # Near the fixed point each sweep multiplies the error in E_q[tau] by 1 / (2 a_N + 1) = 1/9.
    ratios = errors[2:6] / errors[1:5]
    assert torch.allclose(ratios, t(1.0 / (2 * a_n + 1)), rtol=0.01)
    # The ELBO is flat at its optimum, so its distance to the optimum shrinks by the square, 81.
    best = normal_gamma_elbo(MODEL, fixed)
    distances = torch.stack([best - normal_gamma_elbo(MODEL, q) for q in history[2::2]])
    assert torch.allclose(distances[2:6] / distances[3:7], t((2 * a_n + 1) ** 2), rtol=0.01)
    assert float(history[-1].b) == pytest.approx(float(fixed.b), rel=1e-8)
    assert float(history[-1].v) == pytest.approx(float(fixed.v), rel=1e-8)


def test_mean_field_matches_the_means_and_underestimates_the_variances():
    mu_n, lambda_n, a_n, b_n = MODEL.exact_posterior()
    q = normal_gamma_fixed_point(MODEL)
    assert float(q.m) == pytest.approx(float(mu_n)) and float(q.a / q.b) == pytest.approx(float(a_n / b_n))
    exact_var_tau, exact_var_mu = a_n / b_n**2, b_n / (lambda_n * (a_n - 1))  # mu | x is Student-t
    assert float(q.a / q.b**2 / exact_var_tau) == pytest.approx(a_n / (a_n + 0.5))
    assert float(q.v / exact_var_mu) == pytest.approx((a_n - 1) / a_n)


def test_the_remaining_gap_is_the_kl_to_the_exact_posterior():
    q = normal_gamma_fixed_point(MODEL)
    gap = float(MODEL.log_evidence() - normal_gamma_elbo(MODEL, q))
    mu, tau = q.sample(400_000, torch.Generator().manual_seed(1))
    values = q.log_density(mu, tau) - MODEL.log_posterior(mu, tau)
    assert abs(float(values.mean()) - gap) < 4 * float(values.std()) / math.sqrt(len(values))


def test_worked_example_numbers_in_the_text():
    mu_n, lambda_n, a_n, b_n = MODEL.exact_posterior()
    assert (round(float(mu_n), 4), lambda_n, a_n, round(float(b_n), 4)) == (1.1538, 6.5, 4.0, 2.9081)
    assert round(float(MODEL.log_evidence()), 4) == -9.2743
    q = normal_gamma_fixed_point(MODEL)
    assert (round(float(q.a), 2), round(float(q.b), 4), round(float(q.v), 4)) == (4.5, 3.2716, 0.1118)
    assert round(float(q.a / q.b), 4) == 1.3755
    # Exact marginal variances (Student-t for mu, Gamma(a_N, b_N) for tau) against mean field's.
    assert (round(float(b_n / (lambda_n * (a_n - 1))), 4), round(float(a_n / b_n**2), 4)) == (0.1491, 0.4730)
    assert round(float(q.a / q.b**2), 4) == 0.4204
    assert round(float(normal_gamma_elbo(MODEL, q)), 4) == -9.3355
    assert round(float(MODEL.log_evidence() - normal_gamma_elbo(MODEL, q)), 4) == 0.0612
    history = cavi_normal_gamma(MODEL, initial_q(), 2)
    assert [round(float(q.a / q.b), 4) for q in history[2::2]] == [1.4635, 1.3847]
    assert round(float(normal_gamma_elbo(MODEL, history[0])), 2) == -55.98


def test_cavi_on_a_gaussian_mixture_is_monotone():
    g = torch.Generator().manual_seed(3)
    model = GaussianMixture(mixture_data(2000, [[-4.0, 0.0], [0.0, 3.0], [4.0, -1.0]], g), 3)
    for _ in range(3):
        m0, s20 = initial_means(model, g)
        _, _, elbos = cavi_mixture(model, m0, s20, 15)
        assert torch.all(elbos[1:] - elbos[:-1] >= -1e-9 * elbos.abs().max())

"""Chapter 8: control variates, the optimal coefficient, and NVIL's learned baseline."""
import math

import pytest
import torch

from vaeriants import gradients as G


def _quadratic_pair(mu, n, seed):
    """g = z^2 eps (score-function estimate of d/dmu E z^2) and h = eps (the score)."""
    eps = torch.randn(n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return (mu + eps) ** 2 * eps, eps


def test_optimal_coefficient_minimizes_the_variance():
    g, h = _quadratic_pair(1.0, 200_000, seed=0)
    c_star = G.optimal_coefficient(g, h).item()
    var_at = lambda c: G.controlled_estimate(g, h, 0.0, c).var().item()  # noqa: E731
    for c in [c_star - 1.0, c_star - 0.1, c_star + 0.1, c_star + 1.0]:
        assert var_at(c) > var_at(c_star)
    # The minimum is Var(g) (1 - rho^2) (an identity of the sample moments).
    rho = torch.corrcoef(torch.stack([g, h]))[0, 1].item()
    assert var_at(c_star) == pytest.approx(g.var().item() * (1 - rho**2), rel=1e-6)


def test_variance_is_quadratic_in_the_baseline():
    """Var((f - b) s) = Var* + (b - b*)^2 E[s^2]; quadratic example: b* = mu^2 + 3, E s^2 = 1."""
    mu, n = 1.0, 400_000
    optimum = 8 * mu**2 + 6
    for b in [0.0, mu**2 + 1, mu**2 + 3, 8.0]:
        g, h = _quadratic_pair(mu, n, seed=1)
        assert G.controlled_estimate(g, h, 0.0, b).var().item() == pytest.approx(
            optimum + (b - (mu**2 + 3)) ** 2, rel=0.05)


def test_several_control_variates_reduce_to_one():
    g, h = _quadratic_pair(0.5, 50_000, seed=2)
    single = G.optimal_coefficient(g[:, None], h[:, None])
    joint = G.optimal_coefficients(g[:, None], h[:, None, None])
    assert torch.allclose(single, joint[:, 0])


@pytest.fixture(scope="module")
def nvil_setup():
    generator = torch.Generator().manual_seed(3)
    xs = 1.5 * math.sqrt(2.0) * torch.randn(64, generator=generator, dtype=torch.float64)
    encoder = G.AmortizedGaussianEncoder(scale=0.2, shift=0.3, log_std=-0.5)
    baseline = G.fit_nvil_baseline(1.0, xs, encoder, steps=400, generator=generator)
    signals, scores = G.nvil_learning_signals(1.0, xs, encoder, 4000, generator)
    pilot, _ = G.nvil_learning_signals(1.0, xs, encoder, 4000, generator)
    return signals, scores, pilot, baseline(xs)


def test_nvil_input_dependent_baseline_beats_a_constant_which_beats_none(nvil_setup):
    signals, scores, pilot, learned = nvil_setup
    none = G.minibatch_gradients(signals, scores)
    constant = G.minibatch_gradients(signals, scores, pilot.mean())
    input_dependent = G.minibatch_gradients(signals, scores, learned)
    oracle = G.minibatch_gradients(signals, scores, pilot.mean(0))  # E[l | x_i] estimated per point
    v_none, v_const, v_input, v_oracle = (G.total_variance(v).item() for v in (none, constant, input_dependent, oracle))
    assert v_none > 1.4 * v_const
    assert v_const > 2 * v_input
    assert v_input < 1.1 * v_oracle
    # The baselines depend on x only, so all three estimate the same gradient.
    for other in (constant, input_dependent):
        se = torch.sqrt(G.standard_error(none) ** 2 + G.standard_error(other) ** 2)
        assert ((none.mean(0) - other.mean(0)).abs() / se).max().item() < 4.5


def test_nvil_variance_normalization_rescales_large_signals_only():
    generator = torch.Generator().manual_seed(4)
    for scale, expected in [(5.0, 1.0), (0.5, 0.5)]:
        normalizer = G.NVILSignalNormalizer(alpha=0.8)
        for _ in range(60):
            out = normalizer(3.0 + scale * torch.randn(256, generator=generator, dtype=torch.float64))
        assert out.std().item() == pytest.approx(expected, rel=0.15)
        assert abs(out.mean().item()) < 0.3 * expected

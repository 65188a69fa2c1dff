"""Chapter 8: score-function and pathwise gradients, their conditions, and the ELBO estimators.

Tolerances: a mean is compared with the exact gradient in units of its Monte Carlo standard
error (4.5 SE over at most ten coordinates fails by chance with probability below 1e-4);
variances are compared with relative tolerances several times their own sampling error.
"""
import math

import pytest
import torch

from vaeriants import gradients as G

N = 20000


def _max_z(samples, exact):
    return ((samples.mean(0) - exact) / G.standard_error(samples)).abs().max().item()


def test_score_has_mean_zero():
    model = G.chapter_linear_gaussian()
    mean, log_std = G.iwae_example_q(model)
    generator = torch.Generator().manual_seed(0)
    z = mean + log_std.exp() * torch.randn(N, 5, generator=generator, dtype=torch.float64)
    assert _max_z(G.score_of_q(mean, log_std, z), torch.zeros(10)) < 4.5


@pytest.mark.parametrize("mu", [0.0, 1.0])
def test_quadratic_worked_example(mu):
    """d/dmu E[z^2], z ~ N(mu, 1): every estimator has mean 2 mu and the derived variance."""
    n = 400_000
    generator = torch.Generator().manual_seed(1)
    square = lambda z: z**2  # noqa: E731
    exact = G.quadratic_example_variances(mu)
    # The optimal baseline, estimated from a pilot run, is mu^2 + 3 (not E f = mu^2 + 1).
    eps = torch.randn(n, generator=generator, dtype=torch.float64)
    c_star = G.optimal_coefficient(square(mu + eps) * eps, eps).item()
    assert c_star == pytest.approx(mu**2 + 3, rel=0.03)
    draws = {
        "score": G.gaussian_mean_score_function(square, mu, 1.0, n, generator),
        "score_mean_baseline": G.gaussian_mean_score_function(square, mu, 1.0, n, generator, mu**2 + 1),
        "score_optimal_baseline": G.gaussian_mean_score_function(square, mu, 1.0, n, generator, mu**2 + 3),
        "pathwise": G.gaussian_mean_pathwise(square, mu, 1.0, n, generator),
    }
    for name, samples in draws.items():
        assert abs(samples.mean().item() - 2 * mu) < 4.5 * samples.std().item() / math.sqrt(n), name
        assert samples.var().item() == pytest.approx(exact[name], rel=0.05), name
    assert exact["score"] > exact["score_mean_baseline"] > exact["score_optimal_baseline"] > exact["pathwise"]


def test_pathwise_is_wrong_for_a_discontinuous_function_and_score_function_is_not():
    """f(z) = sign(z): the pathwise derivative is 0 almost surely, the true gradient 2 phi(mu)."""
    mu, n = 0.3, 200_000
    generator = torch.Generator().manual_seed(2)
    exact = 2 * math.exp(-0.5 * mu**2) / math.sqrt(2 * math.pi)
    pathwise = G.gaussian_mean_pathwise(torch.sign, mu, 1.0, n, generator)
    assert torch.all(pathwise == 0)
    score = G.gaussian_mean_score_function(torch.sign, mu, 1.0, n, generator)
    assert abs(score.mean().item() - exact) < 4.5 * score.std().item() / math.sqrt(n)


def test_score_function_is_wrong_when_the_support_depends_on_the_parameter():
    """z ~ U(0, phi), f(z) = z: d/dphi E f = 1/2; the score function gives -1/2."""
    n = 200_000
    score, pathwise = G.uniform_scale_estimators(lambda z: z, 2.0, n, torch.Generator().manual_seed(9))
    for samples, expected in [(score, -0.5), (pathwise, 0.5)]:
        assert abs(samples.mean().item() - expected) < 4.5 * samples.std().item() / math.sqrt(n)


@pytest.mark.parametrize("t", [0.0, 0.5])
def test_elbo_estimators_are_unbiased(t):
    model = G.chapter_linear_gaussian()
    mean, log_std = G.interpolated_q(model, t)
    exact = G.elbo_gradient(model, mean, log_std)
    generator = torch.Generator().manual_seed(3)
    for name, estimator in G.ELBO_ESTIMATORS.items():
        assert _max_z(estimator(model, mean, log_std, N, generator), exact) < 4.5, name
    baseline = G.optimal_score_baseline(model, mean, log_std, N, generator)
    with_baseline = G.elbo_score_function(model, mean, log_std, N, generator, baseline)
    assert _max_z(with_baseline, exact) < 4.5


def _variances(t, n, seed):
    model = G.chapter_linear_gaussian()
    mean, log_std = G.interpolated_q(model, t)
    generator = torch.Generator().manual_seed(seed)
    out = {name: G.total_variance(est(model, mean, log_std, n, generator)).item()
           for name, est in G.ELBO_ESTIMATORS.items()}
    baseline = G.optimal_score_baseline(model, mean, log_std, n, generator)
    out["score function, optimal baseline"] = G.total_variance(
        G.elbo_score_function(model, mean, log_std, n, generator, baseline)).item()
    return out


def test_variance_ordering_away_from_the_posterior():
    """At t = 0.5: score > score with baseline > pathwise (all terms) > analytic KL > STL,
    and the local (Rao-Blackwellized) signals beat the plain score function."""
    v = _variances(0.5, N, seed=4)
    assert v["score function"] > 5 * v["score function, optimal baseline"]
    assert v["score function, optimal baseline"] > 2 * v["pathwise, all terms sampled"]
    assert v["pathwise, all terms sampled"] > 1.3 * v["pathwise, analytic KL"]
    assert v["pathwise, analytic KL"] > 1.5 * v["sticking the landing"]
    assert v["score function"] > 5 * v["score function, local signals"]


def test_near_the_posterior_the_baselined_score_function_beats_the_total_pathwise_gradient():
    v = _variances(0.99, N, seed=5)
    assert v["score function, optimal baseline"] < 0.1 * v["pathwise, all terms sampled"]
    assert v["sticking the landing"] < 0.01 * v["pathwise, analytic KL"]
    # STL's variance falls like (1 - t)^2 near the posterior: about 100-fold from 0.9 to 0.99.
    assert 70 < _variances(0.9, N, seed=5)["sticking the landing"] / v["sticking the landing"] < 140


@pytest.mark.parametrize("t", [0.0, 0.5, 0.99])
def test_analytic_kl_beats_sampling_every_term_on_the_running_example(t):
    v = _variances(t, N, seed=10)
    assert v["pathwise, analytic KL"] < 0.8 * v["pathwise, all terms sampled"]


def test_at_the_prior_sticking_the_landing_is_the_analytic_kl_estimator():
    """At q = p(z) the path derivative of log p(z) - log q(z) vanishes and so does the gradient
    of the KL: the two estimators agree draw by draw, with total variance about 98."""
    model = G.chapter_linear_gaussian()
    mean, log_std = G.interpolated_q(model, 0.0)
    stl = G.elbo_sticking_the_landing(model, mean, log_std, 100_000, torch.Generator().manual_seed(6))
    akl = G.elbo_pathwise_analytic_kl(model, mean, log_std, 100_000, torch.Generator().manual_seed(6))
    assert torch.allclose(stl, akl, atol=1e-10)
    # Closed form: d / sigma^4 from the means, (|x|^2 + 2 d) / sigma^4 from the log-stds.
    d, var = 5, model.noise_std**2
    expected = (d + (model.x**2).sum().item() + 2 * d) / var**2
    assert expected == pytest.approx(98.2, abs=0.05)
    assert G.total_variance(stl).item() == pytest.approx(expected, rel=0.03)


def test_at_the_posterior_the_analytic_kl_estimator_keeps_the_likelihood_noise():
    """Variance d / (sigma^2 (1 + sigma^2)) + 2 d / (1 + sigma^2)^2 + |x|^2 sigma^2 / (1 + sigma^2)^3
    = 12.6 on the running example, while STL's is zero."""
    model = G.chapter_linear_gaussian()
    mean, log_std = G.interpolated_q(model, 1.0)
    d, var = 5, model.noise_std**2
    expected = d / (var * (1 + var)) + 2 * d / (1 + var) ** 2 + (model.x**2).sum().item() * var / (1 + var) ** 3
    assert expected == pytest.approx(12.6, abs=0.05)
    akl = G.elbo_pathwise_analytic_kl(model, mean, log_std, 100_000, torch.Generator().manual_seed(12))
    assert G.total_variance(akl).item() == pytest.approx(expected, rel=0.03)


def test_at_the_posterior_stl_has_zero_variance_and_the_total_gradient_is_minus_the_score():
    model = G.chapter_linear_gaussian()
    mean, log_std = G.interpolated_q(model, 1.0)
    stl = G.elbo_sticking_the_landing(model, mean, log_std, 1000, torch.Generator().manual_seed(7))
    assert stl.abs().max().item() < 1e-12
    total = G.elbo_pathwise(model, mean, log_std, 1000, torch.Generator().manual_seed(7))
    eps = torch.randn(1000, 5, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    score = G.score_of_q(mean, log_std, mean + log_std.exp() * eps)
    assert torch.allclose(total, -score, atol=1e-10)
    # Its variance is the trace of the Fisher information of q: d (1 / s^2 + 2).
    big = G.elbo_pathwise(model, mean, log_std, 100_000, torch.Generator().manual_seed(8))
    fisher_trace = 5 * (1 / log_std.exp()[0] ** 2 + 2)
    assert G.total_variance(big).item() == pytest.approx(fisher_trace.item(), rel=0.03)

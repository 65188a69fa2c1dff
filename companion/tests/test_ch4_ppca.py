"""Chapter 4, probabilistic PCA: the closed form is the maximum likelihood solution."""
import math

import pytest
import torch

from vaeriants import ppca

DTYPE = torch.float64


def ppca_data(n=400, d=8, k=2, noise_var=0.5, seed=0):
    """Data drawn from a pPCA model with k strong directions."""
    g = torch.Generator().manual_seed(seed)
    weight = torch.randn(d, k, generator=g, dtype=DTYPE) * torch.linspace(3.0, 1.5, k, dtype=DTYPE)
    truth = ppca.PPCA(torch.randn(d, generator=g, dtype=DTYPE), weight, noise_var)
    return ppca.sample(n, truth, g)


def data_with_covariance(eigvals, n=50, seed=0):
    """n points whose (1/N) sample covariance has exactly the given eigenvalues."""
    g = torch.Generator().manual_seed(seed)
    d = len(eigvals)
    x = torch.randn(n, d, generator=g, dtype=DTYPE)
    x = x - x.mean(0)
    whiten = torch.linalg.cholesky(x.T @ x / n)  # make the covariance exactly I ...
    x = torch.linalg.solve_triangular(whiten, x.T, upper=False).T
    rotation, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=DTYPE))
    return x * torch.tensor(eigvals, dtype=DTYPE).sqrt() @ rotation.T  # ... then rotate and stretch it


def test_closed_form_value_is_the_likelihood_of_the_closed_form_fit():
    x = ppca_data()
    assert ppca.log_likelihood(x, ppca.fit(x, 2)) == pytest.approx(ppca.max_log_likelihood(x, 2), abs=1e-10)


def test_worked_example_of_the_chapter():
    # Eigenvalues 4, 1, 1/2 and k = 1: sigma^2 = 3/4, ||w||^2 = 13/4, G = 4, maximum -4.662 nats.
    x = data_with_covariance([4.0, 1.0, 0.5])
    fitted = ppca.fit(x, 1)
    assert fitted.noise_var == pytest.approx(0.75, abs=1e-12)
    assert (fitted.weight**2).sum().item() == pytest.approx(3.25, abs=1e-12)
    assert ppca.log_likelihood(x, fitted) == pytest.approx(-4.662, abs=5e-4)
    post_means, post_cov = ppca.posterior(x, fitted)
    assert post_cov.item() == pytest.approx(0.75 / 4.0, abs=1e-12)  # sigma^2 / G
    # A point whose centred projection on u_1 is a has posterior mean (1.803 / 4) a, which is the
    # PCA code a / 1.803 shrunk by the factor (lambda_1 - sigma^2) / lambda_1 = 13/16.
    norm = fitted.weight.norm().item()
    u1 = fitted.weight[:, 0] / norm
    a = (x - x.mean(0)) @ u1  # (N,)
    assert norm == pytest.approx(1.803, abs=5e-4)
    assert torch.allclose(post_means[:, 0].abs(), (norm / 4.0) * a.abs(), atol=1e-12)
    assert torch.allclose(post_means[:, 0].abs(), (13.0 / 16.0) * (a / norm).abs(), atol=1e-12)
    # All variance as isotropic noise (W = 0, sigma^2 = 11/6) is 0.504 nats worse per point.
    no_latent = ppca.PPCA(x.mean(0), torch.zeros(3, 1, dtype=DTYPE), 11.0 / 6.0)
    assert ppca.log_likelihood(x, fitted) - ppca.log_likelihood(x, no_latent) == pytest.approx(0.504, abs=5e-4)


def _log_likelihood_of(x, mean, weight, log_noise_var):
    """Differentiable average log-likelihood, for the gradient test."""
    d = x.shape[1]
    cov = weight @ weight.T + log_noise_var.exp() * torch.eye(d, dtype=DTYPE)
    return torch.distributions.MultivariateNormal(mean, cov).log_prob(x).mean()


SPECTRUM = [9.0, 6.0, 4.0, 3.0, 0.5, 0.5, 0.5, 0.5]  # four strong directions, then noise


@pytest.mark.parametrize("components", [(0, 1), (1, 2), (0, 3)])
def test_eigenvector_solutions_are_stationary_points(components):
    x = data_with_covariance(SPECTRUM)
    point = ppca.stationary_point(x, components)
    params = [point.mean.clone().requires_grad_(), point.weight.clone().requires_grad_(),
              torch.tensor(math.log(point.noise_var), dtype=DTYPE, requires_grad=True)]
    grads = torch.autograd.grad(_log_likelihood_of(x, *params), params)
    assert max(g.abs().max().item() for g in grads) < 1e-9


def test_only_the_top_eigenvectors_give_the_maximum():
    x = data_with_covariance(SPECTRUM)
    best = ppca.max_log_likelihood(x, 2)
    for components in [(0, 2), (1, 2), (0, 3)]:
        assert ppca.log_likelihood(x, ppca.stationary_point(x, components)) < best - 1e-3


@pytest.mark.parametrize("components", [(0, 1), (1, 2), (0, 3), (2, 3)])
def test_stationary_value_is_minus_a_jensen_gap_of_the_discarded_eigenvalues(components):
    # With eigenvalues J kept, the bracket of the stationary log-likelihood is the constant
    # d log 2 pi + d + sum_all log lambda plus (d - k) [log mean(lambda_rest) - mean(log lambda_rest)].
    x = data_with_covariance(SPECTRUM)
    lam = torch.tensor(SPECTRUM, dtype=DTYPE)
    rest = lam[[j for j in range(len(lam)) if j not in components]]
    d, k = len(lam), len(components)
    gap = (d - k) * (rest.mean().log() - rest.log().mean())
    value = -0.5 * (d * math.log(2 * math.pi) + d + lam.log().sum() + gap)
    assert ppca.log_likelihood(x, ppca.stationary_point(x, components)) == pytest.approx(value.item(), abs=1e-10)


@pytest.mark.parametrize("components", [(1, 2), (0, 3)])
def test_solutions_that_skip_a_leading_eigenvector_are_saddle_points(components):
    # At a stationary point built from (u_1, u_2), say, turning a column toward the skipped u_0
    # raises the likelihood, and shrinking a column lowers it: a saddle, not a local maximum.
    x = data_with_covariance(SPECTRUM)
    point = ppca.stationary_point(x, components)
    value = ppca.log_likelihood(x, point)
    _, eigvecs = ppca.eigendecomposition(ppca.mean_and_covariance(x)[1])
    skipped = min(j for j in range(len(SPECTRUM)) if j not in components)
    column = max(range(len(components)), key=lambda c: components[c])  # the smallest kept eigenvalue
    w = point.weight.clone()
    length = w[:, column].norm()
    angle = 1e-2
    w[:, column] = length * (math.cos(angle) * w[:, column] / length + math.sin(angle) * eigvecs[:, skipped])
    assert ppca.log_likelihood(x, ppca.PPCA(point.mean, w, point.noise_var)) > value + 1e-7
    shrunk = point.weight.clone()
    shrunk[:, column] *= 0.99
    assert ppca.log_likelihood(x, ppca.PPCA(point.mean, shrunk, point.noise_var)) < value - 1e-7


def test_closed_form_beats_every_perturbation():
    x = ppca_data()
    fitted = ppca.fit(x, 2)
    best = ppca.log_likelihood(x, fitted)
    g = torch.Generator().manual_seed(1)
    for scale in [1e-3, 1e-2, 1e-1]:
        for _ in range(30):
            weight = fitted.weight + scale * torch.randn(fitted.weight.shape, generator=g, dtype=DTYPE)
            noise_var = fitted.noise_var * math.exp(scale * torch.randn((), generator=g, dtype=DTYPE).item())
            mean = fitted.mean + scale * torch.randn(fitted.mean.shape, generator=g, dtype=DTYPE)
            assert ppca.log_likelihood(x, ppca.PPCA(mean, weight, noise_var)) < best


def test_rotating_the_latent_space_leaves_the_likelihood_unchanged():
    x = ppca_data()
    fitted = ppca.fit(x, 2)
    rotation, _ = torch.linalg.qr(torch.randn(2, 2, generator=torch.Generator().manual_seed(2), dtype=DTYPE))
    rotated = ppca.PPCA(fitted.mean, fitted.weight @ rotation, fitted.noise_var)
    assert ppca.log_likelihood(x, rotated) == pytest.approx(ppca.log_likelihood(x, fitted), abs=1e-12)


def test_em_climbs_monotonically_to_the_closed_form():
    x = data_with_covariance(SPECTRUM)
    _, history = ppca.fit_em(x, 2, iterations=200, seed=3)
    assert all(b >= a - 1e-12 for a, b in zip(history, history[1:]))
    assert history[-1] == pytest.approx(ppca.max_log_likelihood(x, 2), abs=1e-9)


def test_posterior_formula_is_gaussian_conditioning():
    # p(z|x) from the joint Gaussian of (z, x): mean W^T C^{-1} (x - mu), cov I - W^T C^{-1} W.
    x = ppca_data(n=20)
    fitted = ppca.fit(x, 2)
    c_inv = torch.linalg.inv(fitted.covariance)
    means, cov = ppca.posterior(x, fitted)
    assert torch.allclose(means, (x - fitted.mean) @ c_inv @ fitted.weight, atol=1e-10)
    assert torch.allclose(cov, torch.eye(2, dtype=DTYPE) - fitted.weight.T @ c_inv @ fitted.weight, atol=1e-10)


def test_zero_noise_posterior_mean_is_the_orthogonal_projection():
    x = ppca_data(n=20)
    fitted = ppca.fit(x, 2)
    w = fitted.weight
    projection = (x - fitted.mean) @ w @ torch.linalg.inv(w.T @ w)  # (W^T W)^{-1} W^T (x - mu)
    for noise_var, tolerance in [(1e-2, 1e-2), (1e-6, 1e-6)]:
        means, _ = ppca.posterior(x, ppca.PPCA(fitted.mean, w, noise_var))
        assert (means - projection).abs().max().item() < tolerance * projection.abs().max().item()

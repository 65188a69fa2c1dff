"""Chapter 5, second half: posterior collapse (edge two), the linear-VAE account of it, and the
arithmetic of the remedies.

The pPCA and linear-VAE objectives are in closed form, so their optima are checked to
optimizer accuracy. The one test that trains neural VAEs uses fixed seeds and compares counts
that differ by a wide margin.
"""
import math

import pytest
import torch

from vaeriants.collapse import (DTYPE, ar1_committed_rate, ar1_covariance, count_active_units,
                                fit_ppca_by_gradient, fixed_variance_committed_rate, free_bits_kl, kl_per_unit,
                                linear_vae_elbo, linear_vae_kl_per_unit, ppca_log_likelihood,
                                ppca_ml_noise_var, ppca_ml_weights, sample_covariance, sorted_eigh,
                                spiked_covariance_data, train_linear_vae, unit_activity)
from vaeriants.data import digits
from vaeriants.divergences import fit_mean_field_by_gradient, mean_field_gap
from vaeriants.distributions import kl_diag_normal_standard_normal, kl_full_normals
from vaeriants.vae import VAEConfig, train_vae

EIGENVALUES = [5.0, 3.0, 1.5, 0.6, 0.3, 0.2, 0.1, 0.1]  # population spectrum of the test data


@pytest.fixture(scope="module")
def spiked():
    x, _ = spiked_covariance_data(2000, EIGENVALUES, seed=0)
    _, cov = sample_covariance(x)
    return cov


# --- active units ---------------------------------------------------------------------------

def test_activity_counts_the_units_whose_mean_moves_with_x():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(1000, 3, generator=generator)
    # units 0-2 follow the data; units 3-5 are constant up to tiny jitter: collapsed
    means = torch.cat([x, 1e-3 * torch.randn(1000, 3, generator=generator)], dim=1)
    activity = unit_activity(means)
    assert count_active_units(activity) == 3
    assert torch.allclose(activity[:3], torch.ones(3), atol=0.1)


def test_larger_beta_leaves_fewer_active_units():
    images, _ = digits()
    counts = {}
    for beta in (0.25, 4.0):
        cfg = VAEConfig(latent_dim=8, hidden_dim=64, epochs=20, beta=beta)
        model, _ = train_vae(images, cfg, seed=0)
        with torch.no_grad():
            means, logvars = model.encoder(images)
        activity = unit_activity(means)
        counts[beta] = count_active_units(activity)
        # every unit pays at least half its activity in KL: KL_u >= E_x[mu_u^2]/2 >= A_u/2
        assert bool((kl_per_unit(means, logvars) >= activity / 2 - 1e-6).all())
        if beta == 4.0:  # collapsed units also carry (almost) no KL: q(z_u|x) is the prior
            assert float(kl_diag_normal_standard_normal(means, logvars).mean()) < 0.5
    assert counts[0.25] >= 4 and counts[4.0] <= 1


def test_activity_bound_and_when_it_is_tight():
    generator = torch.Generator().manual_seed(1)
    means = 0.7 * torch.randn(5000, 6, generator=generator, dtype=DTYPE) + torch.linspace(-1, 1, 6, dtype=DTYPE)
    logvars = 0.5 * torch.randn(5000, 6, generator=generator, dtype=DTYPE)
    kl, activity = kl_per_unit(means, logvars), unit_activity(means)
    # KL_u = E_x[(s - 1 - log s)/2] + E_x[mu_u^2]/2 >= E_x[mu_u^2]/2 >= Var_x[mu_u]/2 = A_u/2
    assert bool((kl >= 0.5 * (means**2).mean(dim=0)).all())
    assert bool((0.5 * (means**2).mean(dim=0) >= activity / 2).all())
    # equality when the posterior variance is one and the posterior mean averages to zero
    centred = means - means.mean(dim=0)
    assert torch.allclose(kl_per_unit(centred, torch.zeros_like(centred)), unit_activity(centred) / 2, atol=1e-12)


# --- probabilistic PCA: collapse is a property of the marginal likelihood -------------------

def test_directions_with_eigenvalue_below_noise_get_zero_weight(spiked):
    values, _ = sorted_eigh(spiked)
    noise_var, k = 1.0, 5
    weights = ppca_ml_weights(spiked, k, noise_var)
    norms = weights.norm(dim=0)
    expected = (values[:k] - noise_var).clamp(min=0).sqrt()
    assert torch.allclose(norms, expected, atol=1e-12)
    assert bool((norms[values[:k] <= noise_var] == 0).all()) and int((norms > 0).sum()) == 3


def test_gradient_ascent_on_the_likelihood_finds_the_same_collapse(spiked):
    values, _ = sorted_eigh(spiked)
    noise_var, k = 1.0, 5
    fitted = fit_ppca_by_gradient(spiked, k, noise_var, seed=3)
    closed_form = ppca_ml_weights(spiked, k, noise_var)
    assert float(ppca_log_likelihood(spiked, fitted, noise_var)) == pytest.approx(
        float(ppca_log_likelihood(spiked, closed_form, noise_var)), abs=1e-8)
    singular_values = torch.linalg.svdvals(fitted)
    expected = (values[:k] - noise_var).clamp(min=0).sqrt()
    assert torch.allclose(singular_values, expected, atol=1e-3)


def test_likelihood_along_one_direction_peaks_at_max_of_eigenvalue_and_noise():
    # per direction the log-likelihood is -(log c + lambda/c)/2 with c = w^2 + sigma^2 >= sigma^2
    noise_var = 1.0
    c = torch.linspace(noise_var, 10.0, 90001, dtype=DTYPE)
    for eigenvalue in (0.3, 0.9, 1.0, 2.5, 6.0):
        objective = -0.5 * (c.log() + eigenvalue / c)
        assert float(c[objective.argmax()]) == pytest.approx(max(eigenvalue, noise_var), abs=2e-4)


@pytest.mark.parametrize("noise_var", [0.05, 0.25, 0.55, 1.2, 2.0, 4.0])
def test_noise_variance_sets_the_number_of_surviving_directions(spiked, noise_var):
    values, _ = sorted_eigh(spiked)
    weights = ppca_ml_weights(spiked, 8, noise_var)
    assert int((weights.norm(dim=0) > 0).sum()) == int((values > noise_var).sum())


def test_learned_noise_variance_is_the_mean_discarded_eigenvalue(spiked):
    values, _ = sorted_eigh(spiked)
    k = 3
    noise_var = ppca_ml_noise_var(spiked, k)
    best = ppca_log_likelihood(spiked, ppca_ml_weights(spiked, k, noise_var), noise_var)
    for factor in (0.9, 0.97, 1.03, 1.1):
        other = factor * noise_var
        assert float(ppca_log_likelihood(spiked, ppca_ml_weights(spiked, k, other), other)) < float(best)
    assert noise_var == pytest.approx(float(values[k:].mean()), abs=1e-12)


def test_linear_vae_reaches_the_ppca_optimum_and_collapses_the_same_directions(spiked):
    noise_var, k = 1.0, 4  # eigenvalues 4.8, 3.0, 1.5 survive; 0.59 < 1 collapses
    weights, encoder_weights, encoder_logvar = train_linear_vae(spiked, k, noise_var, seed=1)
    best_log_likelihood = float(ppca_log_likelihood(spiked, ppca_ml_weights(spiked, k, noise_var), noise_var))
    elbo = float(linear_vae_elbo(spiked, weights, encoder_weights, encoder_logvar, noise_var))
    assert elbo == pytest.approx(best_log_likelihood, abs=1e-6), "the ELBO is tight at its optimum"
    kl_units = linear_vae_kl_per_unit(spiked, encoder_weights, encoder_logvar)
    collapsed = weights.norm(dim=0) < 1e-3
    assert int(collapsed.sum()) == 1
    assert float(kl_units[collapsed].max()) < 1e-8, "collapsed unit: q(z_j|x) is the prior"
    # each surviving unit carries (1/2) log(lambda_i / sigma^2) nats
    values, _ = sorted_eigh(spiked)
    expected = 0.5 * (values[:3] / noise_var).log()
    assert torch.allclose(kl_units[~collapsed].sort(descending=True).values, expected, atol=1e-5)
    gram = weights.T @ weights  # orthogonal columns: the exact posterior is factorized
    assert float((gram - torch.diag(gram.diagonal())).abs().max()) < 1e-4


# --- remedies -------------------------------------------------------------------------------

def test_free_bits_stop_penalizing_units_below_the_floor():
    kl = torch.tensor([0.05, 0.2, 0.7, 1.5], requires_grad=True)
    penalty = free_bits_kl(kl, free_bits=0.5)
    penalty.backward()
    assert float(penalty) == pytest.approx(0.5 + 0.5 + 0.7 + 1.5)
    assert kl.grad.tolist() == [0.0, 0.0, 1.0, 1.0]


@pytest.mark.parametrize("alpha, n", [(0.5, 2), (0.9, 5), (0.95, 16)])
def test_ar1_committed_rate_is_the_mean_field_gap(alpha, n):
    cov = ar1_covariance(alpha, n)
    rate = ar1_committed_rate(alpha, n)
    assert rate == pytest.approx(float(mean_field_gap(torch.linalg.inv(cov))), abs=1e-10)
    # no factorized Gaussian q gets closer to the prior than the committed rate
    q_mean, q_var = fit_mean_field_by_gradient(torch.zeros(n, dtype=DTYPE), cov, seed=n)
    best = float(kl_full_normals(q_mean, torch.diag(q_var), torch.zeros(n, dtype=DTYPE), cov))
    assert best == pytest.approx(rate, abs=1e-6)
    generator = torch.Generator().manual_seed(0)
    for _ in range(10):
        mean = torch.randn(n, generator=generator, dtype=DTYPE)
        var = torch.rand(n, generator=generator, dtype=DTYPE) + 0.05
        assert float(kl_full_normals(mean, torch.diag(var), torch.zeros(n, dtype=DTYPE), cov)) >= rate


def test_fixed_variance_family_commits_a_rate():
    max_std = 0.5
    rate = fixed_variance_committed_rate(max_std)
    assert rate == pytest.approx(0.5 * (0.25 - 1 - math.log(0.25)))
    generator = torch.Generator().manual_seed(0)
    means = torch.randn(1000, 1, generator=generator)
    stds = max_std * torch.rand(1000, 1, generator=generator).clamp(min=1e-3)
    kl = kl_diag_normal_standard_normal(means, 2 * stds.log())
    assert float(kl.min()) >= rate - 1e-6


def test_linear_vae_elbo_is_a_lower_bound_tight_at_the_exact_posterior(spiked):
    noise_var, k = 1.0, 4
    generator = torch.Generator().manual_seed(5)
    for _ in range(5):  # any decoder and any encoder: the closed-form ELBO never exceeds the likelihood
        weights = torch.randn(8, k, generator=generator, dtype=DTYPE)
        encoder_weights = 0.3 * torch.randn(k, 8, generator=generator, dtype=DTYPE)
        encoder_logvar = torch.randn(k, generator=generator, dtype=DTYPE)
        elbo = linear_vae_elbo(spiked, weights, encoder_weights, encoder_logvar, noise_var)
        assert float(elbo) < float(ppca_log_likelihood(spiked, weights, noise_var))
    # at the ML decoder with orthogonal columns the exact posterior N(M^{-1} W^T x / sigma^2, M^{-1}),
    # M = I + W^T W / sigma^2, is diagonal: D_ii = sigma^2 / lambda_i, and the ELBO equals the likelihood
    weights = ppca_ml_weights(spiked, k, noise_var)
    precision = torch.eye(k, dtype=DTYPE) + weights.T @ weights / noise_var
    encoder_weights = torch.linalg.solve(precision, weights.T) / noise_var
    encoder_logvar = -precision.diagonal().log()
    values, _ = sorted_eigh(spiked)
    assert torch.allclose(encoder_logvar.exp()[:3], noise_var / values[:3], atol=1e-12)
    elbo = linear_vae_elbo(spiked, weights, encoder_weights, encoder_logvar, noise_var)
    assert float(elbo) == pytest.approx(float(ppca_log_likelihood(spiked, weights, noise_var)), abs=1e-10)

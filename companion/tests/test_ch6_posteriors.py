"""Chapter 6, richer posteriors on a linear-Gaussian model where every gap is exact."""
import math

import pytest
import torch

from vaeriants import posteriors as po
from vaeriants.distributions import kl_diag_normals, kl_full_normals

F64 = torch.float64


def _model(seed, D=5, d=3, noise_std=0.7):
    generator = torch.Generator().manual_seed(seed)
    # Correlated columns make the posterior correlated, so the diagonal family falls short.
    mixing = torch.eye(d, dtype=F64) + 0.8 * torch.triu(torch.ones(d, d, dtype=F64), diagonal=1)
    W = torch.randn(D, d, generator=generator, dtype=F64) @ mixing
    c = torch.randn(D, generator=generator, dtype=F64)
    return po.LinearGaussianModel(W, c, noise_std), generator


def _observations(model, generator, n=8):
    z = torch.randn(n, model.latent_dim, generator=generator, dtype=F64)
    noise = model.noise_std * torch.randn(n, model.W.shape[0], generator=generator, dtype=F64)
    return z @ model.W.T + model.c + noise


# ----------------------------------------------------------------------------- Cholesky Gaussians


def test_cholesky_log_prob_and_kl():
    generator = torch.Generator().manual_seed(0)
    log_diag = 0.3 * torch.randn(4, 3, generator=generator, dtype=F64)
    lower = torch.randn(4, 3, 3, generator=generator, dtype=F64)
    L = po.cholesky_factor(log_diag, lower)  # (4, 3, 3)
    assert torch.equal(torch.triu(L, diagonal=1), torch.zeros_like(L))
    mean = torch.randn(4, 3, generator=generator, dtype=F64)
    z = torch.randn(4, 3, generator=generator, dtype=F64)
    reference = torch.distributions.MultivariateNormal(mean, scale_tril=L)
    assert torch.allclose(po.log_prob_cholesky(z, mean, L), reference.log_prob(z), atol=1e-12)
    identity = torch.eye(3, dtype=F64).expand(4, 3, 3)
    expected = kl_full_normals(mean, L @ L.transpose(-1, -2), torch.zeros_like(mean), identity)
    assert torch.allclose(po.kl_cholesky_standard_normal(mean, L), expected, atol=1e-12)


# ----------------------------------------------------------------------------- the approximation gap


def test_closed_form_elbo_is_the_expectation_it_claims():
    """The closed-form ELBO equals a Monte Carlo average of log p(x, z) - log q(z)."""
    model, generator = _model(1)
    x = _observations(model, generator, n=1)
    mean = torch.randn(1, 3, generator=generator, dtype=F64)
    L = po.cholesky_factor(0.2 * torch.randn(3, generator=generator, dtype=F64), torch.randn(3, 3, generator=generator, dtype=F64))
    eps = torch.randn(400000, 3, generator=generator, dtype=F64)
    z = mean + eps @ L.T
    log_lik = torch.distributions.Normal(z @ model.W.T + model.c, model.noise_std).log_prob(x).sum(-1)
    log_joint = log_lik + torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(-1)
    terms = log_joint - po.log_prob_cholesky(z, mean, L)
    standard_error = float(terms.std() / math.sqrt(len(terms)))
    assert float(terms.mean()) == pytest.approx(float(model.elbo(x, mean, L @ L.T)), abs=5 * standard_error)


def test_full_covariance_closes_the_gap_and_diagonal_leaves_the_mean_field_gap():
    model, generator = _model(2)
    x = _observations(model, generator)
    log_evidence = model.log_evidence(x)
    exact_mean, exact_cov = model.posterior(x)
    assert torch.allclose(model.elbo(x, exact_mean, exact_cov), log_evidence, atol=1e-10)
    gap = po.mean_field_gap(model.posterior_precision())
    assert gap > 0.05
    best_mean, best_log_std = po.best_diagonal_gaussian(model, x)
    assert torch.allclose(log_evidence - model.elbo_diagonal(x, best_mean, best_log_std), gap.expand(len(x)), atol=1e-10)


def test_gradient_ascent_on_a_diagonal_gaussian_stops_at_the_mean_field_gap():
    """Optimizing (mean, log std) directly, with no formula, lands on the same gap."""
    model, generator = _model(3)
    x = _observations(model, generator)
    step = 0.4 / float(torch.linalg.eigvalsh(model.posterior_precision()).max())
    start_mean, start_log_std = torch.zeros(len(x), 3, dtype=F64), torch.zeros(len(x), 3, dtype=F64)
    _, _, history = po.refine(model, x, start_mean, start_log_std, steps=3000, step_size=step)
    final_gap = model.log_evidence(x) - history[-1]
    assert torch.allclose(final_gap, po.mean_field_gap(model.posterior_precision()).expand(len(x)), atol=1e-6)


@pytest.mark.parametrize("rho, stated", [(0.5, 0.144), (0.9, 0.830), (0.99, 1.96)])
@pytest.mark.parametrize("sigma", [(1.0, 1.0), (0.3, 2.5)])
def test_worked_example_two_correlated_latents(rho, stated, sigma):
    """A 2-D posterior with correlation rho: the best diagonal Gaussian is -1/2 log(1 - rho^2)
    nats short whatever the variances (0.144, 0.830, 1.96 nats in the text), and its
    variances 1 / Lambda_ii are sigma_i^2 (1 - rho^2), 19% of the marginals at rho = 0.9."""
    s1, s2 = sigma
    covariance = torch.tensor([[s1**2, rho * s1 * s2], [rho * s1 * s2, s2**2]], dtype=F64)
    precision = torch.linalg.inv(covariance)
    gap = po.mean_field_gap(precision)
    assert float(gap) == pytest.approx(-0.5 * math.log(1 - rho**2), abs=1e-12)
    assert float(gap) == pytest.approx(stated, abs=5e-3 if stated > 1 else 5e-4)  # rounded as printed
    best_variances = 1.0 / torch.diagonal(precision)
    assert torch.allclose(best_variances, torch.tensor([s1**2, s2**2], dtype=F64) * (1 - rho**2), atol=1e-12)


def test_mean_field_gap_is_nonnegative_and_zero_only_for_a_diagonal_precision():
    """Hadamard's inequality det(Lambda) <= prod_i Lambda_ii, with equality iff Lambda is diagonal."""
    generator = torch.Generator().manual_seed(7)
    for _ in range(100):
        A = torch.randn(4, 4, generator=generator, dtype=F64)
        precision = A @ A.T + 0.1 * torch.eye(4, dtype=F64)
        assert float(po.mean_field_gap(precision)) > 0.0
    diagonal = torch.diag(torch.rand(4, generator=generator, dtype=F64) + 0.1)
    assert float(po.mean_field_gap(diagonal)) == pytest.approx(0.0, abs=1e-12)


# ----------------------------------------------------------------------------- the amortization gap


def test_refinement_closes_the_amortization_gap_but_not_the_approximation_gap():
    model, generator = _model(4)
    x = _observations(model, generator)
    # A deliberately imperfect "encoder": the right linear form with perturbed weights.
    exact_mean, _ = model.posterior(x)
    encoder_mean = exact_mean + 0.5 * torch.randn(exact_mean.shape, generator=generator, dtype=F64)
    encoder_log_std = torch.zeros_like(encoder_mean)
    approximation_gap = po.mean_field_gap(model.posterior_precision())
    log_evidence = model.log_evidence(x)
    amortization_gap = log_evidence - model.elbo_diagonal(x, encoder_mean, encoder_log_std) - approximation_gap
    assert (amortization_gap > 0.1).all()

    step = 0.4 / float(torch.linalg.eigvalsh(model.posterior_precision()).max())
    _, _, history = po.refine(model, x, encoder_mean, encoder_log_std, steps=2000, step_size=step)
    assert (history[1:] >= history[:-1] - 1e-12).all()  # every step raises every ELBO
    assert (history <= (log_evidence - approximation_gap) + 1e-9).all()  # never past the family's best
    remaining = log_evidence - history[-1] - approximation_gap
    assert (remaining < 1e-4 * amortization_gap).all()


# ----------------------------------------------------------------------------- hierarchical posteriors


def test_ladder_merge_is_the_exact_conditional():
    """z2 ~ N(0, I), z1 | z2 ~ N(a z2, s1^2), x | z1 ~ N(b z1, sx^2), coordinatewise.

    p(z1 | z2, x) from conditioning the joint Gaussian equals the precision-weighted merge
    of the top-down prior N(a z2, s1^2) and the bottom-up message N(x / b, sx^2 / b^2).
    """
    generator = torch.Generator().manual_seed(5)
    a = torch.tensor([0.8, -1.5, 2.0], dtype=F64)
    b = torch.tensor([1.2, 0.5, -0.7], dtype=F64)
    s1, sx = 0.6, 0.4
    z2 = torch.randn(3, generator=generator, dtype=F64)
    x = torch.randn(3, generator=generator, dtype=F64)
    for i in range(3):  # condition the 2-D Gaussian (z1_i, x_i) | z2_i on x_i
        mean = torch.stack([a[i] * z2[i], b[i] * a[i] * z2[i]])
        cov = torch.tensor([[s1**2, b[i] * s1**2], [b[i] * s1**2, b[i] ** 2 * s1**2 + sx**2]], dtype=F64)
        exact_mean = mean[0] + cov[0, 1] / cov[1, 1] * (x[i] - mean[1])
        exact_var = cov[0, 0] - cov[0, 1] ** 2 / cov[1, 1]
        merged_mean, merged_var = po.precision_weighted_merge(x[i] / b[i], sx**2 / b[i] ** 2, a[i] * z2[i], torch.tensor(s1**2, dtype=F64))
        assert float(merged_mean) == pytest.approx(float(exact_mean), abs=1e-12)
        assert float(merged_var) == pytest.approx(float(exact_var), abs=1e-12)


def test_top_down_factorization_groups_above_add_nothing():
    """z3 -> z2 -> z1 -> x, linear-Gaussian: p(z1 | z2, z3, x), from conditioning the 4-D joint,
    does not depend on z3 and equals the ladder merge of p(z1 | z2) with the message from x,
    as the top-down factorization of the exact posterior says."""
    c, a, b = 1.3, -0.7, 1.8
    s2, s1, sx = 0.5, 0.6, 0.4
    # (z3, z2, z1, x) = A @ standard normal noise, so the joint covariance is A A^T.
    A = torch.tensor([[1.0, 0.0, 0.0, 0.0],
                      [c, s2, 0.0, 0.0],
                      [a * c, a * s2, s1, 0.0],
                      [b * a * c, b * a * s2, b * s1, sx]], dtype=F64)
    cov = A @ A.T
    target, observed = [2], [0, 1, 3]
    weights = cov[target][:, observed] @ torch.linalg.inv(cov[observed][:, observed])  # (1, 3)
    conditional_var = float(cov[2, 2] - weights @ cov[observed][:, target])
    assert abs(float(weights[0, 0])) < 1e-12  # the coefficient of z3: it carries nothing more
    generator = torch.Generator().manual_seed(8)
    for _ in range(5):
        z3, z2, x = torch.randn(3, generator=generator, dtype=F64)
        conditional_mean = float(weights @ torch.stack([z3, z2, x]))
        merged_mean, merged_var = po.precision_weighted_merge(
            x / b, torch.tensor(sx**2 / b**2, dtype=F64), a * z2, torch.tensor(s1**2, dtype=F64))
        assert float(merged_mean) == pytest.approx(conditional_mean, abs=1e-12)
        assert float(merged_var) == pytest.approx(conditional_var, abs=1e-12)


def test_nvae_residual_kl():
    generator = torch.Generator().manual_seed(6)
    prior_mean = torch.randn(10, 4, generator=generator, dtype=F64)
    prior_std = torch.rand(10, 4, generator=generator, dtype=F64) + 0.2
    delta_mean = 0.5 * torch.randn(10, 4, generator=generator, dtype=F64)
    delta_log_std = 0.3 * torch.randn(10, 4, generator=generator, dtype=F64)
    expected = kl_diag_normals(
        prior_mean + delta_mean, 2 * (torch.log(prior_std) + delta_log_std), prior_mean, 2 * torch.log(prior_std))
    assert torch.allclose(po.kl_residual_normal(delta_mean, delta_log_std, prior_std), expected, atol=1e-12)
    # No correction, no KL, whatever the prior is.
    assert torch.allclose(po.kl_residual_normal(0 * delta_mean, 0 * delta_log_std, prior_std), torch.zeros(10, dtype=F64))

"""Chapter 4, linear models: a linear autoencoder learns the principal subspace (Baldi and
Hornik), and a linear VAE learns probabilistic PCA, its ELBO reaching the pPCA maximum
log-likelihood (Lucas et al., 2019)."""
import math

import pytest
import torch

from vaeriants import ppca
from vaeriants.autoencoders import (pca_squared_error, principal_projector, train_linear_autoencoder,
                                    train_linear_vae)

DTYPE = torch.float64


@pytest.fixture(scope="module")
def data():
    """500 points from a pPCA model in 8 dimensions with 2 latent directions."""
    g = torch.Generator().manual_seed(0)
    weight = torch.randn(8, 2, generator=g, dtype=DTYPE) * torch.tensor([3.0, 1.5], dtype=DTYPE)
    truth = ppca.PPCA(torch.randn(8, generator=g, dtype=DTYPE), weight, 0.5)
    return ppca.sample(500, truth, g)


@pytest.fixture(scope="module")
def linear_vae(data):
    return train_linear_vae(data, 2, steps=6000, lr=3e-2, seed=0)


def test_linear_autoencoder_learns_the_principal_subspace(data):
    model, history = train_linear_autoencoder(data, 2, steps=2000, lr=1e-2, seed=0)
    # The error of the best rank-2 reconstruction is the sum of the 6 discarded eigenvalues ...
    assert history[-1] == pytest.approx(pca_squared_error(data, 2), rel=1e-6)
    # ... and W V is the orthogonal projector onto the top-2 principal subspace, whatever V is.
    assert torch.allclose(model.reconstruction_map(), principal_projector(data, 2), atol=1e-4)


def test_linear_autoencoder_weights_are_not_identified(data):
    # Two seeds reach the same projector with different encoders: only the subspace is learned.
    a, _ = train_linear_autoencoder(data, 2, steps=2000, lr=1e-2, seed=0)
    b, _ = train_linear_autoencoder(data, 2, steps=2000, lr=1e-2, seed=1)
    assert torch.allclose(a.reconstruction_map(), b.reconstruction_map(), atol=1e-4)
    assert (a.encoder.weight - b.encoder.weight).abs().max().item() > 0.1


def test_analytic_elbo_equals_its_monte_carlo_estimate(data):
    model, _ = train_linear_vae(data, 2, steps=50, seed=0)  # a generic, unconverged model
    torch.manual_seed(4)
    with torch.no_grad():
        exact = model.analytic_elbo(data)
        draws = torch.stack([model.sampled_elbo(data, samples=1) for _ in range(400)])  # (400, N)
    standard_error = draws.std(0) / math.sqrt(len(draws))
    assert ((draws.mean(0) - exact).abs() < 4.5 * standard_error + 1e-9).all()


def test_linear_vae_elbo_approaches_the_ppca_maximum(data, linear_vae):
    model, history = linear_vae
    best = ppca.max_log_likelihood(data, 2)
    own_likelihood = ppca.log_likelihood(data, model.as_ppca())
    # ELBO <= log p_theta(x) of its own decoder <= the pPCA maximum, and the gaps close.
    assert history[-1] <= own_likelihood + 1e-9 <= best + 2e-9
    assert best - history[-1] < 5e-4
    assert history[-1] > history[0] + 5.0


def test_linear_vae_decoder_is_the_ppca_solution(data, linear_vae):
    model, _ = linear_vae
    fitted = ppca.fit(data, 2)
    learned = model.as_ppca()
    assert learned.noise_var == pytest.approx(fitted.noise_var, rel=1e-3)
    # W is identified only up to a rotation, C = W W^T + sigma^2 I is not: compare the two C's
    # relative to each other (the likelihood is flat along high-variance directions, so an
    # absolute comparison would ask more than the 5e-4 nats that separate the two models).
    ratio = torch.linalg.eigvals(torch.linalg.solve(fitted.covariance, learned.covariance)).real
    assert (ratio - 1.0).abs().max().item() < 0.05


def test_linear_vae_encoder_is_the_exact_posterior(data, linear_vae):
    # At the optimum q(z|x) = p(z|x): mean G^{-1} W^T (x - mu), covariance sigma^2 G^{-1}, and
    # G = W^T W + sigma^2 I is diagonal, which is why a diagonal q can be exact.
    model, _ = linear_vae
    learned = model.as_ppca()
    means, cov = ppca.posterior(data, learned)
    with torch.no_grad():
        q_means = model.encoder(data)
        q_var = model.posterior_logvar.exp()
    assert (q_means - means).abs().max().item() < 1e-3
    assert torch.allclose(q_var, cov.diagonal(), rtol=1e-3)
    # The ELBO depends on the rotation only at second order, so G becomes diagonal slowly.
    off_diagonal = cov - torch.diag(cov.diagonal())
    assert off_diagonal.abs().max().item() < 0.05 * cov.diagonal().min().item()

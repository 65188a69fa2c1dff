"""Chapter 4, the VAE as a regularized stochastic autoencoder: the second-order expansion of the
expected squared error under q(z|x) (the decoder's Jacobian penalty), checked against an exact
expectation computed by Gauss-Hermite quadrature."""
import numpy as np
import pytest
import torch

from vaeriants.autoencoders import LinearVAE

DTYPE = torch.float64


def smooth_decoder(seed=0, latent_dim=2, data_dim=5):
    """A small smooth decoder mean f(z) = W2 tanh(W1 z + b1) + b2, (latent_dim,) -> (data_dim,)."""
    g = torch.Generator().manual_seed(seed)
    w1, b1 = torch.randn(6, latent_dim, generator=g, dtype=DTYPE), torch.randn(6, generator=g, dtype=DTYPE)
    w2, b2 = torch.randn(data_dim, 6, generator=g, dtype=DTYPE), torch.randn(data_dim, generator=g, dtype=DTYPE)
    return lambda z: torch.tanh(z @ w1.T + b1) @ w2.T + b2


def exact_expected_error(f, x, mu, sigma, nodes=40):
    """E ||x - f(mu + sigma * eps)||^2 over eps ~ N(0, I_2), by a tensor-product Gauss-Hermite rule."""
    t, w = np.polynomial.hermite_e.hermegauss(nodes)  # weight exp(-t^2 / 2)
    w = w / w.sum()
    eps = torch.tensor(np.stack(np.meshgrid(t, t, indexing="ij"), -1).reshape(-1, 2), dtype=DTYPE)
    weights = torch.tensor(np.outer(w, w).reshape(-1), dtype=DTYPE)
    return (weights * ((x - f(mu + sigma * eps)) ** 2).sum(-1)).sum().item()


def second_order_error(f, x, mu, sigma):
    """The chapter's expansion: ||x - f(mu)||^2 + sum_j sigma_j^2 ||J_:j||^2
    - sum_j sigma_j^2 (x - f(mu))^T d^2 f / dz_j^2."""
    residual = x - f(mu)
    jac = torch.autograd.functional.jacobian(f, mu)  # (D, K)
    curvature = torch.stack([torch.autograd.functional.hessian(lambda z: f(z)[i], mu).diagonal()
                             for i in range(len(x))])  # (D, K): d^2 f_i / dz_j^2
    return (residual @ residual + (sigma**2 * (jac**2).sum(0)).sum()
            - (sigma**2 * (residual @ curvature)).sum()).item()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_jacobian_penalty_expansion_is_exact_to_second_order(seed):
    f = smooth_decoder(seed)
    g = torch.Generator().manual_seed(100 + seed)
    x, mu = torch.randn(5, generator=g, dtype=DTYPE), 0.5 * torch.randn(2, generator=g, dtype=DTYPE)
    base = torch.tensor([0.08, 0.05], dtype=DTYPE)
    errors = []
    for scale in [1.0, 0.5, 0.25]:
        sigma = scale * base
        errors.append(abs(exact_expected_error(f, x, mu, sigma) - second_order_error(f, x, mu, sigma)))
    # The neglected terms are of fourth order in sigma (the third-order ones average to zero), so
    # halving sigma divides the error by about 16; an error of second order would give only 4.
    for big, small in zip(errors, errors[1:]):
        assert 12.0 < big / small < 20.0


def test_the_penalty_is_exact_for_a_linear_decoder():
    # For f(z) = W z + b the expansion has no remainder: it is the sum_j s_j^2 ||w_j||^2 term of
    # the linear VAE's closed-form ELBO.
    torch.manual_seed(0)
    model = LinearVAE(5, 2).to(DTYPE)
    f = model.decoder
    g = torch.Generator().manual_seed(3)
    x, mu = torch.randn(5, generator=g, dtype=DTYPE), torch.randn(2, generator=g, dtype=DTYPE)
    sigma = torch.tensor([0.7, 1.3], dtype=DTYPE)
    with torch.no_grad():
        exact = exact_expected_error(f, x, mu, sigma)
        closed = ((x - f(mu)) ** 2).sum() + (sigma**2 * (f.weight**2).sum(0)).sum()
    assert exact == pytest.approx(closed.item(), rel=1e-12)
    assert second_order_error(f, x, mu, sigma) == pytest.approx(exact, rel=1e-12)

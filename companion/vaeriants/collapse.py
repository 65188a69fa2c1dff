"""Posterior collapse: measuring it, the linear model that explains it, and the remedies' arithmetic.

Chapter 5 uses these tools for:

* active units (Burda et al.'s statistic A_u = Cov_x(E_q[z_u])) and the per-unit KL of a
  trained VAE, and a sweep of VAEs over beta on scikit-learn's digits;
* probabilistic PCA with a fixed noise variance: the closed-form maximum-likelihood weights,
  whose columns vanish along directions with eigenvalue <= sigma^2, a gradient-ascent fit of
  the same likelihood, and the linear VAE of Lucas et al. with its ELBO in closed form;
* the free-bits objective and the committed rate of a delta-VAE with an AR(1) prior.

Linear-algebra routines take a sample covariance S (d, d) rather than the data: every
quantity below depends on the data only through S once the mean is set to the sample mean.
"""
import math

import torch

from vaeriants.distributions import LOG_2PI
from vaeriants.vae import VAEConfig, train_vae

DTYPE = torch.float64
ACTIVITY_THRESHOLD = 1e-2  # Burda et al.'s threshold on A_u


# ---------------------------------------------------------------------------------------------
# Active units and per-unit KL of a trained VAE
# ---------------------------------------------------------------------------------------------

def unit_activity(posterior_means):
    """A_u = Cov_x(E_{q(z|x)}[z_u]): the variance over the data of each posterior mean; (N, d) -> (d,)."""
    return posterior_means.var(dim=0, unbiased=False)


def count_active_units(activity, threshold=ACTIVITY_THRESHOLD):
    return int((activity > threshold).sum())


def kl_per_unit(means, logvars):
    """E_x KL(q(z_u|x) || N(0, 1)) for each unit u; (N, d) each -> (d,)."""
    return (0.5 * (logvars.exp() + means**2 - 1.0 - logvars)).mean(dim=0)


def encode(model, data):
    """Posterior means and log-variances of a trained VAE on `data` (N, data_dim)."""
    with torch.no_grad():
        return model.encoder(data)


def beta_sweep(data, betas, latent_dim=16, hidden_dim=64, epochs=200, seed=0):
    """Train one VAE per beta; return, per beta, the activity and KL of every latent unit.

    All runs share the seed, so they start from the same weights and see the same minibatch
    order: the differences between them are due to beta alone.
    """
    results = []
    for beta in betas:
        cfg = VAEConfig(latent_dim=latent_dim, hidden_dim=hidden_dim, epochs=epochs, beta=float(beta))
        model, losses = train_vae(data, cfg, seed=seed)
        means, logvars = encode(model, data)
        results.append({
            "beta": float(beta),
            "activity": unit_activity(means),
            "kl": kl_per_unit(means, logvars),
            "final_loss": losses[-1],
        })
    return results


# ---------------------------------------------------------------------------------------------
# Probabilistic PCA with a fixed noise variance, and the linear VAE
# ---------------------------------------------------------------------------------------------

def sample_covariance(x):
    """Sample mean (d,) and covariance with divisor N (d, d) of x (N, d)."""
    x = x.to(DTYPE)
    mean = x.mean(dim=0)
    centred = x - mean
    return mean, centred.T @ centred / len(x)


def sorted_eigh(cov):
    """Eigenvalues in decreasing order and the matching eigenvectors (as columns)."""
    values, vectors = torch.linalg.eigh(cov)
    return values.flip(0), vectors.flip(1)


def ppca_ml_weights(cov, k, noise_var):
    """The maximum-likelihood W (d, k) of pPCA with fixed noise variance sigma^2.

    W = U_k diag(sqrt(max(lambda_i - sigma^2, 0))) (Tipping and Bishop, up to a rotation of
    the columns): a direction whose eigenvalue does not exceed sigma^2 gets a zero column.
    """
    values, vectors = sorted_eigh(cov)
    scales = (values[:k] - noise_var).clamp(min=0.0).sqrt()
    return vectors[:, :k] * scales


def ppca_ml_noise_var(cov, k):
    """The maximum-likelihood sigma^2 when it is learned: the mean of the d - k discarded eigenvalues."""
    values, _ = sorted_eigh(cov)
    return float(values[k:].mean())


def ppca_log_likelihood(cov, weights, noise_var):
    """Average log-likelihood per data point of N(mean, W W^T + sigma^2 I) at the sample mean.

    -(1/2) [d log 2 pi + log det C + tr(C^{-1} S)] with C = W W^T + sigma^2 I.
    """
    d = cov.shape[0]
    model_cov = weights @ weights.T + noise_var * torch.eye(d, dtype=cov.dtype)
    chol = torch.linalg.cholesky(model_cov)
    logdet = 2.0 * chol.diagonal().log().sum()
    trace = torch.cholesky_solve(cov, chol).diagonal().sum()
    return -0.5 * (d * LOG_2PI + logdet + trace)


def _maximize(objective, params, max_iter):
    """Maximize a deterministic objective by L-BFGS with a line search (closed-form losses only)."""
    optimizer = torch.optim.LBFGS(params, max_iter=max_iter, line_search_fn="strong_wolfe",
                                  tolerance_grad=1e-10, tolerance_change=1e-14, history_size=50)

    def closure():
        optimizer.zero_grad()
        loss = -objective()
        loss.backward()
        return loss

    optimizer.step(closure)


def fit_ppca_by_gradient(cov, k, noise_var, max_iter=3000, seed=0):
    """Maximize the pPCA log-likelihood over W from a random W; returns W (d, k)."""
    generator = torch.Generator().manual_seed(seed)
    weights = (0.5 * torch.randn(cov.shape[0], k, generator=generator, dtype=DTYPE)).requires_grad_(True)
    _maximize(lambda: ppca_log_likelihood(cov, weights, noise_var), [weights], max_iter)
    return weights.detach()


def linear_vae_elbo(cov, weights, encoder_weights, encoder_logvar, noise_var):
    """The average ELBO of the linear VAE of Lucas et al., in closed form.

    Decoder p(x|z) = N(W z + mean, sigma^2 I); encoder q(z|x) = N(V (x - mean), diag(exp(l)))
    with a variance that does not depend on x. Averaged over data with covariance S:
        E log p(x|z) = -(d/2) log(2 pi sigma^2) - [tr((I - W V) S (I - W V)^T) + tr(W D W^T)] / (2 sigma^2)
        E KL         = (1/2) [tr D + tr(V S V^T) - k - sum l]
    """
    d, k = weights.shape
    residual = torch.eye(d, dtype=cov.dtype) - weights @ encoder_weights  # (d, d)
    variances = encoder_logvar.exp()  # (k,)
    squared_error = (residual @ cov @ residual.T).diagonal().sum() + ((weights**2) * variances).sum()
    expected_log_likelihood = -0.5 * d * (LOG_2PI + math.log(noise_var)) - squared_error / (2.0 * noise_var)
    return expected_log_likelihood - linear_vae_kl_per_unit(cov, encoder_weights, encoder_logvar).sum()


def linear_vae_kl_per_unit(cov, encoder_weights, encoder_logvar):
    """E_x KL(q(z_j|x) || N(0, 1)) = (1/2) [D_jj + (V S V^T)_jj - 1 - l_j] for each latent j."""
    code_variance = (encoder_weights @ cov @ encoder_weights.T).diagonal()  # Var_x of the posterior means
    return 0.5 * (encoder_logvar.exp() + code_variance - 1.0 - encoder_logvar)


def train_linear_vae(cov, k, noise_var, max_iter=5000, seed=0):
    """Maximize the closed-form linear-VAE ELBO from random weights; returns (W, V, l)."""
    generator = torch.Generator().manual_seed(seed)
    d = cov.shape[0]
    weights = (0.3 * torch.randn(d, k, generator=generator, dtype=DTYPE)).requires_grad_(True)
    encoder_weights = (0.3 * torch.randn(k, d, generator=generator, dtype=DTYPE)).requires_grad_(True)
    encoder_logvar = torch.zeros(k, dtype=DTYPE, requires_grad=True)
    params = [weights, encoder_weights, encoder_logvar]
    _maximize(lambda: linear_vae_elbo(cov, *params, noise_var), params, max_iter)
    return weights.detach(), encoder_weights.detach(), encoder_logvar.detach()


def spiked_covariance_data(n, eigenvalues, seed=0):
    """n points from N(0, U diag(eigenvalues) U^T) with a random orthogonal U; returns (x, U)."""
    generator = torch.Generator().manual_seed(seed)
    d = len(eigenvalues)
    basis, _ = torch.linalg.qr(torch.randn(d, d, generator=generator, dtype=DTYPE))
    scales = torch.tensor(eigenvalues, dtype=DTYPE).sqrt()
    x = (torch.randn(n, d, generator=generator, dtype=DTYPE) * scales) @ basis.T
    return x, basis


# ---------------------------------------------------------------------------------------------
# Remedies: free bits and the committed rate of a delta-VAE
# ---------------------------------------------------------------------------------------------

def free_bits_kl(kl_per_group, free_bits):
    """Kingma et al.'s free-bits penalty sum_j max(lambda, KL_j), with KL_j averaged over the minibatch.

    Below lambda nats a group's KL is no longer penalized at all: its gradient is zero.
    """
    return torch.clamp(kl_per_group, min=free_bits).sum()


def ar1_covariance(alpha, n):
    """Covariance alpha^|i - j| of a stationary AR(1) sequence with unit marginal variance."""
    idx = torch.arange(n, dtype=DTYPE)
    return alpha ** (idx[:, None] - idx[None, :]).abs()


def ar1_committed_rate(alpha, n):
    """min over factorized Gaussian q of KL(q || AR(1) prior) = (1/2)[(n-2) log(1+a^2) - log(1-a^2)], n >= 2.

    The AR(1) precision is tridiagonal with diagonal (1, 1+a^2, ..., 1+a^2, 1)/(1-a^2) and
    determinant (1-a^2)^{-(n-1)}; the mean-field gap (1/2)(sum log L_ii - log det L) gives the formula.
    The closed form is the monograph's own derivation (chapter 5), not quoted from Razavi et al.
    """
    if n < 2:
        raise ValueError("an AR(1) prior commits a rate only for n >= 2 latent steps")
    a2 = alpha * alpha
    return 0.5 * ((n - 2) * math.log1p(a2) - math.log1p(-a2))


def fixed_variance_committed_rate(max_std):
    """Smallest KL(N(m, s^2) || N(0, 1)) over m and s <= max_std < 1: (1/2)(s^2 - 1 - log s^2) at s = max_std."""
    v = max_std**2
    return 0.5 * (v - 1.0 - math.log(v))


"""Factor analysis: the linear-Gaussian latent variable model of chapter 1.

    z ~ N(0, I_m),    x | z ~ N(W z + b, Psi),    Psi = diag(psi)

so that p(x) = N(b, W W^T + Psi) is available in closed form and so is the posterior,

    p(z | x) = N(G W^T Psi^{-1} (x - b), G),    G = (I + W^T Psi^{-1} W)^{-1}.

Probabilistic PCA (Tipping and Bishop, 1999) is the special case psi = sigma^2 (1, ..., 1).
Because every quantity is exact, the model is the place to check Fisher's identity (the gradient
of log p(x) is the posterior average of the complete-data gradient) and the monotonicity of EM
with continuous latent variables. Arrays are numpy float64; x has shape (N, d).
"""
from dataclasses import dataclass

import numpy as np


@dataclass
class FAParams:
    loadings: np.ndarray  # W, (d, m)
    offset: np.ndarray  # b, (d,)
    noise: np.ndarray  # psi, (d,), the diagonal of Psi

    @property
    def marginal_cov(self):
        """C = W W^T + Psi, (d, d)."""
        return self.loadings @ self.loadings.T + np.diag(self.noise)


def log_likelihood(x, params):
    """sum_n log N(x_n; b, W W^T + Psi)."""
    n, d = x.shape
    chol = np.linalg.cholesky(params.marginal_cov)
    y = np.linalg.solve(chol, (x - params.offset).T)  # (d, N)
    log_det = 2.0 * np.log(np.diag(chol)).sum()
    return float(-0.5 * (n * (d * np.log(2.0 * np.pi) + log_det) + (y**2).sum()))


def posterior(x, params):
    """Posterior means (N, m) and the shared posterior covariance G (m, m)."""
    w_over_psi = params.loadings / params.noise[:, None]  # Psi^{-1} W, (d, m)
    m = params.loadings.shape[1]
    post_cov = np.linalg.inv(np.eye(m) + params.loadings.T @ w_over_psi)  # G
    post_means = (x - params.offset) @ w_over_psi @ post_cov  # rows: G W^T Psi^{-1} (x_n - b)
    return post_means, post_cov


def sample(n, params, seed):
    """n draws of x by ancestral sampling: z from the prior, then x from p(x | z)."""
    rng = np.random.default_rng(seed)
    d, m = params.loadings.shape
    z = rng.standard_normal((n, m))
    eps = rng.standard_normal((n, d)) * np.sqrt(params.noise)
    return z @ params.loadings.T + params.offset + eps


# ---------------------------------------------------------------------------------------------
# Fisher's identity: gradients of log p(x) as posterior averages of complete-data gradients
# ---------------------------------------------------------------------------------------------

def fisher_gradient_loadings(x, params):
    """d log p(x) / dW = sum_n E_{p(z|x_n)}[Psi^{-1} (x_n - b - W z) z^T], (d, m).

    The complete-data gradient is linear in z and z z^T, so the posterior average only needs
    E[z] = m_n and E[z z^T] = G + m_n m_n^T.
    """
    post_means, post_cov = posterior(x, params)
    centred = x - params.offset
    second_moment = x.shape[0] * post_cov + post_means.T @ post_means  # sum_n E[z z^T], (m, m)
    return (centred.T @ post_means - params.loadings @ second_moment) / params.noise[:, None]


def fisher_gradient_log_noise(x, params):
    """d log p(x) / d log psi_j = sum_n E[-1/2 + (x_nj - b_j - (W z)_j)^2 / (2 psi_j)], (d,)."""
    post_means, post_cov = posterior(x, params)
    residual = x - params.offset - post_means @ params.loadings.T  # x_n - b - W m_n, (N, d)
    spread = np.einsum("ij,jk,ik->i", params.loadings, post_cov, params.loadings)  # diag(W G W^T)
    expected_sq = (residual**2).sum(0) + x.shape[0] * spread
    return -0.5 * x.shape[0] + 0.5 * expected_sq / params.noise


# ---------------------------------------------------------------------------------------------
# EM
# ---------------------------------------------------------------------------------------------

def em_step(x, params, isotropic=False):
    """One EM iteration; with isotropic=True the noise is shared (probabilistic PCA).

    E-step: posterior moments m_n and G. M-step (b stays at the data mean, its ML value):
        W    = [sum_n (x_n - b) m_n^T] [sum_n (G + m_n m_n^T)]^{-1}
        psi  = diag( 1/N sum_n [(x_n - b)(x_n - b)^T - W m_n (x_n - b)^T] )
    and for pPCA sigma^2 is the mean of that diagonal.
    """
    post_means, post_cov = posterior(x, params)
    centred = x - params.offset
    n = x.shape[0]
    second_moment = n * post_cov + post_means.T @ post_means
    loadings = np.linalg.solve(second_moment, (centred.T @ post_means).T).T  # (d, m)
    noise = ((centred**2).sum(0) - np.einsum("ij,nj,ni->i", loadings, post_means, centred)) / n
    if isotropic:
        noise = np.full_like(noise, noise.mean())
    return FAParams(loadings, params.offset, noise)


def run_em(x, init, n_iter, isotropic=False):
    """EM from init (its offset is replaced by the data mean); returns params and log-likelihoods."""
    params = FAParams(init.loadings, x.mean(0), init.noise)
    log_liks = [log_likelihood(x, params)]
    for _ in range(n_iter):
        params = em_step(x, params, isotropic)
        log_liks.append(log_likelihood(x, params))
    return params, np.array(log_liks)


def random_params(d, m, seed, noise_scale=0.3):
    """A random factor-analysis model: Gaussian loadings, noise variances in [s, 2s]."""
    rng = np.random.default_rng(seed)
    return FAParams(
        loadings=rng.standard_normal((d, m)),
        offset=rng.standard_normal(d),
        noise=noise_scale * (1.0 + rng.random(d)),
    )

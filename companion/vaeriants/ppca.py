"""Probabilistic PCA (Tipping and Bishop, 1999): the model, its closed-form maximum likelihood
solution, EM, and the exact posterior.

Model: z ~ N(0, I_k), x | z ~ N(W z + mean, noise_var I_d), so x ~ N(mean, C) with
C = W W^T + noise_var I_d. Everything here works in float64: the tests compare log-likelihoods
to many digits.
"""
import math
from dataclasses import dataclass

import torch

LOG_2PI = math.log(2.0 * math.pi)


@dataclass
class PPCA:
    mean: torch.Tensor  # (d,)
    weight: torch.Tensor  # W, (d, k)
    noise_var: float  # sigma^2

    @property
    def covariance(self):  # C = W W^T + sigma^2 I, (d, d)
        d = self.weight.shape[0]
        return self.weight @ self.weight.T + self.noise_var * torch.eye(d, dtype=self.weight.dtype)


def mean_and_covariance(x):
    """Sample mean (d,) and maximum likelihood covariance S = (1/N) sum (x - mean)(x - mean)^T."""
    mean = x.mean(0)
    centred = x - mean
    return mean, centred.T @ centred / len(x)


def log_likelihood(x, model: PPCA):
    """Average log N(x_i; mean, C) over the rows of x (N, d), by a Cholesky factorization of C."""
    d = x.shape[1]
    chol = torch.linalg.cholesky(model.covariance)
    centred = (x - model.mean).T  # (d, N)
    whitened = torch.linalg.solve_triangular(chol, centred, upper=False)  # L^{-1}(x - mean)
    logdet = 2.0 * chol.diagonal().log().sum()
    return (-0.5 * (d * LOG_2PI + logdet + (whitened**2).sum(0))).mean().item()


def fit(x, k):
    """The closed-form maximum likelihood pPCA of Tipping and Bishop (1999).

    With S = U diag(lambda) U^T (eigenvalues in decreasing order):
    sigma^2 = mean of the d - k smallest eigenvalues, W = U_k (Lambda_k - sigma^2 I)^{1/2} (R = I).
    """
    return stationary_point(x, range(k))


def stationary_point(x, components):
    """The stationary point of the likelihood built from any set of eigenvectors of S:
    W = U_c (Lambda_c - sigma^2 I)^{1/2}, sigma^2 = mean of the other eigenvalues. Only the top-k
    set is the maximum; the others are saddle points (Tipping and Bishop, 1999)."""
    mean, cov = mean_and_covariance(x)
    eigvals, eigvecs = eigendecomposition(cov)
    chosen = torch.tensor(sorted(components))
    rest = torch.tensor([j for j in range(len(eigvals)) if j not in set(components)])
    noise_var = eigvals[rest].mean().item()
    weight = eigvecs[:, chosen] * (eigvals[chosen] - noise_var).clamp(min=0.0).sqrt()
    return PPCA(mean, weight, noise_var)


def max_log_likelihood(x, k):
    """The maximum of the average log-likelihood, in closed form:

    -1/2 [ d log(2 pi) + sum_{j<=k} log lambda_j + (d - k) log sigma^2 + d ].
    """
    d = x.shape[1]
    _, cov = mean_and_covariance(x)
    eigvals, _ = eigendecomposition(cov)
    noise_var = eigvals[k:].mean()
    return (-0.5 * (d * LOG_2PI + eigvals[:k].log().sum() + (d - k) * noise_var.log() + d)).item()


def eigendecomposition(symmetric):
    """Eigenvalues in decreasing order and the matching unit eigenvectors (as columns)."""
    eigvals, eigvecs = torch.linalg.eigh(symmetric)  # increasing order
    return eigvals.flip(0), eigvecs.flip(1)


def em_step(model: PPCA, cov):
    """One EM update of (W, sigma^2) given the sample covariance S (Tipping and Bishop, 1999).

    G = W^T W + sigma^2 I (their M);  W_new = S W (sigma^2 I + G^{-1} W^T S W)^{-1};
    sigma^2_new = tr(S - S W G^{-1} W_new^T) / d. The mean stays at the sample mean.
    """
    d, k = model.weight.shape
    w, s2 = model.weight, model.noise_var
    eye = torch.eye(k, dtype=w.dtype)
    g_inv = torch.linalg.inv(w.T @ w + s2 * eye)
    sw = cov @ w  # (d, k)
    w_new = sw @ torch.linalg.inv(s2 * eye + g_inv @ w.T @ sw)
    s2_new = (torch.trace(cov) - torch.trace(sw @ g_inv @ w_new.T)).item() / d
    return PPCA(model.mean, w_new, s2_new)


def fit_em(x, k, iterations, seed=0):
    """EM from a random start; returns the final model and the log-likelihood after each step."""
    mean, cov = mean_and_covariance(x)
    generator = torch.Generator().manual_seed(seed)
    model = PPCA(mean, torch.randn(x.shape[1], k, generator=generator, dtype=x.dtype), 1.0)
    history = []
    for _ in range(iterations):
        model = em_step(model, cov)
        history.append(log_likelihood(x, model))
    return model, history


def posterior(x, model: PPCA):
    """The exact posterior p(z|x) = N(G^{-1} W^T (x - mean), sigma^2 G^{-1}), G = W^T W + sigma^2 I.

    Returns the posterior means (N, k) and the shared covariance (k, k).
    """
    k = model.weight.shape[1]
    g = model.weight.T @ model.weight + model.noise_var * torch.eye(k, dtype=model.weight.dtype)
    g_inv = torch.linalg.inv(g)
    means = (x - model.mean) @ model.weight @ g_inv  # rows: (G^{-1} W^T (x_i - mean))^T
    return means, model.noise_var * g_inv


def sample(n, model: PPCA, generator):
    """n draws by ancestral sampling: z ~ N(0, I), then x ~ N(W z + mean, sigma^2 I)."""
    d, k = model.weight.shape
    z = torch.randn(n, k, generator=generator, dtype=model.weight.dtype)
    noise = torch.randn(n, d, generator=generator, dtype=model.weight.dtype)
    return z @ model.weight.T + model.mean + math.sqrt(model.noise_var) * noise

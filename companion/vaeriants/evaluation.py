"""Estimating and reporting how good a latent variable model is (chapter 7).

Three groups of tools:
- importance sampling and the K-sample bound, with a linear-Gaussian model whose marginal
  likelihood, posterior and chi-square divergences are known in closed form, so that every
  estimator can be compared with the exact answer;
- unit conversions for discrete data: bits per dimension, the log 256 change of scale, and
  uniform dequantization;
- the numbers a paper should report for a trained VAE (ELBO, rate, distortion, the K-sample
  bound, active units) and the Frechet distance behind FID.

Log-weights are kept in float64 where the text compares them with exact values: a logsumexp
over 10^4 terms loses digits in float32 that the tests would notice.
"""
import math
from dataclasses import dataclass

import numpy as np
import scipy.linalg
import torch

from vaeriants.distributions import (
    LOG_2PI,
    kl_diag_normal_standard_normal,
    log_bernoulli,
    log_mean_exp,
    log_normal_diag,
    log_standard_normal,
)

LOG_2 = math.log(2.0)


# ----------------------------------------------------------------------------------------
# Gaussians with full covariance, in float64
# ----------------------------------------------------------------------------------------

def log_normal_full(x, mean, cov):
    """log N(x; mean, cov) for x of shape (..., d) and one (d, d) covariance."""
    d = mean.shape[-1]
    chol = torch.linalg.cholesky(cov)
    # With cov = L L^T, the Mahalanobis term is ||L^{-1}(x - mean)||^2; d is small here, so
    # inverting L once beats a batched triangular solve.
    whitened = (x - mean) @ torch.linalg.inv(chol).T  # (..., d)
    mahalanobis = (whitened**2).sum(-1)  # (...)
    logdet = 2.0 * chol.diagonal().log().sum()
    return -0.5 * (d * LOG_2PI + logdet + mahalanobis)


@dataclass
class GaussianProposal:
    """A fixed Gaussian q(z) = N(mean, cov): the approximate posterior of one data point."""

    mean: torch.Tensor  # (d_z,)
    cov: torch.Tensor  # (d_z, d_z)

    def sample(self, shape, generator):
        """Draws of shape (*shape, d_z), by z = mean + L eps with cov = L L^T."""
        eps = torch.randn(*shape, self.mean.shape[0], generator=generator, dtype=self.mean.dtype)
        return self.mean + eps @ torch.linalg.cholesky(self.cov).T

    def log_prob(self, z):
        return log_normal_full(z, self.mean, self.cov)


@dataclass
class LinearGaussianModel:
    """p(z) = N(0, I), p(x | z) = N(W z + b, s^2 I): every quantity of chapter 7 in closed form.

    p(x) = N(b, W W^T + s^2 I), and the posterior is N(m(x), S) with
    S = (I + W^T W / s^2)^{-1} and m(x) = S W^T (x - b) / s^2.
    """

    weight: torch.Tensor  # (d_x, d_z)
    bias: torch.Tensor  # (d_x,)
    noise_std: float

    @property
    def latent_dim(self):
        return self.weight.shape[1]

    def log_prior(self, z):
        return log_standard_normal(z)

    def log_likelihood(self, x, z):
        """log p(x | z) for z of shape (..., d_z) and x broadcastable to (..., d_x)."""
        residual = x - (z @ self.weight.T + self.bias)  # (..., d_x)
        d_x = self.weight.shape[0]
        # log N(x; Wz + b, s^2 I), written out: the variance is one scalar.
        return -0.5 * (d_x * (LOG_2PI + 2.0 * math.log(self.noise_std)) + (residual**2).sum(-1) / self.noise_std**2)

    def log_joint(self, x, z):
        return self.log_likelihood(x, z) + self.log_prior(z)

    def marginal_cov(self):
        d_x = self.weight.shape[0]
        return self.weight @ self.weight.T + self.noise_std**2 * torch.eye(d_x, dtype=self.weight.dtype)

    def log_marginal(self, x):
        """The exact log p(x)."""
        return log_normal_full(x, self.bias, self.marginal_cov())

    def posterior(self, x):
        """Mean (..., d_z) and covariance (d_z, d_z) of p(z | x)."""
        precision = torch.eye(self.latent_dim, dtype=self.weight.dtype) + self.weight.T @ self.weight / self.noise_std**2
        cov = torch.linalg.inv(precision)
        mean = (x - self.bias) @ self.weight @ cov.T / self.noise_std**2
        return mean, cov

    def sample(self, n, generator):
        """n draws (z, x) from the joint p(z) p(x | z); z is an exact posterior sample for its x."""
        d_x, d_z = self.weight.shape
        z = torch.randn(n, d_z, generator=generator, dtype=self.weight.dtype)
        noise = torch.randn(n, d_x, generator=generator, dtype=self.weight.dtype)
        x = z @ self.weight.T + self.bias + self.noise_std * noise
        return z, x


def chi_square_divergence_gaussians(mean_p, cov_p, mean_q, cov_q):
    """chi^2(p || q) = E_q[(p/q)^2] - 1 = int p^2/q - 1 for Gaussians p and q.

    The integral is a Gaussian integral with precision A = 2 P_p - P_q (P = inverse
    covariance); it is finite only if A is positive definite, i.e. q is not too narrow
    compared with p. Returns +inf when it is not.
    """
    prec_p, prec_q = torch.linalg.inv(cov_p), torch.linalg.inv(cov_q)
    a = 2.0 * prec_p - prec_q
    if torch.linalg.eigvalsh(a).min() <= 0:
        return math.inf
    b = 2.0 * prec_p @ mean_p - prec_q @ mean_q
    d = mean_p.shape[0]
    const = (
        -0.5 * d * LOG_2PI
        - torch.linalg.slogdet(cov_p)[1]
        + 0.5 * torch.linalg.slogdet(cov_q)[1]
        - mean_p @ prec_p @ mean_p
        + 0.5 * mean_q @ prec_q @ mean_q
    )
    log_integral = const + 0.5 * b @ torch.linalg.solve(a, b) + 0.5 * d * LOG_2PI - 0.5 * torch.linalg.slogdet(a)[1]
    return math.expm1(log_integral.item())


def weight_tail_index(cov_p, cov_q):
    """Tail index alpha of the importance weight p(z)/q(z) for z ~ q, Gaussians p and q.

    Whitening z with q, u = Lambda_q^{1/2} (z - mean_q) ~ N(0, I), the log weight is
    (1/2) u^T M u + (linear in u) + const with M = I - Lambda_q^{-1/2} Lambda_p Lambda_q^{-1/2}.
    Along the top eigenvector of M, P(w > t) = P(u^2 > (2 / lambda_max) log t + ...) decays
    like t^(-1 / lambda_max). So alpha = 1 / lambda_max, and E[w^m] is finite exactly when
    m < alpha. When lambda_max <= 0, alpha is infinite: every moment is finite (and the weights
    are bounded when lambda_max < 0).
    """
    chol_q = torch.linalg.cholesky(cov_q)  # cov_q = L L^T, so Lambda_q^{-1/2} ~ L
    m = torch.eye(cov_q.shape[0], dtype=cov_q.dtype) - chol_q.T @ torch.linalg.inv(cov_p) @ chol_q
    lambda_max = torch.linalg.eigvalsh(m).max().item()
    return math.inf if lambda_max <= 0 else 1.0 / lambda_max


def worked_example():
    """The chapter's running example: a 2-D latent, 4-D linear-Gaussian model and one x.

    Returns (model, x, proposals), where proposals maps a name to a Gaussian q(z):
    - "reverse-KL": the mean-field Gaussian that maximizes the ELBO (minimizes
      KL(q || p(z | x))): the posterior mean with variances 1 / Lambda_ii, Lambda the
      posterior precision;
    - "forward-KL": the diagonal Gaussian that minimizes KL(p(z | x) || q): the posterior
      mean with the posterior's marginal variances.
    """
    dt = torch.float64
    weight = torch.tensor([[1.0, 0.8], [0.6, 1.0], [0.8, 0.4], [0.3, 0.5]], dtype=dt)
    model = LinearGaussianModel(weight, torch.zeros(4, dtype=dt), noise_std=0.5)
    x = torch.tensor([1.0, 1.5, 0.5, 0.5], dtype=dt)
    mean, cov = model.posterior(x)
    precision = torch.linalg.inv(cov)
    proposals = {
        "reverse-KL": GaussianProposal(mean, torch.diag(1.0 / precision.diagonal())),
        "forward-KL": GaussianProposal(mean, torch.diag(cov.diagonal())),
    }
    return model, x, proposals


# ----------------------------------------------------------------------------------------
# Importance sampling and the K-sample bound
# ----------------------------------------------------------------------------------------

def log_importance_weights(log_joint, proposal, num_samples, num_repeats, generator):
    """log w = log p(x, z) - log q(z) for z ~ q, shape (num_repeats, num_samples).

    `log_joint` maps z of shape (..., d_z) to log p(x, z) of shape (...) for the fixed x.
    """
    z = proposal.sample((num_repeats, num_samples), generator)  # (R, K, d_z)
    return log_joint(z) - proposal.log_prob(z)  # (R, K)


def log_likelihood_estimates(log_weights):
    """log of (1/K) sum_k w_k for each row: one K-sample estimate of log p(x) per row.

    Written as logsumexp - log K so that no weight is exponentiated on its own: the largest
    log-weight is subtracted before exponentiating, and log K turns the sum into a mean.
    Its expectation over the rows is the K-sample bound L_K.
    """
    return log_mean_exp(log_weights, dim=-1)


def likelihood_estimates(log_weights):
    """(1/K) sum_k w_k for each row: the importance-sampling estimate of p(x), unbiased."""
    return log_likelihood_estimates(log_weights).exp()


def iwae_bound(log_weights):
    """Monte Carlo estimate of L_K (mean over rows) and its standard error, as floats."""
    estimates = log_likelihood_estimates(log_weights)
    return estimates.mean().item(), (estimates.std() / math.sqrt(len(estimates))).item()


def iwae_gap_given_evidence(log_weights, log_evidence, control_variate=True):
    """Estimate of log p(x) - L_K and its standard error, for a model where log p(x) is known.

    With r = (1/K) sum_k w_k / p(x) for each row, log p(x) - L_K = E[-log r], and since
    E[r] = 1 every c gives the same expectation E[c (r - 1) - log r]: r - 1 is a control
    variate. With c = 1 the integrand r - 1 - log r is never negative and is about
    (r - 1)^2 / 2 near r = 1, far less noisy than -log r; when the weights are heavy-tailed,
    r - 1 is itself noisy and a smaller c is better. c is fitted by least squares (its
    variance-minimizing value Cov(r, log r) / Var(r)), clipped to [0, 1].

    The control variate needs weights of finite variance (chi^2 < infinity). Otherwise r - 1
    has infinite variance: the sample mean of r - 1 is then usually well below its expectation
    0 (the rare huge weights are missing), which drags the estimate down, and the standard
    error does not show it. Pass control_variate=False for such weights: c = 0 leaves the
    plain log p(x) - mean(log p_hat_K), whose integrand -log r has finite variance for any
    Gaussian pair, so that its standard error can be trusted.
    """
    log_r = (log_likelihood_estimates(log_weights) - log_evidence).double()  # (R,)
    r_minus_1 = torch.expm1(log_r)  # accurate for small log r
    centred = r_minus_1 - r_minus_1.mean()
    if control_variate:
        c = ((centred * (log_r - log_r.mean())).sum() / (centred**2).sum()).clamp(0.0, 1.0)
    else:
        c = torch.zeros((), dtype=log_r.dtype)
    integrand = c * r_minus_1 - log_r
    return integrand.mean().item(), (integrand.std() / math.sqrt(len(integrand))).item()


def delta_method_gap(chi_square, num_samples):
    """First-order prediction of log p(x) - L_K: Var[w] / (2 K p(x)^2) = chi^2 / (2K)."""
    return chi_square / (2.0 * num_samples)


# ----------------------------------------------------------------------------------------
# Discrete data: bits per dimension and dequantization
# ----------------------------------------------------------------------------------------

def bits_per_dim(nll_nats, num_dims):
    """Negative log-likelihood in nats for a whole data point -> bits per dimension."""
    return nll_nats / (num_dims * LOG_2)


def nll_in_integer_units(nll_unit_scale, num_dims, levels=256):
    """Change of scale for a density on data rescaled to [0, 1).

    If y = v / levels with v in [0, levels)^D, then p_v(v) = p_y(v / levels) / levels^D,
    so -log p_v = -log p_y + D log(levels). Only the density on [0, levels)^D, whose unit
    cubes have volume 1, bounds a probability of the discrete data.
    """
    return nll_unit_scale + num_dims * math.log(levels)


def dequantized_log_likelihood(log_density, x_int, num_samples, generator):
    """Monte Carlo estimate of E_u[log p(x + u)], u ~ U[0,1)^D, for integer data x_int (N, D).

    By Jensen this is at most log P(x), where P(x) = int_{[0,1)^D} p(x + u) du is the
    probability that the continuous model puts on the unit cube of x: a valid pmf.
    """
    u = torch.rand(num_samples, *x_int.shape, generator=generator, dtype=torch.float64)  # (S, N, D)
    return log_density(x_int.to(torch.float64) + u).mean(0)  # (N,)


# ----------------------------------------------------------------------------------------
# Sample-based scores: the Frechet distance behind FID
# ----------------------------------------------------------------------------------------

def frechet_distance(mean1, cov1, mean2, cov2):
    """||m1 - m2||^2 + tr(C1 + C2 - 2 (C1 C2)^{1/2}): the squared 2-Wasserstein distance
    between N(m1, C1) and N(m2, C2). Inputs and output are numpy arrays / floats."""
    covmean = scipy.linalg.sqrtm(cov1 @ cov2)
    covmean = covmean.real  # rounding can leave a tiny imaginary part
    return float(np.sum((mean1 - mean2) ** 2) + np.trace(cov1 + cov2 - 2.0 * covmean))


def frechet_distance_from_samples(features1, features2):
    """FID's recipe applied to two sets of feature vectors (n1, d) and (n2, d)."""
    return frechet_distance(
        features1.mean(0), np.cov(features1, rowvar=False),
        features2.mean(0), np.cov(features2, rowvar=False),
    )


# ----------------------------------------------------------------------------------------
# What to report for a trained VAE
# ----------------------------------------------------------------------------------------

def active_units(encoder_means, threshold=1e-2):
    """Activity Cov_x(E_q[z_u | x]) of each latent unit u and the number above `threshold`.

    encoder_means: (N, d_z), the encoder's mean for each of N data points.
    A unit whose posterior mean does not move with x carries no information about x.
    """
    activity = encoder_means.var(0)  # (d_z,)
    return activity, int((activity > threshold).sum())


def _vae_log_terms(model, x, num_samples, generator, chunk=64):
    """For K draws z ~ q(z | x): log p(x | z) and log w = log p(x, z) - log q(z | x), each (B, K)."""
    log_liks, log_ws = [], []
    for start in range(0, len(x), chunk):
        xb = x[start:start + chunk]  # (b, d_x)
        mean, logvar = model.encoder(xb)  # (b, d_z) each
        eps = torch.randn(num_samples, *mean.shape, generator=generator)  # (K, b, d_z)
        z = mean + (0.5 * logvar).exp() * eps  # (K, b, d_z)
        log_lik = log_bernoulli(xb, model.decoder(z))  # (K, b)
        log_w = log_lik + log_standard_normal(z) - log_normal_diag(z, mean, logvar)  # (K, b)
        log_liks.append(log_lik.T)
        log_ws.append(log_w.T)
    return torch.cat(log_liks), torch.cat(log_ws)


@torch.no_grad()
def vae_log_weights(model, x, num_samples, generator):
    """log p(x | z) + log p(z) - log q(z | x) for K draws z ~ q(z | x): shape (B, K)."""
    return _vae_log_terms(model, x, num_samples, generator)[1]


@torch.no_grad()
def vae_report(model, x, num_samples, generator):
    """The numbers to report for a VAE with a Bernoulli decoder on binary data x (N, d_x).

    Averaged over the data points: distortion D = E_q[-log p(x | z)] (Monte Carlo over the K
    draws that also give the bound), rate R = KL(q(z | x) || p(z)) (closed form),
    ELBO = -(D + R), the K-sample bound L_K in nats and in bits per dimension, and the
    activity of each latent unit with the number of active units.
    """
    mean, logvar = model.encoder(x)
    log_lik, log_w = _vae_log_terms(model, x, num_samples, generator)  # (N, K) each
    distortion = -log_lik.mean(1)  # (N,)
    rate = kl_diag_normal_standard_normal(mean, logvar)  # (N,)
    bound = log_likelihood_estimates(log_w)  # (N,)
    activity, count = active_units(mean)
    return {
        "elbo": -(distortion + rate).mean().item(),
        "rate": rate.mean().item(),
        "distortion": distortion.mean().item(),
        "iwae": bound.mean().item(),
        "bits_per_dim": bits_per_dim(-bound.mean().item(), x.shape[1]),
        "activity": activity,
        "active_units": count,
    }

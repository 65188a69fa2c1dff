"""Expectation-maximization for Gaussian mixtures, and the free energy it climbs (chapter 1).

The model is p_theta(x) = sum_k pi_k N(x; mu_k, Sigma_k) with a categorical latent z in {1..K}.
For one data set x of shape (N, d), a variational distribution q over the N latent labels is a
matrix of responsibilities r of shape (N, K) whose rows sum to one, and the free energy is

    F(r, theta) = sum_n sum_k r_nk [log pi_k + log N(x_n; mu_k, Sigma_k) - log r_nk]
                = log p_theta(x) - sum_n KL(r_n || p_theta(z | x_n)).

EM is coordinate ascent on F: the E-step sets r to the posterior (F then touches log p), the
M-step maximizes F over theta with r fixed. The variants of Neal and Hinton (1998) are here too:
a generalized (damped) M-step and an incremental E-step that refreshes a few points at a time.
Everything is numpy in float64, so that monotonicity can be checked to rounding error.
"""
from dataclasses import dataclass, field

import numpy as np
from scipy.special import logsumexp, xlogy


@dataclass
class GMMParams:
    weights: np.ndarray  # (K,), mixing proportions pi_k, positive, summing to one
    means: np.ndarray  # (K, d)
    covs: np.ndarray  # (K, d, d), symmetric positive definite

    @property
    def n_components(self):
        return self.weights.shape[0]


@dataclass
class EMHistory:
    params: list = field(default_factory=list)  # params[t]: after t M-steps (params[0] = init)
    log_likelihoods: list = field(default_factory=list)  # log p(x) under params[t], summed over points


# ---------------------------------------------------------------------------------------------
# Densities, posterior, free energy
# ---------------------------------------------------------------------------------------------

def log_gaussian(x, mean, cov):
    """log N(x_n; mean, cov) for each row of x (N, d); returns (N,). Uses a Cholesky factor."""
    d = x.shape[1]
    chol = np.linalg.cholesky(cov)
    # Solve L y = (x - mean)^T, so that ||y||^2 is the Mahalanobis distance.
    y = np.linalg.solve(chol, (x - mean).T)  # (d, N)
    log_det = 2.0 * np.log(np.diag(chol)).sum()
    return -0.5 * (d * np.log(2.0 * np.pi) + log_det + (y**2).sum(0))


def log_joint(x, params):
    """log p_theta(x_n, z_n = k) = log pi_k + log N(x_n; mu_k, Sigma_k); returns (N, K)."""
    columns = [log_gaussian(x, params.means[k], params.covs[k]) for k in range(params.n_components)]
    return np.log(params.weights) + np.stack(columns, axis=1)


def log_likelihood(x, params):
    """log p_theta(x) = sum_n log sum_k p_theta(x_n, k), computed with log-sum-exp."""
    return float(logsumexp(log_joint(x, params), axis=1).sum())


def e_step(x, params):
    """The exact posterior p_theta(z_n = k | x_n) by Bayes' rule; returns responsibilities (N, K)."""
    lj = log_joint(x, params)  # (N, K)
    return np.exp(lj - logsumexp(lj, axis=1, keepdims=True))


def free_energy(x, resp, params):
    """F(q, theta) = E_q[log p_theta(x, z)] + H(q), summed over points (0 log 0 = 0)."""
    return float((resp * log_joint(x, params)).sum() - xlogy(resp, resp).sum())


def expected_complete_log_likelihood(x, resp, params):
    """Q(theta) = E_q[log p_theta(x, z)]: the part of F that depends on theta."""
    return float((resp * log_joint(x, params)).sum())


def posterior_kl(x, resp, params):
    """sum_n KL(q_n || p_theta(z | x_n)): the gap between log p_theta(x) and F."""
    log_post = e_step_log(x, params)
    return float(xlogy(resp, resp).sum() - (resp * log_post).sum())


def e_step_log(x, params):
    """log p_theta(z_n = k | x_n), (N, K)."""
    lj = log_joint(x, params)
    return lj - logsumexp(lj, axis=1, keepdims=True)


# ---------------------------------------------------------------------------------------------
# M-step: closed form, from sufficient statistics
# ---------------------------------------------------------------------------------------------

def sufficient_statistics(x, resp):
    """Soft counts N_k (K,), first moments S1_k (K, d) and second moments S2_k (K, d, d)."""
    counts = resp.sum(0)
    first = resp.T @ x
    second = np.einsum("nk,ni,nj->kij", resp, x, x)
    return counts, first, second


def params_from_statistics(counts, first, second):
    """The maximizer of Q given soft counts and moments: pi_k = N_k/N, mu_k, Sigma_k."""
    weights = counts / counts.sum()
    means = first / counts[:, None]
    covs = second / counts[:, None, None] - np.einsum("ki,kj->kij", means, means)
    covs = 0.5 * (covs + np.transpose(covs, (0, 2, 1)))  # symmetric to rounding error
    return GMMParams(weights, means, covs)


def m_step(x, resp):
    """argmax_theta Q(theta): weighted proportions, means and covariances (derived in the text)."""
    return params_from_statistics(*sufficient_statistics(x, resp))


# ---------------------------------------------------------------------------------------------
# Full EM
# ---------------------------------------------------------------------------------------------

def run_em(x, init, n_iter=100, tol=None):
    """EM from `init`; stops after n_iter M-steps, or earlier once log p(x) rises by less than tol."""
    history = EMHistory([init], [log_likelihood(x, init)])
    params = init
    for _ in range(n_iter):
        params = m_step(x, e_step(x, params))
        history.params.append(params)
        history.log_likelihoods.append(log_likelihood(x, params))
        if tol is not None and history.log_likelihoods[-1] - history.log_likelihoods[-2] < tol:
            break
    return history


def random_init(x, n_components, seed):
    """K distinct data points as means, the data covariance for every component, equal weights."""
    rng = np.random.default_rng(seed)
    means = x[rng.choice(x.shape[0], size=n_components, replace=False)].copy()
    cov = np.cov(x.T, bias=True)
    covs = np.repeat(cov[None], n_components, axis=0)
    return GMMParams(np.full(n_components, 1.0 / n_components), means, covs)


# ---------------------------------------------------------------------------------------------
# Variants: generalized (damped) M-step, incremental E-step
# ---------------------------------------------------------------------------------------------

def to_natural(params):
    """Natural parameters (pi, Lambda mu, Lambda) with Lambda = Sigma^{-1}; Q is concave in them."""
    precisions = np.linalg.inv(params.covs)
    return params.weights, np.einsum("kij,kj->ki", precisions, params.means), precisions


def from_natural(weights, shift, precisions):
    covs = np.linalg.inv(precisions)
    covs = 0.5 * (covs + np.transpose(covs, (0, 2, 1)))
    return GMMParams(weights, np.einsum("kij,kj->ki", covs, shift), covs)


def damped_m_step(x, resp, params, step):
    """A generalized M-step: move a fraction `step` in (0, 1] of the way to argmax Q.

    The move is a straight line in natural parameters. Q is a sum of log-weights and Gaussian
    log-densities, each concave in (pi, Lambda mu, Lambda), so along that line
    Q(new) >= (1 - step) Q(old) + step Q(best) >= Q(old): the step increases Q without
    maximizing it, which is all the monotonicity proof needs.
    """
    best = to_natural(m_step(x, resp))
    old = to_natural(params)
    mixed = [(1.0 - step) * o + step * b for o, b in zip(old, best)]
    return from_natural(*mixed)


def run_generalized_em(x, init, step, n_iter):
    """EM with the damped M-step; returns an EMHistory."""
    history = EMHistory([init], [log_likelihood(x, init)])
    params = init
    for _ in range(n_iter):
        params = damped_m_step(x, e_step(x, params), params, step)
        history.params.append(params)
        history.log_likelihoods.append(log_likelihood(x, params))
    return history


def run_incremental_em(x, init, block_size, n_sweeps, seed):
    """Incremental EM (Neal and Hinton, 1998): refresh q for one block of points, then M-step.

    Keeps every point's responsibilities and the summed sufficient statistics; a partial E-step
    recomputes the posterior for one block (maximizing F over those q_n with the rest fixed), the
    statistics are updated by subtracting the block's old contribution and adding its new one, and
    the M-step maximizes F over theta. Returns the free energy after every partial E-step and
    every M-step, and the final parameters.
    """
    rng = np.random.default_rng(seed)
    params = init
    resp = e_step(x, params)
    counts, first, second = sufficient_statistics(x, resp)
    free_energies = [free_energy(x, resp, params)]
    n = x.shape[0]
    for _ in range(n_sweeps):
        order = rng.permutation(n)
        for start in range(0, n, block_size):
            block = order[start:start + block_size]
            old_counts, old_first, old_second = sufficient_statistics(x[block], resp[block])
            resp[block] = e_step(x[block], params)
            free_energies.append(free_energy(x, resp, params))
            new_counts, new_first, new_second = sufficient_statistics(x[block], resp[block])
            counts = counts - old_counts + new_counts
            first = first - old_first + new_first
            second = second - old_second + new_second
            params = params_from_statistics(counts, first, second)
            free_energies.append(free_energy(x, resp, params))
    return params, np.array(free_energies)


# ---------------------------------------------------------------------------------------------
# Fisher's identity for the mixture
# ---------------------------------------------------------------------------------------------

def fisher_gradient_means(x, params):
    """d log p_theta(x) / d mu_k = sum_n r_nk Sigma_k^{-1} (x_n - mu_k), by Fisher's identity.

    It is the posterior expectation of the complete-data score d log p_theta(x_n, z_n) / d mu_k,
    which is Sigma_k^{-1}(x_n - mu_k) if z_n = k and zero otherwise. Returns (K, d).
    """
    resp = e_step(x, params)  # (N, K)
    grads = []
    for k in range(params.n_components):
        residual = (resp[:, k:k + 1] * (x - params.means[k])).sum(0)  # (d,)
        grads.append(np.linalg.solve(params.covs[k], residual))
    return np.stack(grads)


def fisher_gradient_logits(x, params):
    """d log p_theta(x) / d a_k for pi = softmax(a): sum_n (r_nk - pi_k). Returns (K,)."""
    return e_step(x, params).sum(0) - x.shape[0] * params.weights


# ---------------------------------------------------------------------------------------------
# One-dimensional worked example of the text
# ---------------------------------------------------------------------------------------------

WORKED_EXAMPLE_DATA = np.array([[-2.0], [-1.0], [1.0], [3.0]])  # (4, 1)
WORKED_EXAMPLE_INIT = GMMParams(
    weights=np.array([0.5, 0.5]),
    means=np.array([[-1.0], [1.0]]),
    covs=np.array([[[1.0]], [[1.0]]]),
)

"""Richer approximate posteriors for chapter 6, checked on a model where everything is exact.

The model is linear-Gaussian: z ~ N(0, I_d), x | z ~ N(W z + c, s^2 I_D). Its posterior
is Gaussian with precision Lambda = I + W^T W / s^2, and its evidence is
N(x; c, W W^T + s^2 I), so the ELBO of any Gaussian q(z) = N(m, S) can be compared with
the truth in closed form. On it we check
    - the Cholesky-parameterized full-covariance Gaussian closes the approximation gap,
    - the best diagonal Gaussian leaves the gap 1/2 (sum_i log Lambda_ii - log det Lambda),
    - semi-amortized refinement closes the amortization gap but not the approximation gap,
and, for hierarchical posteriors,
    - the ladder VAE's precision-weighted merge is the exact Gaussian conditional,
    - NVAE's residual parameterization gives the KL stated in the text.
Functions work on float64 tensors; shapes are given in comments.
"""
import math

import torch

from vaeriants import evaluation

LOG_2PI = math.log(2.0 * math.pi)


# ----------------------------------------------------------------------------- Cholesky Gaussians


def cholesky_factor(log_diagonal, strict_lower):
    """L with diagonal exp(log_diagonal) and the strictly lower part of `strict_lower`.

    An encoder outputs d + d(d-1)/2 free numbers; this makes them a valid Cholesky factor
    (lower-triangular, positive diagonal), so L L^T is always a covariance matrix.
    """
    d = log_diagonal.shape[-1]
    mask = torch.tril(torch.ones(d, d, dtype=log_diagonal.dtype), diagonal=-1)
    return strict_lower * mask + torch.diag_embed(log_diagonal.exp())


def log_prob_cholesky(z, mean, L):
    """log N(z; mean, L L^T) via eps = L^{-1}(z - mean): log N(eps; 0, I) - sum log L_ii."""
    eps = torch.linalg.solve_triangular(L, (z - mean).unsqueeze(-1), upper=False).squeeze(-1)
    return -0.5 * (LOG_2PI + eps**2).sum(-1) - torch.log(torch.diagonal(L, dim1=-2, dim2=-1)).sum(-1)


def kl_cholesky_standard_normal(mean, L):
    """KL(N(mean, L L^T) || N(0, I)) = 1/2 (|L|_F^2 + |mean|^2 - d - 2 sum log L_ii)."""
    d = mean.shape[-1]
    log_det = torch.log(torch.diagonal(L, dim1=-2, dim2=-1)).sum(-1)
    return 0.5 * ((L**2).sum((-2, -1)) + (mean**2).sum(-1) - d - 2.0 * log_det)


# ----------------------------------------------------------------------------- the linear-Gaussian model


class LinearGaussianModel(evaluation.LinearGaussianModel):
    """Chapter 7's linear-Gaussian model (exact posterior and evidence), with the closed-form
    ELBO of any Gaussian q that this chapter's posteriors are measured against."""

    @property
    def W(self):  # (D, d)
        return self.weight

    @property
    def c(self):  # (D,)
        return self.bias

    def posterior_precision(self):
        return torch.eye(self.latent_dim, dtype=self.W.dtype) + self.W.T @ self.W / self.noise_std**2  # (d, d)

    def log_evidence(self, x):
        return self.log_marginal(x)

    def elbo(self, x, mean, cov):
        """Closed-form ELBO of q = N(mean, cov): E_q log p(x|z) + E_q log p(z) + H[q].

        mean (B, d), cov (B, d, d) or (d, d). Uses E_q |x - c - W z|^2 =
        |x - c - W mean|^2 + tr(W^T W cov) and E_q |z|^2 = |mean|^2 + tr(cov).
        """
        D, d = self.W.shape
        s2 = self.noise_std**2
        residual = x - self.c - mean @ self.W.T  # (B, D)
        trace_wtw = torch.diagonal(self.W.T @ self.W @ cov, dim1=-2, dim2=-1).sum(-1)
        expected_loglik = -0.5 * D * math.log(2 * math.pi * s2) - 0.5 * ((residual**2).sum(-1) + trace_wtw) / s2
        expected_logprior = -0.5 * d * LOG_2PI - 0.5 * ((mean**2).sum(-1) + torch.diagonal(cov, dim1=-2, dim2=-1).sum(-1))
        entropy = 0.5 * d * (1.0 + LOG_2PI) + 0.5 * torch.logdet(cov)
        return expected_loglik + expected_logprior + entropy

    def elbo_diagonal(self, x, mean, log_std):
        """The ELBO of the diagonal Gaussian N(mean, diag exp(2 log_std)); log_std (B, d)."""
        return self.elbo(x, mean, torch.diag_embed(torch.exp(2.0 * log_std)))


def mean_field_gap(precision):
    """The smallest KL from a diagonal Gaussian to N(m, precision^{-1}) (reverse KL).

    The optimum has variances 1 / Lambda_ii and the right mean, and its KL is
    1/2 (sum_i log Lambda_ii - log det Lambda) >= 0 (Hadamard's inequality).
    """
    return 0.5 * (torch.log(torch.diagonal(precision)).sum() - torch.logdet(precision))


def best_diagonal_gaussian(model, x):
    """The diagonal q that maximizes the ELBO: the exact mean and variances 1 / Lambda_ii."""
    mean, _ = model.posterior(x)
    log_std = -0.5 * torch.log(torch.diagonal(model.posterior_precision()))
    return mean, log_std.expand_as(mean)


# ----------------------------------------------------------------------------- semi-amortized inference


def refine(model, x, mean, log_std, steps, step_size):
    """SA-VAE's inner loop: gradient ascent on the per-example ELBO from the encoder's output.

    Returns the refined (mean, log_std) and the ELBO after every step, (steps + 1, B).
    In SA-VAE the steps are differentiated through to train the encoder; here only the
    forward pass matters: how much of the gap the refinement closes.
    """
    mean, log_std = mean.clone().requires_grad_(True), log_std.clone().requires_grad_(True)
    history = []
    for _ in range(steps):
        elbo = model.elbo_diagonal(x, mean, log_std)  # (B,)
        history.append(elbo.detach())
        grad_mean, grad_log_std = torch.autograd.grad(elbo.sum(), (mean, log_std))
        with torch.no_grad():
            mean += step_size * grad_mean
            log_std += step_size * grad_log_std
    history.append(model.elbo_diagonal(x, mean, log_std).detach())
    return mean.detach(), log_std.detach(), torch.stack(history)


# ----------------------------------------------------------------------------- hierarchical posteriors


def precision_weighted_merge(mean_up, var_up, mean_down, var_down):
    """The ladder VAE's combination of a bottom-up and a top-down Gaussian (elementwise).

    N(mean_up, var_up) N(mean_down, var_down) is proportional to N(m, v) with
    1/v = 1/var_up + 1/var_down and m = v (mean_up / var_up + mean_down / var_down).
    """
    var = 1.0 / (1.0 / var_up + 1.0 / var_down)
    return var * (mean_up / var_up + mean_down / var_down), var


def kl_residual_normal(delta_mean, delta_log_std, prior_std):
    """NVAE's KL(N(mu_p + dmu, (sigma_p dsigma)^2) || N(mu_p, sigma_p^2)), summed over the last dim.

    = 1/2 (dmu^2 / sigma_p^2 + dsigma^2 - 1) - log dsigma: it depends on the prior only
    through sigma_p, and is small whenever the encoder's correction is small.
    """
    delta_var = torch.exp(2.0 * delta_log_std)
    return (0.5 * (delta_mean**2 / prior_std**2 + delta_var - 1.0) - delta_log_std).sum(-1)

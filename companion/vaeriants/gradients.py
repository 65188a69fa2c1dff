"""Monte Carlo gradient estimators and their variance (chapter 8).

Every estimator here returns a batch of independent single-sample gradient estimates, one row
per Monte Carlo draw, so that a caller can average them (the estimate), take their variance
(what the chapter compares) or their standard error (what the tests compare against).

Three problems are used, each with an exact gradient to compare with:

* `LinearGaussianModel`: p(z) = N(0, I), p_theta(x|z) = N(x; z + theta, sigma^2 I), and a
  diagonal Gaussian q(z) = N(mean, diag(exp(2 log_std))). The ELBO, the posterior and the
  evidence are in closed form, so every estimator of the ELBO gradient can be checked.
* a one-dimensional Gaussian expectation E_{N(mu, sigma^2)}[f(z)] for the worked examples;
* independent Bernoulli variables b ~ Bern(sigmoid(logits)) with a function f(b) that also
  accepts relaxed values in [0, 1], for the discrete estimators (Gumbel-softmax, REBAR, RELAX).

Per-sample gradients come from one backward pass: the parameters are replicated once per draw
(`_replicate`), each draw's surrogate only touches its own copy, so the gradient of the summed
surrogate with respect to the copies is the stack of per-draw gradients.
"""
import itertools
import math
from dataclasses import dataclass

import torch
from torch import nn

from vaeriants.distributions import (
    LOG_2PI,
    kl_diag_normal_standard_normal,
    log_mean_exp,
    log_normal_diag,
    log_standard_normal,
)


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------
def _replicate(*params, n):
    """Leaf copies of each parameter with a leading dimension of n, one copy per draw."""
    return [p.detach().expand(n, *p.shape).clone().requires_grad_() for p in params]


def _per_sample_grad(surrogate, leaves, create_graph=False, retain_graph=None):
    """Gradient of surrogate.sum() w.r.t. replicated leaves, concatenated: (n, total_dim)."""
    grads = torch.autograd.grad(surrogate.sum(), leaves, create_graph=create_graph, retain_graph=retain_graph)
    return torch.cat([g.reshape(g.shape[0], -1) for g in grads], dim=-1)


def total_variance(estimates):
    """Trace of the covariance of single-sample estimates (n, dim): E||g - E g||^2."""
    return estimates.var(dim=0).sum()


def standard_error(estimates):
    """Monte Carlo standard error of the mean of each coordinate of estimates (n, dim)."""
    return estimates.std(dim=0) / math.sqrt(estimates.shape[0])


def signal_to_noise(estimates):
    """|E g| / std(g) per coordinate, estimated from single-sample estimates (n, dim)."""
    return estimates.mean(dim=0).abs() / estimates.std(dim=0)


# --------------------------------------------------------------------------------------------
# Control variates
# --------------------------------------------------------------------------------------------
def optimal_coefficient(f, h):
    """c* = Cov(f, h) / Var(h), coordinate by coordinate, from paired samples (n, ...).

    It minimizes Var(f - c (h - E h)) over c; the minimum is Var(f) (1 - rho^2).
    """
    f_centred = f - f.mean(dim=0)
    h_centred = h - h.mean(dim=0)
    return (f_centred * h_centred).mean(dim=0) / (h_centred**2).mean(dim=0)


def optimal_coefficients(f, hs):
    """Several control variates at once: per coordinate, c* = Cov(h, h)^{-1} Cov(h, f).

    f: (n, d) samples of the estimate; hs: (n, d, m), m control variates per coordinate.
    Returns (d, m); with m = 1 it reduces to `optimal_coefficient`.
    """
    f_centred = (f - f.mean(dim=0))[..., None]  # (n, d, 1)
    h_centred = hs - hs.mean(dim=0)  # (n, d, m)
    cov_hh = torch.einsum("ndi,ndj->dij", h_centred, h_centred) / f.shape[0]  # (d, m, m)
    cov_hf = torch.einsum("ndi,ndj->dij", h_centred, f_centred) / f.shape[0]  # (d, m, 1)
    return torch.linalg.solve(cov_hh, cov_hf).squeeze(-1)


def controlled_estimate(f, h, h_mean, coefficient):
    """f - c (h - E h): unbiased for E f whatever the (fixed) coefficient c."""
    return f - coefficient * (h - h_mean)


# --------------------------------------------------------------------------------------------
# Worked example: d/dmu E_{N(mu, sigma^2)}[f(z)]
# --------------------------------------------------------------------------------------------
def gaussian_mean_score_function(f, mu, sigma, n, generator, baseline=0.0):
    """(f(z) - b) * d/dmu log N(z; mu, sigma^2) = (f(z) - b) (z - mu) / sigma^2, shape (n,)."""
    eps = torch.randn(n, generator=generator, dtype=torch.float64)
    z = mu + sigma * eps
    return (f(z) - baseline) * eps / sigma


def gaussian_mean_pathwise(f, mu, sigma, n, generator):
    """d/dmu f(mu + sigma eps) by autograd, shape (n,); needs f differentiable in z."""
    eps = torch.randn(n, generator=generator, dtype=torch.float64)
    (mu_copies,) = _replicate(torch.tensor(float(mu), dtype=torch.float64), n=n)
    return _per_sample_grad(f(mu_copies + sigma * eps), [mu_copies]).squeeze(-1)


def uniform_scale_estimators(f, phi, n, generator):
    """Both estimators of d/dphi E_{U(0, phi)}[f(z)], whose support moves with phi: (n,), (n,).

    score function: f(z) d/dphi log(1/phi) = -f(z) / phi (wrong: it misses the boundary term);
    pathwise: z = phi u, d/dphi f(phi u) = f'(z) u (right when f is differentiable).
    """
    u = torch.rand(n, generator=generator, dtype=torch.float64)
    (phi_copies,) = _replicate(torch.tensor(float(phi), dtype=torch.float64), n=n)
    pathwise = _per_sample_grad(f(phi_copies * u), [phi_copies]).squeeze(-1)
    return -f(phi * u) / phi, pathwise


def quadratic_example_variances(mu):
    """Exact variances of four estimators of d/dmu E[z^2], z ~ N(mu, 1) (true value 2 mu).

    score function: mu^4 + 14 mu^2 + 15; baseline E[z^2] = mu^2 + 1: 8 mu^2 + 10;
    optimal baseline mu^2 + 3: 8 mu^2 + 6; pathwise 2z: 4. Derived in the chapter.
    """
    return {
        "score": mu**4 + 14 * mu**2 + 15,
        "score_mean_baseline": 8 * mu**2 + 10,
        "score_optimal_baseline": 8 * mu**2 + 6,
        "pathwise": 4.0,
    }


# --------------------------------------------------------------------------------------------
# The linear-Gaussian model: everything exact
# --------------------------------------------------------------------------------------------
@dataclass
class LinearGaussianModel:
    """p(z) = N(0, I), p_theta(x | z) = N(x; z + theta, noise_std^2 I), one observation x."""

    x: torch.Tensor  # (d,)
    noise_std: float = 1.0
    decoder_bias: torch.Tensor = None  # theta, (d,); zero if None

    def __post_init__(self):
        if self.decoder_bias is None:
            self.decoder_bias = torch.zeros_like(self.x)

    @property
    def noise_logvar(self):
        return 2.0 * math.log(self.noise_std)

    def log_prior(self, z):  # (..., d) -> (...)
        return log_standard_normal(z)

    def log_likelihood(self, z, decoder_bias=None):  # (..., d) -> (...)
        bias = self.decoder_bias if decoder_bias is None else decoder_bias
        logvar = torch.full_like(z, self.noise_logvar)
        return log_normal_diag(self.x, z + bias, logvar)

    def log_joint(self, z, decoder_bias=None):
        return self.log_prior(z) + self.log_likelihood(z, decoder_bias)

    def log_joint_terms(self, z):
        """log p(x, z) split by latent coordinate, (..., d): the model factorizes over j."""
        var = self.noise_std**2
        prior = -0.5 * (LOG_2PI + z**2)
        likelihood = -0.5 * (LOG_2PI + self.noise_logvar + (self.x - z - self.decoder_bias) ** 2 / var)
        return prior + likelihood

    def posterior(self):
        """Exact posterior N(mean, diag(std^2)): precision 1 + 1/sigma^2."""
        var = self.noise_std**2
        mean = (self.x - self.decoder_bias) / (1.0 + var)
        std = torch.full_like(self.x, math.sqrt(var / (1.0 + var)))
        return mean, std

    def log_evidence(self):
        """log p(x) with x ~ N(theta, (1 + sigma^2) I)."""
        var = torch.full_like(self.x, 1.0 + self.noise_std**2)
        return log_normal_diag(self.x, self.decoder_bias, var.log())


def chapter_linear_gaussian():
    """The chapter's running example: d = 5, noise_std = 0.7, one fixed observation x."""
    x = torch.tensor([1.5, -0.5, 0.8, 2.0, -1.2], dtype=torch.float64)
    return LinearGaussianModel(x=x, noise_std=0.7)


def interpolated_q(model, t):
    """q_t: mean t * posterior mean, log_std t * posterior log_std (q_0 is the prior N(0, I))."""
    post_mean, post_std = model.posterior()
    return t * post_mean, t * post_std.log()


def elbo(model, mean, log_std, decoder_bias=None):
    """Closed-form ELBO of q = N(mean, diag(exp(2 log_std))) on the linear-Gaussian model."""
    bias = model.decoder_bias if decoder_bias is None else decoder_bias
    var_q = torch.exp(2.0 * log_std)
    noise_var = model.noise_std**2
    expected_log_prior = -0.5 * (LOG_2PI + mean**2 + var_q).sum(-1)
    expected_log_lik = -0.5 * (
        LOG_2PI + model.noise_logvar + ((model.x - bias - mean) ** 2 + var_q) / noise_var
    ).sum(-1)
    entropy = (0.5 * (LOG_2PI + 1.0) + log_std).sum(-1)
    return expected_log_prior + expected_log_lik + entropy


def elbo_gradient(model, mean, log_std):
    """Exact gradient of the ELBO w.r.t. (mean, log_std), concatenated: (2d,)."""
    mean = mean.detach().clone().requires_grad_()
    log_std = log_std.detach().clone().requires_grad_()
    grads = torch.autograd.grad(elbo(model, mean, log_std), [mean, log_std])
    return torch.cat(grads)


def _sample_q(mean, log_std, n, generator):
    eps = torch.randn(n, *mean.shape, generator=generator, dtype=mean.dtype)  # (n, d)
    return eps


def _log_q(z, mean, log_std):
    return log_normal_diag(z, mean, 2.0 * log_std)


def score_of_q(mean, log_std, z):
    """grad_{mean, log_std} log q(z) for each row of z (n, d): (n, 2d). Its mean is zero."""
    m, s = _replicate(mean, log_std, n=z.shape[0])
    return _per_sample_grad(_log_q(z, m, s), [m, s])


def elbo_score_function(model, mean, log_std, n, generator, baseline=0.0):
    """Score-function (REINFORCE) estimates of the ELBO gradient: (f(z) - c) grad log q(z).

    f(z) = log p(x, z) - log q(z) is the learning signal. The term E[grad_phi f] that the
    product rule also produces equals -E[grad log q] = 0 and is dropped. `baseline` is a
    scalar or a (2d,) vector (one constant per parameter coordinate).
    """
    z = mean + log_std.exp() * _sample_q(mean, log_std, n, generator)  # (n, d), no graph
    signal = model.log_joint(z) - _log_q(z, mean, log_std)  # (n,)
    return (signal[:, None] - baseline) * score_of_q(mean, log_std, z)  # (n, 2d)


def optimal_score_baseline(model, mean, log_std, n, generator):
    """Per-coordinate c* = E[f s_j^2] / E[s_j^2] from n pilot draws, s = grad log q (2d,).

    It is the optimal coefficient of the control variate h = s for the estimate g = f s.
    The pilot draws must be independent of the draws the baseline is then used with.
    """
    z = mean + log_std.exp() * _sample_q(mean, log_std, n, generator)
    signal = model.log_joint(z) - _log_q(z, mean, log_std)
    score = score_of_q(mean, log_std, z)
    return optimal_coefficient(signal[:, None] * score, score)


def elbo_score_function_local(model, mean, log_std, n, generator):
    """Rao-Blackwellized score-function estimates: each coordinate keeps only its own terms.

    With a factorized q and log p(x, z) = sum_j f_j(z_j), the score of q_j is multiplied by
    f_j(z_j) - log q_j(z_j) only: the other terms are integrated out (their conditional
    expectation times a zero-mean score vanishes).
    """
    d = mean.shape[-1]
    z = mean + log_std.exp() * _sample_q(mean, log_std, n, generator)
    log_q_terms = -0.5 * (LOG_2PI + 2.0 * log_std + ((z - mean) / log_std.exp()) ** 2)
    local_signal = model.log_joint_terms(z) - log_q_terms  # (n, d)
    score = score_of_q(mean, log_std, z)  # (n, 2d): [mean part | log_std part]
    return torch.cat([local_signal * score[:, :d], local_signal * score[:, d:]], dim=-1)


def _reparameterized(mean, log_std, n, generator):
    m, s = _replicate(mean, log_std, n=n)
    z = m + s.exp() * _sample_q(mean, log_std, n, generator)  # (n, d), depends on the copies
    return m, s, z


def elbo_pathwise(model, mean, log_std, n, generator):
    """Reparameterized estimates of grad ELBO with every term sampled ('total derivative')."""
    m, s, z = _reparameterized(mean, log_std, n, generator)
    return _per_sample_grad(model.log_joint(z) - _log_q(z, m, s), [m, s])


def elbo_pathwise_analytic_kl(model, mean, log_std, n, generator):
    """Reparameterized expected log-likelihood, closed-form KL(q || p(z)) (the SGVB-B form)."""
    m, s, z = _reparameterized(mean, log_std, n, generator)
    surrogate = model.log_likelihood(z) - kl_diag_normal_standard_normal(m, 2.0 * s)
    return _per_sample_grad(surrogate, [m, s])


def elbo_sticking_the_landing(model, mean, log_std, n, generator):
    """Path derivative only: the density of q is evaluated with its parameters held fixed."""
    m, s, z = _reparameterized(mean, log_std, n, generator)
    surrogate = model.log_joint(z) - _log_q(z, m.detach(), s.detach())
    return _per_sample_grad(surrogate, [m, s])


ELBO_ESTIMATORS = {
    "score function": elbo_score_function,
    "score function, local signals": elbo_score_function_local,
    "pathwise, all terms sampled": elbo_pathwise,
    "pathwise, analytic KL": elbo_pathwise_analytic_kl,
    "sticking the landing": elbo_sticking_the_landing,
}


# --------------------------------------------------------------------------------------------
# Importance-weighted bound: IWAE and DReG gradients
# --------------------------------------------------------------------------------------------
def iwae_example_q(model):
    """A q that is not the posterior: its mean shifted by 0.5 and its std scaled by e^0.3."""
    post_mean, post_std = model.posterior()
    return post_mean + 0.5, post_std.log() + 0.3


def iwae_bound_estimates(model, mean, log_std, K, n, generator):
    """n independent single draws of log (1/K) sum_k w_k, w_k = p(x, z_k) / q(z_k): (n,)."""
    eps = torch.randn(n, K, *mean.shape, generator=generator, dtype=mean.dtype)
    z = mean + log_std.exp() * eps  # (n, K, d)
    log_w = model.log_joint(z) - _log_q(z, mean, log_std)  # (n, K)
    return log_mean_exp(log_w, dim=1)


def iwae_gradients(model, mean, log_std, K, n, generator, estimator="iwae"):
    """Single-sample estimates of the IWAE-bound gradient, each from K importance samples.

    Returns (decoder_grad (n, d), encoder_grad (n, 2d)). The decoder gradient (w.r.t. theta)
    is always the standard reparameterized one. The encoder gradient (w.r.t. mean, log_std) is
      "iwae": sum_k w~_k d/dphi log w_k            (reparameterized, total derivative)
      "dreg": sum_k w~_k^2 (d log w_k / dz_k)(dz_k / dphi)   (doubly reparameterized)
      "stl":  sum_k w~_k (d log w_k / dz_k)(dz_k / dphi)     (score term dropped; biased for K > 1)
    with w~ the normalized weights.
    """
    m, s, bias = _replicate(mean, log_std, model.decoder_bias, n=n)
    eps = torch.randn(n, K, *mean.shape, generator=generator, dtype=mean.dtype)
    z = m[:, None] + s.exp()[:, None] * eps  # (n, K, d)
    log_joint = model.log_joint(z, decoder_bias=bias[:, None])  # (n, K)
    log_w = log_joint - _log_q(z, m[:, None], s[:, None])  # (n, K)
    bound = log_mean_exp(log_w, dim=1)  # (n,)
    d = mean.shape[-1]
    if estimator == "iwae":
        grads = _per_sample_grad(bound, [bias, m, s])
        return grads[:, :d], grads[:, d:]
    decoder_grad = _per_sample_grad(bound, [bias], retain_graph=True)
    # Path-only log weights: q's density with its parameters held fixed.
    log_w_path = log_joint - _log_q(z, m.detach()[:, None], s.detach()[:, None])  # (n, K)
    normalized = torch.softmax(log_w.detach(), dim=1)  # (n, K)
    power = {"dreg": 2, "stl": 1}[estimator]
    encoder_grad = _per_sample_grad((normalized**power * log_w_path).sum(1), [m, s])
    return decoder_grad, encoder_grad


def iwae_encoder_gradient_limit(model, mean, log_std):
    """lim_{K -> inf} K grad_phi L_K = -grad_phi E_q[w^2] / (2 Z^2), phi = (mean, log_std): (2d,).

    The 1/K term of the expansion L_K = log Z - Var_q(w) / (2 K Z^2) + O(1/K^2). With
    w / Z = p(z | x) / q(z) and both Gaussian, E_q[w^2] / Z^2 = prod_j int N(z; m_j, s^2)^2 /
    N(z; mean_j, tau_j^2) dz in closed form; it is finite only if 2 / s^2 > 1 / tau_j^2.
    """
    post_mean, post_std = model.posterior()
    mean = mean.detach().clone().requires_grad_()
    log_std = log_std.detach().clone().requires_grad_()
    s2, tau2 = post_std**2, torch.exp(2.0 * log_std)
    a = 2.0 / s2 - 1.0 / tau2
    if torch.any(a <= 0):
        raise ValueError("q is too narrow: E_q[w^2] is infinite")
    b = 2.0 * post_mean / s2 - mean / tau2
    c = 2.0 * post_mean**2 / s2 - mean**2 / tau2
    # log of (2 pi s^2)^{-1} sqrt(2 pi) tau sqrt(2 pi / a) exp((b^2 / a - c) / 2), per coordinate
    log_terms = log_std - s2.log() - 0.5 * a.log() + 0.5 * (b**2 / a - c)
    grads = torch.autograd.grad(log_terms.sum().exp(), [mean, log_std])
    return -0.5 * torch.cat(grads)


def dreg_heuristic_terms(model, mean, log_std, n, generator):
    """Single draws z ~ q of the terms of the DReG heuristic: r = w / Z (n,) and
    u / Z^2 = r^2 (d log w / dz)(dz / dphi) (n, 2d), phi = (mean, log_std).

    For large K the DReG estimate is about (1 / (K^2 Z^2)) sum_k (1 - 2 delta) u_k with
    delta = (1/K) sum_k (r_k - 1), so its mean is E[u] / (K Z^2) and its standard deviation
    sd(u / Z^2 - 2 E[u / Z^2] r) / K^{3/2}.
    """
    eps = _sample_q(mean, log_std, n, generator)
    z = (mean + log_std.exp() * eps).requires_grad_()
    log_w = model.log_joint(z) - _log_q(z, mean, log_std)  # q's parameters fixed: path part only
    (dlogw_dz,) = torch.autograd.grad(log_w.sum(), [z])  # (n, d)
    path = torch.cat([dlogw_dz, dlogw_dz * log_std.exp() * eps], dim=-1)  # dz/dmean = 1, dz/dlog_std = tau eps
    r = torch.exp(log_w.detach() - model.log_evidence())
    return r, r[:, None] ** 2 * path


# --------------------------------------------------------------------------------------------
# NVIL: learned input-dependent baseline and variance normalization
# --------------------------------------------------------------------------------------------
@dataclass
class AmortizedGaussianEncoder:
    """q_phi(z | x) = N(scale * x + shift, exp(2 log_std)) for scalar x and z; phi = 3 numbers."""

    scale: float
    shift: float
    log_std: float

    def params(self):
        return torch.tensor([self.scale, self.shift, self.log_std], dtype=torch.float64)


def _amortized_log_q(z, x, phi):  # phi: (..., 3), broadcast against x, z
    mean = phi[..., 0] * x + phi[..., 1]
    return -0.5 * (LOG_2PI + 2.0 * phi[..., 2] + ((z - mean) / phi[..., 2].exp()) ** 2)


def nvil_learning_signals(model_noise_std, xs, encoder, n, generator):
    """Draw z_i ~ q(z|x_i) for a fixed batch xs (M,), n times; return signals and scores.

    The model is p(z) = N(0, 1), p(x|z) = N(z, noise_std^2). Returns the learning signals
    l(x_i, z_i) = log p(x_i, z_i) - log q(z_i|x_i), shape (n, M), and the scores
    grad_phi log q(z_i|x_i), shape (n, M, 3).
    """
    phi = encoder.params()
    mean = phi[0] * xs + phi[1]  # (M,)
    z = mean + phi[2].exp() * torch.randn(n, xs.shape[0], generator=generator, dtype=torch.float64)
    var = model_noise_std**2
    log_joint = -0.5 * (LOG_2PI + z**2) - 0.5 * (LOG_2PI + math.log(var) + (xs - z) ** 2 / var)
    phi_copies = phi.expand(n, xs.shape[0], 3).clone().requires_grad_()
    log_q = _amortized_log_q(z, xs, phi_copies)  # (n, M)
    (score,) = torch.autograd.grad(log_q.sum(), [phi_copies])
    return (log_joint - log_q).detach(), score


def minibatch_gradients(signals, scores, baselines=0.0):
    """Minibatch score-function gradients (1/M) sum_i (l_i - b_i) score_i: (n, 3)."""
    return ((signals - baselines)[..., None] * scores).mean(dim=1)


class InputDependentBaseline(nn.Module):
    """C_psi(x): a small MLP regressed onto the centred learning signal, as in NVIL."""

    def __init__(self, hidden=16):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(1, hidden), nn.Tanh(), nn.Linear(hidden, 1)).double()

    def forward(self, x):  # (M,) -> (M,)
        return self.net(x[:, None]).squeeze(-1)


class NVILSignalNormalizer:
    """Running mean c and variance v of the centred signal (decay alpha), as in NVIL.

    `__call__` returns (l - C(x) - c) / max(1, sqrt(v)): the centred, variance-normalized
    learning signal that multiplies the score.
    """

    def __init__(self, alpha=0.8):
        self.alpha, self.mean, self.var = alpha, 0.0, 0.0

    def __call__(self, residual):  # residual = l - C(x), (M,)
        self.mean = self.alpha * self.mean + (1 - self.alpha) * residual.mean().item()
        self.var = self.alpha * self.var + (1 - self.alpha) * residual.var().item()
        return (residual - self.mean) / max(1.0, math.sqrt(self.var))


def fit_nvil_baseline(model_noise_std, xs, encoder, steps, generator, lr=0.02):
    """Train C_psi(x) + c by minimizing the squared error to fresh learning signals."""
    baseline = InputDependentBaseline()
    constant = torch.zeros((), dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.Adam(list(baseline.parameters()) + [constant], lr=lr)
    for _ in range(steps):
        signals, _ = nvil_learning_signals(model_noise_std, xs, encoder, 1, generator)
        loss = ((signals[0] - baseline(xs) - constant) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return lambda x: (baseline(x) + constant).detach()


# --------------------------------------------------------------------------------------------
# Discrete latents: Bernoulli variables
# --------------------------------------------------------------------------------------------
def squared_distance_objective(targets):
    """f(b) = sum_j (b_j - t_j)^2, defined for b in [0, 1]^d as well: (n, d) -> (n,)."""
    return lambda b: ((b - targets) ** 2).sum(-1)


def chapter_bernoulli_targets():
    """The targets t_j of the chapter's ten-bit problem, (10,)."""
    return torch.linspace(0.1, 0.45, 10, dtype=torch.float64)


def chapter_bernoulli_problem():
    """Ten independent bits with different probabilities and targets: (f, logits)."""
    logits = torch.linspace(-1.0, 1.0, 10, dtype=torch.float64)
    return squared_distance_objective(chapter_bernoulli_targets()), logits


def exact_bernoulli_gradient(f, logits):
    """d/dlogits E_{b ~ Bern(sigmoid(logits))}[f(b)] by enumerating all 2^d states."""
    d = logits.shape[-1]
    states = torch.tensor(list(itertools.product([0.0, 1.0], repeat=d)), dtype=logits.dtype)
    logits = logits.detach().clone().requires_grad_()
    log_p = (states * nn.functional.logsigmoid(logits) + (1 - states) * nn.functional.logsigmoid(-logits)).sum(-1)
    (grad,) = torch.autograd.grad((log_p.exp() * f(states)).sum(), [logits])
    return grad


def _uniform(n, d, generator, dtype):
    # Keep away from 0 and 1 so that logit(u) stays finite.
    return torch.rand(n, d, generator=generator, dtype=dtype).clamp(1e-9, 1 - 1e-9)


def _logit(u):
    return torch.log(u) - torch.log1p(-u)


def bernoulli_score_function(f, logits, n, generator, baseline=0.0):
    """(f(b) - c) * d/dlogits log Bern(b; sigmoid(logits)) = (f(b) - c)(b - sigmoid(logits))."""
    theta = torch.sigmoid(logits)
    b = (_uniform(n, logits.shape[-1], generator, logits.dtype) < theta).to(logits.dtype)
    return (f(b)[:, None] - baseline) * (b - theta)


def bernoulli_optimal_baseline(f, logits, n, generator):
    """Per-coordinate c* = E[f(b) s_j^2] / E[s_j^2], s = b - sigmoid(logits), from n pilot draws."""
    theta = torch.sigmoid(logits)
    b = (_uniform(n, logits.shape[-1], generator, logits.dtype) < theta).to(logits.dtype)
    score = b - theta  # (n, d)
    return optimal_coefficient(f(b)[:, None] * score, score)


def gumbel_max_sample(log_probs, n, generator):
    """argmax_k (log pi_k + G_k), G_k ~ Gumbel(0, 1) i.i.d.: a sample of Cat(pi), shape (n,)."""
    u = _uniform(n, log_probs.shape[-1], generator, log_probs.dtype)
    gumbel = -torch.log(-torch.log(u))
    return torch.argmax(log_probs + gumbel, dim=-1)


def binary_concrete(logits, logistic_noise, temperature):
    """sigmoid((logits + L) / temperature), L ~ Logistic(0, 1): the relaxed Bernoulli sample."""
    return torch.sigmoid((logits + logistic_noise) / temperature)


def gumbel_softmax_gradient(f, logits, temperature, n, generator):
    """Pathwise gradient through the binary Concrete relaxation: biased for the discrete f."""
    noise = _logit(_uniform(n, logits.shape[-1], generator, logits.dtype))  # logistic, (n, d)
    (a,) = _replicate(logits, n=n)
    return _per_sample_grad(f(binary_concrete(a, noise, temperature)), [a])


def binary_concrete_gradient_moments(f_prime, logit, temperature, grid=200_001, half_width=60.0):
    """Mean and second moment of d/dlogit f(sigmoid((logit + L) / temperature)) by quadrature.

    One scalar Bernoulli. With w = (logit + L) / temperature the estimator's mean is
      int p_L(temperature w - logit) f'(sigmoid(w)) sigmoid'(w) dw
    and its second moment is the same integral of (f' sigmoid')^2 divided by temperature.
    p_L is the logistic density. `f_prime` is the derivative of the scalar f.
    """
    w = torch.linspace(-half_width, half_width, grid, dtype=torch.float64)
    density = torch.sigmoid(temperature * w - logit) * torch.sigmoid(-(temperature * w - logit))
    slope = f_prime(torch.sigmoid(w)) * torch.sigmoid(w) * torch.sigmoid(-w)
    mean = torch.trapezoid(density * slope, w)
    second_moment = torch.trapezoid(density * slope**2, w) / temperature
    return mean.item(), second_moment.item()


def gumbel_softmax_expected_gradient(targets, logits, temperature):
    """Exact mean of the Gumbel-softmax gradient for f(b) = sum_j (b_j - t_j)^2: (d,).

    f is a sum over bits and the bits are independent, so coordinate j is the one-bit
    integral of `binary_concrete_gradient_moments` with f_j(y) = (y - t_j)^2.
    """
    means = [binary_concrete_gradient_moments(lambda y, t=t: 2.0 * (y - t), a, temperature)[0]
             for t, a in zip(targets.tolist(), logits.tolist())]
    return torch.tensor(means, dtype=torch.float64)


def _conditional_logistic(a, b, v):
    """z~ ~ p(z | b) for z = a + logit(u): u uniform on (1 - theta, 1) if b = 1, else (0, 1 - theta).

    The sample is a differentiable function of the logits a (with b and v held fixed).
    """
    theta = torch.sigmoid(a)
    u = b * (1 - theta + v * theta) + (1 - b) * (v * (1 - theta))
    return a + _logit(u.clamp(1e-9, 1 - 1e-9))


def _relax_draws(logits, n, generator):
    """Shared randomness of REBAR and RELAX: z = a + L, b = H(z), and the uniforms v of z~.

    Returns the replicated logits a (n, d), z (n, d) reparameterized, the discrete sample
    b = H(z) and v, from which z~ ~ p(z | b) is rebuilt by `_conditional_logistic`.
    """
    d = logits.shape[-1]
    u = _uniform(n, d, generator, logits.dtype)
    v = _uniform(n, d, generator, logits.dtype)
    (a,) = _replicate(logits, n=n)
    z = a + _logit(u)
    b = (z > 0).to(logits.dtype).detach()
    return a, z, b, v


def relax_gradient(f, logits, surrogate, n, generator, create_graph=False):
    """RELAX: [f(b) - c(z~)] d log p(b) + d c(z) - d c(z~), for a differentiable c.

    `surrogate` maps pre-activations (n, d) to (n,). The estimate is unbiased for any c;
    with create_graph=True it stays differentiable w.r.t. the parameters of c, so that its
    variance can be minimized.
    """
    a, z, b, v = _relax_draws(logits, n, generator)
    z_tilde = _conditional_logistic(a, b, v)
    log_p_b = (b * nn.functional.logsigmoid(a) + (1 - b) * nn.functional.logsigmoid(-a)).sum(-1)
    # The score's coefficient may depend on the surrogate's parameters, never on the logits.
    z_tilde_fixed = _conditional_logistic(logits.detach().expand_as(b), b, v)
    coefficient = f(b) - surrogate(z_tilde_fixed)  # (n,)
    estimator = coefficient * log_p_b + surrogate(z) - surrogate(z_tilde)
    return _per_sample_grad(estimator, [a], create_graph=create_graph)


def rebar_terms(f, logits, temperature, n, generator):
    """REBAR's parts: the score-function estimate g and the zero-mean control variate h.

    REBAR(eta) = g - eta * h, with
      g = f(b) d log p(b),
      h = f(s(z~)) d log p(b) - d f(s(z)) + d f(s(z~)),  s(.) = sigmoid(. / temperature).
    Returns g, h and the score d log p(b) = b - sigmoid(logits), each (n, d). E h = 0 and
    E score = 0, so any coefficients (per coordinate) in g - eta h - c score keep the estimate
    unbiased: the last term is a constant baseline c.
    """
    a, z, b, v = _relax_draws(logits, n, generator)
    z_tilde = _conditional_logistic(a, b, v)
    log_p_b = (b * nn.functional.logsigmoid(a) + (1 - b) * nn.functional.logsigmoid(-a)).sum(-1)
    relaxed_f = lambda pre: f(torch.sigmoid(pre / temperature))  # noqa: E731
    score = _per_sample_grad(log_p_b, [a])  # (n, d) = b - theta
    g = f(b)[:, None] * score
    path_z = _per_sample_grad(relaxed_f(z), [a])
    path_z_tilde = _per_sample_grad(relaxed_f(z_tilde), [a])
    h = relaxed_f(z_tilde).detach()[:, None] * score - path_z + path_z_tilde
    return g, h, score


class RelaxSurrogate(nn.Module):
    """c_psi(z) = eta * f(sigmoid(z / lambda)) + r_rho(z): the REBAR surrogate plus an MLP."""

    def __init__(self, f, d, hidden=16, temperature=0.5):
        super().__init__()
        self.f = f
        self.log_temperature = nn.Parameter(torch.tensor(math.log(temperature), dtype=torch.float64))
        self.eta = nn.Parameter(torch.tensor(1.0, dtype=torch.float64))
        self.residual = nn.Sequential(nn.Linear(d, hidden), nn.Tanh(), nn.Linear(hidden, 1)).double()
        nn.init.zeros_(self.residual[-1].weight)  # start exactly at REBAR with eta = 1
        nn.init.zeros_(self.residual[-1].bias)

    def forward(self, z):  # (n, d) -> (n,)
        relaxed = torch.sigmoid(z / self.log_temperature.exp())
        return self.eta * self.f(relaxed) + self.residual(relaxed).squeeze(-1)


def train_relax_surrogate(f, logits, steps, n, generator, lr=0.01):
    """Fit the RELAX surrogate by minimizing the estimator's second moment (= its variance + const)."""
    surrogate = RelaxSurrogate(f, logits.shape[-1])
    optimizer = torch.optim.Adam(surrogate.parameters(), lr=lr)
    for _ in range(steps):
        g = relax_gradient(f, logits, surrogate, n, generator, create_graph=True)
        loss = (g**2).sum(-1).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return surrogate

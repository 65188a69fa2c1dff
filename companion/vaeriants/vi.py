"""Variational inference on models whose answers are known (chapter 2).

Three conjugate models, each small enough that every quantity the chapter talks about can be
computed exactly and compared with what the algorithms produce:

* `ConjugateGaussian`: z ~ N(0, 1), x_i | z ~ N(z, noise_std^2). The posterior and the
  evidence are Gaussian, so the ELBO of any Gaussian q and its gap to log p(x) are closed forms.
* `NormalGamma`: a Gaussian with unknown mean and precision under a Normal-Gamma prior, the
  worked example of mean-field coordinate ascent (CAVI).
* `GaussianMixture`: a Bayesian mixture of unit-variance Gaussians with unknown means, the
  conditionally conjugate model with global and local variables used for stochastic VI.

Black-box VI (`black_box_vi`) runs on chapter 8's gradient estimators (`vaeriants.gradients`).

Everything is float64: the tests compare identities to many digits.
"""
import math
from dataclasses import dataclass

import torch

from vaeriants.distributions import LOG_2PI, log_normal_diag, log_standard_normal

DTYPE = torch.float64


def robbins_monro_steps(num_steps, delay=1.0, forget=0.75, scale=1.0):
    """rho_t = scale * (t + delay)^(-forget) for t = 1..num_steps.

    With 0.5 < forget <= 1 the steps satisfy sum rho_t = inf and sum rho_t^2 < inf.
    """
    t = torch.arange(1, num_steps + 1, dtype=DTYPE)
    return scale * (t + delay) ** (-forget)


# ----------------------------------------------------------------------------------------------
# A conjugate Gaussian model: the ELBO, its gap and the evidence in closed form.
# ----------------------------------------------------------------------------------------------
@dataclass
class ConjugateGaussian:
    """z ~ N(0, 1) and x_i | z ~ N(z, noise_std^2) for i = 1..n; q(z) = N(m, s^2)."""

    x: torch.Tensor  # (n,)
    noise_std: float = 1.0

    @property
    def n(self):
        return self.x.shape[0]

    def posterior(self):
        """Mean and variance of p(z | x): precisions add, 1/s_n^2 = 1 + n / noise_var."""
        noise_var = self.noise_std**2
        var = 1.0 / (1.0 + self.n / noise_var)
        return var * self.x.sum() / noise_var, torch.as_tensor(var, dtype=DTYPE)

    def log_evidence(self):
        """log p(x) with x ~ N(0, noise_var I + 1 1^T), by the matrix determinant lemma."""
        noise_var = self.noise_std**2
        n = self.n
        logdet = n * math.log(noise_var) + math.log1p(n / noise_var)
        # Sherman-Morrison: (s I + 1 1^T)^{-1} = I/s - 1 1^T / (s (s + n)).
        quad = (self.x**2).sum() / noise_var - self.x.sum() ** 2 / (noise_var * (noise_var + n))
        return -0.5 * (n * LOG_2PI + logdet + quad)

    def expected_log_likelihood(self, m, s2):
        """E_q[log p(x | z)] for q = N(m, s2): E[(x_i - z)^2] = (x_i - m)^2 + s2."""
        noise_var = self.noise_std**2
        sq = ((self.x - m) ** 2).sum() + self.n * s2
        return -0.5 * self.n * (LOG_2PI + math.log(noise_var)) - 0.5 * sq / noise_var

    def kl_to_prior(self, m, s2):
        """KL(N(m, s2) || N(0, 1))."""
        return 0.5 * (s2 + m**2 - 1.0 - torch.log(torch.as_tensor(s2, dtype=DTYPE)))

    def elbo(self, m, s2):
        """The ELBO as expected log-likelihood minus the KL to the prior."""
        return self.expected_log_likelihood(m, s2) - self.kl_to_prior(m, s2)

    def elbo_joint_plus_entropy(self, m, s2):
        """The same ELBO as E_q[log p(x, z)] + H[q], written out term by term."""
        s2 = torch.as_tensor(s2, dtype=DTYPE)
        expected_log_prior = -0.5 * (LOG_2PI + m**2 + s2)
        entropy = 0.5 * (LOG_2PI + 1.0 + torch.log(s2))
        return self.expected_log_likelihood(m, s2) + expected_log_prior + entropy

    def kl_to_posterior(self, m, s2):
        """KL(N(m, s2) || p(z | x)), both one-dimensional Gaussians."""
        post_mean, post_var = self.posterior()
        s2 = torch.as_tensor(s2, dtype=DTYPE)
        return 0.5 * (s2 / post_var + (m - post_mean) ** 2 / post_var - 1.0 - torch.log(s2 / post_var))

    def log_likelihood(self, z):
        """log p(x | z) for z of shape (..., 1); returns shape (...)."""
        noise_var = self.noise_std**2
        sq = ((self.x - z) ** 2).sum(-1)  # z broadcasts against the n observations
        return -0.5 * self.n * (LOG_2PI + math.log(noise_var)) - 0.5 * sq / noise_var

    def log_joint(self, z):
        """log p(x, z) for z of shape (..., 1)."""
        return self.log_likelihood(z) + log_standard_normal(z)


# ----------------------------------------------------------------------------------------------
# Black-box VI: stochastic gradient ascent on the ELBO with Robbins-Monro steps.
# ----------------------------------------------------------------------------------------------
def black_box_vi(model, dim, estimator, num_steps, num_samples, generator, steps=None):
    """Fit q = N(mean, diag std^2) to the posterior of `model` (anything with `log_joint(z)`).

    `estimator(model, mean, log_std, n, generator)` returns n single-sample gradient estimates
    w.r.t. (mean, log_std), shape (n, 2 dim): chapter 8's `vaeriants.gradients.elbo_score_function`
    or `elbo_pathwise`. Each step averages them and moves by rho_t. Returns (mean, log_std).
    """
    mean = torch.zeros(dim, dtype=DTYPE)
    log_std = torch.zeros(dim, dtype=DTYPE)
    steps = robbins_monro_steps(num_steps, delay=10.0, forget=0.7, scale=0.5) if steps is None else steps
    for rho in steps:
        gradient = estimator(model, mean, log_std, num_samples, generator).mean(0)  # (2 dim,)
        mean = mean + rho * gradient[:dim]
        log_std = log_std + rho * gradient[dim:]
    return mean, log_std


# ----------------------------------------------------------------------------------------------
# Mean-field CAVI: a Gaussian with unknown mean and precision (the Normal-Gamma model).
# ----------------------------------------------------------------------------------------------
@dataclass
class NormalGamma:
    """tau ~ Gamma(a0, rate b0), mu | tau ~ N(mu0, 1/(lambda0 tau)), x_i ~ N(mu, 1/tau)."""

    x: torch.Tensor  # (N,)
    mu0: float = 0.0
    lambda0: float = 1.0
    a0: float = 1.0
    b0: float = 1.0

    @property
    def n(self):
        return self.x.shape[0]

    def exact_posterior(self):
        """(mu_N, lambda_N, a_N, b_N): p(mu, tau | x) is Normal-Gamma again."""
        n, xbar = self.n, self.x.mean()
        lambda_n = self.lambda0 + n
        mu_n = (self.lambda0 * self.mu0 + n * xbar) / lambda_n
        a_n = self.a0 + 0.5 * n
        b_n = self.b0 + 0.5 * (((self.x - xbar) ** 2).sum() + self.lambda0 * n * (xbar - self.mu0) ** 2 / lambda_n)
        return mu_n, lambda_n, a_n, b_n

    def log_evidence(self):
        _, lambda_n, a_n, b_n = self.exact_posterior()
        a0 = torch.as_tensor(self.a0, dtype=DTYPE)
        return (torch.lgamma(torch.as_tensor(a_n, dtype=DTYPE)) - torch.lgamma(a0) + self.a0 * math.log(self.b0)
                - a_n * torch.log(b_n) + 0.5 * math.log(self.lambda0 / lambda_n) - 0.5 * self.n * LOG_2PI)

    def log_joint(self, mu, tau):
        """log p(x, mu, tau) for broadcastable mu, tau (the data are summed over)."""
        log_prior_tau = (self.a0 * math.log(self.b0) - math.lgamma(self.a0)
                         + (self.a0 - 1.0) * torch.log(tau) - self.b0 * tau)
        log_prior_mu = 0.5 * (math.log(self.lambda0) + torch.log(tau) - LOG_2PI) - 0.5 * self.lambda0 * tau * (mu - self.mu0) ** 2
        sq = ((self.x - mu.unsqueeze(-1)) ** 2).sum(-1)
        log_lik = 0.5 * self.n * (torch.log(tau) - LOG_2PI) - 0.5 * tau * sq
        return log_prior_tau + log_prior_mu + log_lik

    def log_posterior(self, mu, tau):
        """log p(mu, tau | x) = log Gamma(tau; a_N, b_N) + log N(mu; mu_N, 1/(lambda_N tau))."""
        mu_n, lambda_n, a_n, b_n = self.exact_posterior()
        return log_gamma_density(tau, a_n, b_n) + 0.5 * (math.log(lambda_n) + torch.log(tau) - LOG_2PI) \
            - 0.5 * lambda_n * tau * (mu - mu_n) ** 2


def log_gamma_density(tau, shape, rate):
    shape = torch.as_tensor(shape, dtype=DTYPE)
    rate = torch.as_tensor(rate, dtype=DTYPE)
    return shape * torch.log(rate) - torch.lgamma(shape) + (shape - 1.0) * torch.log(tau) - rate * tau


@dataclass
class MeanField:
    """q(mu, tau) = N(mu; m, v) Gamma(tau; a, b)."""

    m: torch.Tensor
    v: torch.Tensor
    a: torch.Tensor
    b: torch.Tensor

    def sample(self, num, generator):
        """(num,) draws of mu and of tau from q."""
        mu = self.m + self.v.sqrt() * torch.randn(num, generator=generator, dtype=DTYPE)
        # Gamma draws through torch's sampler, seeded from the generator for repeatability.
        seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            tau = torch.distributions.Gamma(self.a, self.b).sample((num,))
        return mu, tau

    def log_density(self, mu, tau):
        return log_normal_diag(mu.unsqueeze(-1), self.m.reshape(1), torch.log(self.v).reshape(1)) \
            + log_gamma_density(tau, self.a, self.b)


def normal_gamma_elbo(model: NormalGamma, q: MeanField):
    """The ELBO E_q[log p(x, mu, tau)] + H[q(mu)] + H[q(tau)], every expectation in closed form."""
    n, x = model.n, model.x
    e_tau = q.a / q.b
    e_log_tau = torch.special.digamma(q.a) - torch.log(q.b)
    e_sq_data = ((x - q.m) ** 2).sum() + n * q.v  # E_q sum_i (x_i - mu)^2
    e_sq_prior = (q.m - model.mu0) ** 2 + q.v  # E_q (mu - mu0)^2
    e_log_lik = 0.5 * n * (e_log_tau - LOG_2PI) - 0.5 * e_tau * e_sq_data
    e_log_prior_mu = 0.5 * (math.log(model.lambda0) + e_log_tau - LOG_2PI) - 0.5 * model.lambda0 * e_tau * e_sq_prior
    e_log_prior_tau = (model.a0 * math.log(model.b0) - math.lgamma(model.a0)
                       + (model.a0 - 1.0) * e_log_tau - model.b0 * e_tau)
    entropy_mu = 0.5 * (LOG_2PI + 1.0 + torch.log(q.v))
    entropy_tau = q.a - torch.log(q.b) + torch.lgamma(q.a) + (1.0 - q.a) * torch.special.digamma(q.a)
    return e_log_lik + e_log_prior_mu + e_log_prior_tau + entropy_mu + entropy_tau


def update_q_mu(model: NormalGamma, q: MeanField):
    """q*(mu) = N(mu_N, 1 / (lambda_N E[tau])): the mean does not depend on q(tau)."""
    lambda_n = model.lambda0 + model.n
    m = (model.lambda0 * model.mu0 + model.x.sum()) / lambda_n
    v = 1.0 / (lambda_n * q.a / q.b)
    return MeanField(m, v, q.a, q.b)


def update_q_tau(model: NormalGamma, q: MeanField):
    """q*(tau) = Gamma(a0 + (N+1)/2, b0 + E_q(mu)[sum_i (x_i - mu)^2 + lambda0 (mu - mu0)^2] / 2)."""
    a = torch.as_tensor(model.a0 + 0.5 * (model.n + 1), dtype=DTYPE)
    e_sq = ((model.x - q.m) ** 2).sum() + model.n * q.v + model.lambda0 * ((q.m - model.mu0) ** 2 + q.v)
    b = model.b0 + 0.5 * e_sq
    return MeanField(q.m, q.v, a, b)


def cavi_normal_gamma(model: NormalGamma, q: MeanField, num_sweeps):
    """Alternate the two optimal-factor updates; returns the list of q after each half-step.

    The first entry is the initial q; the ELBO of consecutive entries never decreases.
    """
    history = [q]
    for _ in range(num_sweeps):
        q = update_q_mu(model, q)
        history.append(q)
        q = update_q_tau(model, q)
        history.append(q)
    return history


def normal_gamma_fixed_point(model: NormalGamma):
    """The CAVI fixed point in closed form: E_q[tau] = a_N / b_N, q(tau) = Gamma(a_N + 1/2, b_N (1 + 1/(2 a_N)))."""
    mu_n, lambda_n, a_n, b_n = model.exact_posterior()
    a = torch.as_tensor(a_n + 0.5, dtype=DTYPE)
    b = b_n * (1.0 + 0.5 / a_n)
    v = b_n / (lambda_n * a_n)
    return MeanField(torch.as_tensor(mu_n, dtype=DTYPE), torch.as_tensor(v, dtype=DTYPE), a, b)


# ----------------------------------------------------------------------------------------------
# A Bayesian Gaussian mixture: global means, local assignments (CAVI and SVI).
# ----------------------------------------------------------------------------------------------
@dataclass
class GaussianMixture:
    """mu_k ~ N(0, prior_var I), c_i ~ Cat(1/K), x_i | c_i, mu ~ N(mu_{c_i}, I), in d dimensions.

    q(mu_k) = N(m_k, s2_k I) is held through its natural parameters
    lam_k = (m_k / s2_k, -1 / (2 s2_k)) of the sufficient statistics (mu_k, ||mu_k||^2);
    q(c_i) = Cat(phi_i).
    """

    x: torch.Tensor  # (N, d)
    num_components: int
    prior_var: float = 25.0

    @property
    def n(self):
        return self.x.shape[0]

    @property
    def dim(self):
        return self.x.shape[1]

    def prior_natural(self):
        """Natural parameters of the prior on each mu_k: (0, -1/(2 prior_var)), shape (d+1,)."""
        lam = torch.zeros(self.dim + 1, dtype=DTYPE)
        lam[-1] = -0.5 / self.prior_var
        return lam

    def local_step(self, m, s2, x=None):
        """phi_ik proportional to exp(E[mu_k]^T x_i - E[||mu_k||^2] / 2): (N, K)."""
        x = self.x if x is None else x
        e_sq = (m**2).sum(-1) + self.dim * s2  # (K,)
        return torch.softmax(x @ m.T - 0.5 * e_sq, dim=-1)

    def natural_target(self, phi, x=None, scale=1.0):
        """E_q[eta_g(x, c)] = prior + scale * sum_i phi_ik (x_i, -1/2): (K, d+1).

        With x, phi of a minibatch and scale = N / M this is SVI's intermediate parameter.
        """
        x = self.x if x is None else x
        stats = torch.cat([phi.T @ x, -0.5 * phi.sum(0, keepdim=True).T], dim=-1)  # (K, d+1)
        return self.prior_natural() + scale * stats

    def elbo(self, m, s2, phi):
        """The ELBO with every expectation in closed form (mean parameters m (K, d), s2 (K,))."""
        n, d, k = self.n, self.dim, self.num_components
        e_sq = (m**2).sum(-1) + d * s2  # (K,) E||mu_k||^2
        e_log_prior_mu = (-0.5 * d * (LOG_2PI + math.log(self.prior_var)) - 0.5 * e_sq / self.prior_var).sum()
        e_log_prior_c = -n * math.log(k)
        sq_dist = (self.x**2).sum(-1, keepdim=True) - 2.0 * self.x @ m.T + e_sq  # (N, K) E||x_i - mu_k||^2
        e_log_lik = (phi * (-0.5 * d * LOG_2PI - 0.5 * sq_dist)).sum()
        entropy_mu = (0.5 * d * (LOG_2PI + 1.0 + torch.log(s2))).sum()
        entropy_c = -(phi * torch.log(phi.clamp_min(1e-300))).sum()
        return e_log_prior_mu + e_log_prior_c + e_log_lik + entropy_mu + entropy_c

    def elbo_at_optimal_phi(self, m, s2):
        return self.elbo(m, s2, self.local_step(m, s2))


def natural_to_mean(lam):
    """(m, s2) from natural parameters lam = (m / s2, -1 / (2 s2)) of shape (K, d+1)."""
    s2 = -0.5 / lam[:, -1]
    return lam[:, :-1] * s2.unsqueeze(-1), s2


def mean_to_natural(m, s2):
    return torch.cat([m / s2.unsqueeze(-1), (-0.5 / s2).unsqueeze(-1)], dim=-1)


def isotropic_log_normalizer(lam):
    """A(lam) = -||lam_1||^2 / (4 lam_2) - d/2 log(-2 lam_2) per component (constants dropped)."""
    d = lam.shape[-1] - 1
    return -(lam[:, :-1] ** 2).sum(-1) / (4.0 * lam[:, -1]) - 0.5 * d * torch.log(-2.0 * lam[:, -1])


def initial_means(model: GaussianMixture, generator):
    """Start q(mu_k) at K distinct data points with unit variance."""
    idx = torch.randperm(model.n, generator=generator)[: model.num_components]
    return model.x[idx].clone(), torch.ones(model.num_components, dtype=DTYPE)


def cavi_mixture(model: GaussianMixture, m, s2, num_sweeps):
    """Full-data coordinate ascent: local step on all points, then the global step. Returns (m, s2, elbos)."""
    elbos = []
    for _ in range(num_sweeps):
        phi = model.local_step(m, s2)
        elbos.append(model.elbo(m, s2, phi))
        m, s2 = natural_to_mean(model.natural_target(phi))
        elbos.append(model.elbo(m, s2, phi))
    return m, s2, torch.stack(elbos)


def svi_mixture(model: GaussianMixture, m, s2, batch_size, steps, generator, record_at=()):
    """Stochastic VI: natural-gradient steps lam <- (1 - rho) lam + rho lam_hat on minibatches.

    `steps` is the sequence of step sizes rho_t. Returns (m, s2, records), where records lists
    (data points visited, ELBO with optimal local parameters) after each step t in `record_at`.
    """
    lam = mean_to_natural(m, s2)
    record_at = set(record_at)
    records = []
    for t, rho in enumerate(steps, start=1):
        idx = torch.randint(0, model.n, (batch_size,), generator=generator)
        batch = model.x[idx]  # (M, d)
        m, s2 = natural_to_mean(lam)
        phi = model.local_step(m, s2, batch)  # (M, K): local step for the minibatch only
        lam_hat = model.natural_target(phi, batch, scale=model.n / batch_size)
        lam = (1.0 - rho) * lam + rho * lam_hat
        if t in record_at:
            m, s2 = natural_to_mean(lam)
            records.append((t * batch_size, float(model.elbo_at_optimal_phi(m, s2))))
    m, s2 = natural_to_mean(lam)
    return m, s2, records


def mixture_data(num_points, means, generator):
    """num_points draws from an equal-weight mixture of N(mean_k, I): (N, d)."""
    means = torch.as_tensor(means, dtype=DTYPE)
    labels = torch.randint(0, means.shape[0], (num_points,), generator=generator)
    return means[labels] + torch.randn(num_points, means.shape[1], generator=generator, dtype=DTYPE)

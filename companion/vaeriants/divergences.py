"""The two directions of the KL divergence, and what each does to a Gaussian fit (chapter 5).

Three groups of tools:

* one-dimensional targets (a Gaussian mixture) and Gaussian fits to them that minimize either
  the forward divergence KL(p || q) or the reverse divergence KL(q || p), both computed by
  quadrature on a fixed grid so that the fits are deterministic;
* the mean-field (fully factorized) Gaussian that minimizes KL(q || p) for a correlated
  Gaussian p, in closed form, by coordinate ascent (CAVI) and by gradient descent;
* the gap KL(q || p(z|x)) that a mean-field q leaves in a linear-Gaussian model, the quantity
  through which the ELBO pushes the decoder toward posteriors that q can represent.

Grids and targets use float64: the tails of a mixture reach log-densities of -1e3 and more,
which float32 would round to -inf inside the integrands.
"""
import math
from dataclasses import dataclass

import torch

from vaeriants.distributions import LOG_2PI, kl_full_normals

DTYPE = torch.float64


# ---------------------------------------------------------------------------------------------
# One-dimensional targets and quadrature
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Mixture1D:
    """p(z) = sum_k weights[k] N(z; means[k], stds[k]^2), with weights summing to one."""

    weights: tuple
    means: tuple
    stds: tuple

    def _params(self):
        as_tensor = lambda v: torch.tensor(v, dtype=DTYPE)  # noqa: E731
        return as_tensor(self.weights), as_tensor(self.means), as_tensor(self.stds)

    def component_log_probs(self, z):
        """log(weights[k] N(z; means[k], stds[k]^2)) for each k; z: (...,) -> (..., K)."""
        w, m, s = self._params()
        z = z.unsqueeze(-1)
        return w.log() - 0.5 * (LOG_2PI + 2.0 * s.log() + ((z - m) / s) ** 2)

    def log_prob(self, z):
        return torch.logsumexp(self.component_log_probs(z), dim=-1)

    def mean(self):
        w, m, _ = self._params()
        return float((w * m).sum())

    def variance(self):
        """Law of total variance: the mean of the component variances plus the variance of the means."""
        w, m, s = self._params()
        return float((w * (s**2 + m**2)).sum()) - self.mean() ** 2


def bimodal_example():
    """The chapter's running target: 0.3 N(-2, 0.6^2) + 0.7 N(2, 0.6^2)."""
    return Mixture1D(weights=(0.3, 0.7), means=(-2.0, 2.0), stds=(0.6, 0.6))


# A fit may not wander off the quadrature grid, where the integrals would silently read zero:
# its mean stays within +-MEAN_BOUND and its standard deviation within [STD_MIN, STD_MAX],
# so that q keeps all but ~1e-9 of its mass (six standard deviations) on the nodes of grid().
MEAN_BOUND, STD_MIN, STD_MAX = 8.0, 0.01, 4.0


def grid(lo=-32.0, hi=32.0, n=12801):
    """Equally spaced quadrature nodes; the trapezoid rule on them is accurate to ~1e-10 here."""
    return torch.linspace(lo, hi, n, dtype=DTYPE)


def log_normal_1d(z, mean, logvar):
    return -0.5 * (LOG_2PI + logvar + (z - mean) ** 2 / logvar.exp())


def forward_kl(target, mean, logvar, z):
    """KL(p || q) for q = N(mean, exp(logvar)), by the trapezoid rule on the nodes z."""
    log_p = target.log_prob(z)
    return torch.trapezoid(log_p.exp() * (log_p - log_normal_1d(z, mean, logvar)), z)


def reverse_kl(target, mean, logvar, z):
    """KL(q || p) for q = N(mean, exp(logvar)), by the trapezoid rule on the nodes z."""
    log_q = log_normal_1d(z, mean, logvar)
    return torch.trapezoid(log_q.exp() * (log_q - target.log_prob(z)), z)


def fit_gaussian(divergence, target, init_mean, init_std, z=None, max_iter=500):
    """Minimize divergence(target, mean, logvar, z) over a 1-D Gaussian q, starting from init.

    The objective is a deterministic integral, so L-BFGS with a line search converges in a few
    dozen iterations. Returns (mean, variance, divergence at the optimum) as floats.
    """
    z = grid() if z is None else z
    # Unconstrained coordinates (u, v) with mean = B tanh(u) and log std running over
    # [log STD_MIN, log STD_MAX] as v runs over the real line.
    log_lo, log_hi = math.log(STD_MIN), math.log(STD_MAX)
    u = torch.tensor(math.atanh(init_mean / MEAN_BOUND), dtype=DTYPE, requires_grad=True)
    fraction = (math.log(init_std) - log_lo) / (log_hi - log_lo)
    v = torch.tensor(math.log(fraction / (1.0 - fraction)), dtype=DTYPE, requires_grad=True)

    def mean_logvar():
        return MEAN_BOUND * torch.tanh(u), 2.0 * (log_lo + (log_hi - log_lo) * torch.sigmoid(v))

    optimizer = torch.optim.LBFGS([u, v], max_iter=max_iter, line_search_fn="strong_wolfe",
                                  tolerance_grad=1e-12, tolerance_change=1e-15)

    def closure():
        optimizer.zero_grad()
        loss = divergence(target, *mean_logvar(), z)
        loss.backward()
        return loss

    optimizer.step(closure)
    with torch.no_grad():
        mean, logvar = mean_logvar()
        value = divergence(target, mean, logvar, z)
    return float(mean), float(logvar.exp()), float(value)


def reverse_kl_stationarity(target, mean, var, z=None):
    """The two conditions that hold at any stationary point of KL(q || p) over Gaussians q.

    With q = N(mean, var), Bonnet's and Price's identities give
        d/d mean KL = -E_q[(log p)'(z)],   d/d var KL = -1/(2 var) - E_q[(log p)''(z)] / 2,
    so a stationary point has E_q[(log p)'] = 0 and 1/var = -E_q[(log p)'']. Returns both
    residuals, (E_q[(log p)'], 1/var + E_q[(log p)'']), computed by autograd and quadrature.
    """
    z = (grid() if z is None else z).clone().requires_grad_(True)
    log_p = target.log_prob(z)
    (score,) = torch.autograd.grad(log_p.sum(), z, create_graph=True)
    (curvature,) = torch.autograd.grad(score.sum(), z)
    with torch.no_grad():
        q = log_normal_1d(z, torch.tensor(mean, dtype=DTYPE), torch.tensor(math.log(var), dtype=DTYPE)).exp()
        mean_score = torch.trapezoid(q * score, z)
        mean_curvature = torch.trapezoid(q * curvature, z)
    return float(mean_score), float(1.0 / var + mean_curvature)


# ---------------------------------------------------------------------------------------------
# Mean-field Gaussians for a correlated Gaussian target p = N(mu, Lambda^{-1})
# ---------------------------------------------------------------------------------------------

def mean_field_optimum(mean, precision):
    """The fully factorized Gaussian minimizing KL(q || p): means mu, variances 1/Lambda_ii."""
    return mean.clone(), 1.0 / precision.diagonal()


def cavi_gaussian(mean, precision, init_means, sweeps=50):
    """Coordinate ascent for the mean-field q of a Gaussian p = N(mean, precision^{-1}).

    Each update sets q_j(z_j) proportional to exp E_{q_-j}[log p(z)], which is the Gaussian
    N(m_j, 1/Lambda_jj) with m_j = mu_j - (1/Lambda_jj) sum_{k != j} Lambda_jk (m_k - mu_k).
    Returns the means after each sweep, shape (sweeps + 1, d), and the (fixed) variances.
    """
    m = init_means.clone().to(DTYPE)
    history = [m.clone()]
    for _ in range(sweeps):
        for j in range(len(m)):
            off_diagonal = precision[j] @ (m - mean) - precision[j, j] * (m[j] - mean[j])
            m[j] = mean[j] - off_diagonal / precision[j, j]
        history.append(m.clone())
    return torch.stack(history), 1.0 / precision.diagonal()


def mean_field_gap(precision):
    """min over factorized Gaussians q of KL(q || N(mu, precision^{-1})) = (sum log L_ii - log det L)/2."""
    return 0.5 * (precision.diagonal().log().sum() - torch.linalg.slogdet(precision)[1])


def fit_mean_field_by_gradient(mean, cov, direction="reverse", max_iter=2000, seed=0):
    """Fit a diagonal Gaussian to N(mean, cov) by L-BFGS on the closed-form KL in either direction.

    direction="reverse" minimizes KL(q || p), "forward" minimizes KL(p || q). Starts from a
    random point so the test sees the optimizer find the optimum rather than start there.
    Returns (means, variances) of q.
    """
    generator = torch.Generator().manual_seed(seed)
    d = len(mean)
    q_mean = torch.randn(d, generator=generator, dtype=DTYPE).requires_grad_(True)
    q_logvar = torch.randn(d, generator=generator, dtype=DTYPE).requires_grad_(True)
    optimizer = torch.optim.LBFGS([q_mean, q_logvar], max_iter=max_iter, line_search_fn="strong_wolfe",
                                  tolerance_grad=1e-12, tolerance_change=1e-15)

    def closure():
        optimizer.zero_grad()
        q_cov = torch.diag(q_logvar.exp())
        if direction == "reverse":
            loss = kl_full_normals(q_mean, q_cov, mean, cov)
        else:
            loss = kl_full_normals(mean, cov, q_mean, q_cov)
        loss.backward()
        return loss

    optimizer.step(closure)
    return q_mean.detach(), q_logvar.detach().exp()


def correlated_pair(rho, std=1.0):
    """Mean zero, both variances std^2, correlation rho: the chapter's two-dimensional example."""
    cov = std**2 * torch.tensor([[1.0, rho], [rho, 1.0]], dtype=DTYPE)
    return torch.zeros(2, dtype=DTYPE), cov


# ---------------------------------------------------------------------------------------------
# Edge one: the posterior gap of a mean-field q in a linear-Gaussian model
# ---------------------------------------------------------------------------------------------

def linear_gaussian_posterior_precision(weights, noise_var):
    """Posterior precision I + W^T W / sigma^2 of p(z|x) for x = W z + noise, z ~ N(0, I)."""
    k = weights.shape[1]
    return torch.eye(k, dtype=weights.dtype) + weights.T @ weights / noise_var


def linear_gaussian_mean_field_gap(weights, noise_var):
    """log p(x) - max ELBO for a factorized Gaussian q, the same for every x (Hadamard's ratio)."""
    return mean_field_gap(linear_gaussian_posterior_precision(weights, noise_var))


def rotation(angle):
    c, s = math.cos(angle), math.sin(angle)
    return torch.tensor([[c, -s], [s, c]], dtype=DTYPE)


# ---------------------------------------------------------------------------------------------
# Edge one, nonlinear: a decoder whose posterior is bimodal unless the model breaks a symmetry
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SquareDecoder:
    """p(z) = N(0, 1), p(x|z) = N(x; a z^2 + b z, noise_std^2).

    With b = 0 the sign of z cannot be recovered from x, so p(z|x) has two mirror-image modes
    at z = +-sqrt(x/a); b != 0 breaks the symmetry and makes one mode heavier than the other.
    """

    a: float = 1.0
    b: float = 0.0
    noise_std: float = 0.3

    def log_marginal(self, x, z=None):
        """log p(x) by the trapezoid rule over z; x: (X,) -> (X,)."""
        z = torch.linspace(-7.0, 7.0, 7001, dtype=DTYPE) if z is None else z
        log_joint = self.log_likelihood(x.unsqueeze(-1), z) - 0.5 * (LOG_2PI + z**2)  # (X, Z)
        return torch.logsumexp(log_joint, dim=-1) + math.log(float(z[1] - z[0]))

    def log_likelihood(self, x, z):
        return -0.5 * (LOG_2PI + 2.0 * math.log(self.noise_std)) - (x - self.a * z**2 - self.b * z) ** 2 / (2.0 * self.noise_std**2)

    def gaussian_elbo(self, x, mean, logvar):
        """The ELBO of q = N(mean, exp(logvar)) at x, in closed form (shapes broadcast).

        The decoder mean u = a z^2 + b z is a polynomial in z, so E_q[(x - u)^2] needs only
        the Gaussian moments E z^2 = m^2 + v, E z^3 = m^3 + 3 m v, E z^4 = m^4 + 6 m^2 v + 3 v^2.
        """
        a, b, s2 = self.a, self.b, self.noise_std**2
        m, v = mean, logvar.exp()
        ez2, ez3, ez4 = m**2 + v, m**3 + 3 * m * v, m**4 + 6 * m**2 * v + 3 * v**2
        expected_u = a * ez2 + b * m
        expected_u2 = a * a * ez4 + 2 * a * b * ez3 + b * b * ez2
        expected_log_likelihood = -0.5 * (LOG_2PI + math.log(s2)) - (x**2 - 2 * x * expected_u + expected_u2) / (2 * s2)
        kl_to_prior = 0.5 * (v + m**2 - 1.0 - logvar)
        return expected_log_likelihood - kl_to_prior

    def best_gaussian_elbo(self, x):
        """max over Gaussian q of the ELBO at each x; returns (elbo, mean, logvar), each (X,).

        The maximization is the reverse-KL fit of q to the (possibly bimodal) posterior, so it
        has a local optimum per mode: a grid search over (mean, log variance) finds the global
        one, and L-BFGS polishes it.
        """
        means = torch.linspace(-4.5, 4.5, 361, dtype=DTYPE)
        logvars = torch.linspace(math.log(1e-4), math.log(2.0), 56, dtype=DTYPE)
        with torch.no_grad():
            values = self.gaussian_elbo(x[:, None, None], means[None, :, None], logvars[None, None, :])  # (X, M, V)
            best = values.reshape(len(x), -1).argmax(dim=1)
        mean = means[best // len(logvars)].clone().requires_grad_(True)
        logvar = logvars[best % len(logvars)].clone().requires_grad_(True)
        optimizer = torch.optim.LBFGS([mean, logvar], max_iter=100, line_search_fn="strong_wolfe",
                                      tolerance_grad=1e-9, tolerance_change=1e-13)

        def closure():
            optimizer.zero_grad()
            loss = -self.gaussian_elbo(x, mean, logvar).sum()  # independent problems: sum them
            loss.backward()
            return loss

        optimizer.step(closure)
        with torch.no_grad():
            return self.gaussian_elbo(x, mean, logvar), mean.detach(), logvar.detach()


def population_nodes(true_model, lo=-1.5, hi=16.0, n=301):
    """Quadrature nodes x and normalized weights w with sum_i w_i f(x_i) ~ E_{p_true(x)} f(x)."""
    x = torch.linspace(lo, hi, n, dtype=DTYPE)
    weights = true_model.log_marginal(x).exp()
    return x, weights / weights.sum()


def asymmetry_scan(b_values, true_model=None, nodes=None):
    """Population log-likelihood and best Gaussian ELBO of SquareDecoder(b) for each b.

    The data come from true_model (default: b = 0), so by Gibbs' inequality the average
    log-likelihood is largest at b = 0. Returns two lists of floats.
    """
    true_model = SquareDecoder() if true_model is None else true_model
    x, w = population_nodes(true_model) if nodes is None else nodes
    log_likelihoods, elbos = [], []
    for b in b_values:
        model = SquareDecoder(true_model.a, float(b), true_model.noise_std)
        log_likelihoods.append(float((w * model.log_marginal(x)).sum()))
        elbos.append(float((w * model.best_gaussian_elbo(x)[0]).sum()))
    return log_likelihoods, elbos

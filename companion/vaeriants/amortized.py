"""Amortized inference and its gaps, measured on a model whose evidence we can compute (chapter 2).

The generative model is fixed and small: z ~ N(0, I_2) and x | z ~ N(f(z), noise_std^2 I),
with f a one-hidden-layer tanh network (or an affine map). With a two-dimensional latent space,
log p(x) is an integral over a plane, which a fine grid computes to many digits. For each data
point we can then compare three numbers (Cremer, Li and Duvenaud, 2018):

    log p(x)  >=  max_{q in Q} ELBO(q; x)  >=  ELBO(q_phi(. | x); x),

where Q is the family of diagonal Gaussians and q_phi is an encoder trained on the data set.
The first difference is the approximation gap, the second the amortization gap.

Expectations under a Gaussian q are taken by Gauss-Hermite quadrature, so the ELBOs are
deterministic and accurate; training uses the SGVB estimator, as a VAE would.
"""
import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from vaeriants.distributions import LOG_2PI, kl_diag_normal_standard_normal, log_standard_normal

DTYPE = torch.float64
LATENT_DIM = 2


@dataclass
class Decoder:
    """p_theta(x | z) = N(x; weight2 act(weight1 z + bias1) + bias2, noise_std^2 I)."""

    weight1: torch.Tensor  # (H, 2)
    bias1: torch.Tensor  # (H,)
    weight2: torch.Tensor  # (d_x, H)
    bias2: torch.Tensor  # (d_x,)
    noise_std: float
    linear: bool = False  # act = identity instead of tanh

    @property
    def data_dim(self):
        return self.weight2.shape[0]

    def mean(self, z):  # z: (..., 2)
        h = z @ self.weight1.T + self.bias1
        h = h if self.linear else torch.tanh(h)  # (..., H)
        return h @ self.weight2.T + self.bias2  # (..., d_x)

    def log_likelihood(self, x, z):
        """log p(x | z) for x (B, d_x) and z (B, S, 2): returns (B, S)."""
        sq = ((x.unsqueeze(1) - self.mean(z)) ** 2).sum(-1)
        return -0.5 * self.data_dim * (LOG_2PI + 2.0 * math.log(self.noise_std)) - 0.5 * sq / self.noise_std**2

    def sample(self, num, generator):
        """(num, d_x) draws from p(x) by ancestral sampling."""
        z = torch.randn(num, LATENT_DIM, generator=generator, dtype=DTYPE)
        return self.mean(z) + self.noise_std * torch.randn(num, self.data_dim, generator=generator, dtype=DTYPE)


def tanh_decoder(data_dim=4, hidden=16, noise_std=0.3, scale=1.5, seed=0):
    """A random but fixed tanh decoder: weights drawn once from a seeded generator."""
    g = torch.Generator().manual_seed(seed)
    return Decoder(
        weight1=scale * torch.randn(hidden, LATENT_DIM, generator=g, dtype=DTYPE),
        bias1=torch.randn(hidden, generator=g, dtype=DTYPE),
        weight2=torch.randn(data_dim, hidden, generator=g, dtype=DTYPE) / math.sqrt(hidden),
        bias2=torch.zeros(data_dim, dtype=DTYPE),
        noise_std=noise_std,
    )


def linear_decoder(weight, noise_std):
    """p(x | z) = N(W z, noise_std^2 I): the posterior is Gaussian with precision I + W^T W / noise_var."""
    weight = torch.as_tensor(weight, dtype=DTYPE)  # (d_x, 2)
    return Decoder(torch.eye(LATENT_DIM, dtype=DTYPE), torch.zeros(LATENT_DIM, dtype=DTYPE),
                   weight, torch.zeros(weight.shape[0], dtype=DTYPE), noise_std, linear=True)


# ----------------------------------------------------------------------------------------------
# Exact quantities: the evidence by quadrature on a grid, Gauss-Hermite ELBOs.
# ----------------------------------------------------------------------------------------------
def latent_grid(half_width=5.0, points=201):
    """A square grid over the latent plane: (points^2, 2) nodes and the cell area."""
    ticks = torch.linspace(-half_width, half_width, points, dtype=DTYPE)
    zz = torch.cartesian_prod(ticks, ticks)
    return zz, float(ticks[1] - ticks[0]) ** 2


def _log_joint_on_grid(decoder: Decoder, x, zz):
    """log p(x, z) for every data point and grid node, (B, G); f(z) is computed once per node."""
    means = decoder.mean(zz)  # (G, d_x)
    sq = (x**2).sum(-1, keepdim=True) - 2.0 * x @ means.T + (means**2).sum(-1)  # (B, G) ||x - f(z)||^2
    const = -0.5 * decoder.data_dim * (LOG_2PI + 2.0 * math.log(decoder.noise_std))
    return const - 0.5 * sq / decoder.noise_std**2 + log_standard_normal(zz)


def log_evidence_grid(decoder: Decoder, x, half_width=5.0, points=201):
    """log p(x) = log sum_grid p(x | z) p(z) dA: (B,).

    The integrand is smooth and decays like a Gaussian, so the grid sum converges
    exponentially fast in the number of points per posterior standard deviation.
    """
    zz, area = latent_grid(half_width, points)
    return torch.logsumexp(_log_joint_on_grid(decoder, x, zz), dim=-1) + math.log(area)


def posterior_on_grid(decoder: Decoder, x, half_width=5.0, points=201):
    """Posterior mean (B, 2), standard deviation (B, 2) and mode (B, 2) from the grid."""
    zz, _ = latent_grid(half_width, points)
    log_post = _log_joint_on_grid(decoder, x, zz)  # (B, G), unnormalized
    w = torch.softmax(log_post, dim=-1)
    mean = w @ zz
    std = (w @ zz**2 - mean**2).clamp_min(1e-12).sqrt()
    mode = zz[log_post.argmax(-1)]
    return mean, std, mode


def gauss_hermite_nodes(order=20):
    """Nodes eps (order^2, 2) and weights (order^2,) with sum_k w_k f(eps_k) ~ E_{N(0, I)} f."""
    t, w = np.polynomial.hermite_e.hermegauss(order)  # probabilists' Hermite: weight exp(-t^2/2)
    t = torch.as_tensor(t, dtype=DTYPE)
    w = torch.as_tensor(w / w.sum(), dtype=DTYPE)
    eps = torch.cartesian_prod(t, t)
    weights = torch.outer(w, w).reshape(-1)
    return eps, weights


def gauss_hermite_elbo(decoder: Decoder, x, mean, log_std, order=20):
    """ELBO(q; x) for q = N(mean, diag exp(2 log_std)), (B,): quadrature for E_q log p(x|z), closed-form KL."""
    eps, weights = gauss_hermite_nodes(order)
    z = mean.unsqueeze(1) + log_std.exp().unsqueeze(1) * eps  # (B, K, 2)
    expected_log_lik = decoder.log_likelihood(x, z) @ weights  # (B,)
    return expected_log_lik - kl_diag_normal_standard_normal(mean, 2.0 * log_std)


# ----------------------------------------------------------------------------------------------
# The SGVB estimators and the best per-data-point Gaussian.
# ----------------------------------------------------------------------------------------------
def sgvb_estimates(log_likelihood, x, mean, log_std, num_samples, generator, analytic_kl):
    """Per-sample SGVB estimates of the ELBO for q = N(mean, diag exp(2 log_std)), prior N(0, I).

    analytic_kl=False: log p(x, z) - log q(z | x) (Kingma and Welling's estimator A);
    analytic_kl=True:  log p(x | z) - KL(q || p)    (estimator B). Both use z = mean + std * eps.
    `log_likelihood(x, z)` maps z (B, S, d) to (B, S). Returns (B, S).
    """
    eps = torch.randn(mean.shape[0], num_samples, mean.shape[1], generator=generator, dtype=mean.dtype)
    z = mean.unsqueeze(1) + log_std.exp().unsqueeze(1) * eps  # (B, S, d)
    log_lik = log_likelihood(x, z)
    if analytic_kl:
        return log_lik - kl_diag_normal_standard_normal(mean, 2.0 * log_std).unsqueeze(1)
    # log q(z | x) = log N(eps; 0, I) - sum log std: the change of variables z = mean + std * eps.
    log_q = log_standard_normal(eps) - log_std.sum(-1, keepdim=True)
    return log_lik + log_standard_normal(z) - log_q


def best_gaussian_per_datapoint(decoder: Decoder, x, order=20, max_iter=200):
    """argmax over diagonal Gaussians of each point's ELBO, by L-BFGS from two starts per point.

    The points are independent, so one L-BFGS run on the summed ELBO optimizes all of them.
    Starts: the grid posterior's mean and its mode, both with the posterior's marginal standard
    deviations; a bimodal posterior can trap one of them at a worse optimum.
    Returns (mean, log_std, elbo) of the better optimum for each point, each (B, ...).
    """
    post_mean, post_std, post_mode = posterior_on_grid(decoder, x)
    candidates = []
    for start in (post_mean, post_mode):
        mean = start.clone().requires_grad_(True)
        log_std = torch.log(post_std).clone().requires_grad_(True)
        optimizer = torch.optim.LBFGS([mean, log_std], lr=1.0, max_iter=max_iter, history_size=20,
                                      tolerance_grad=1e-9, tolerance_change=1e-12, line_search_fn="strong_wolfe")

        def closure():
            optimizer.zero_grad()
            loss = -gauss_hermite_elbo(decoder, x, mean, log_std, order).sum()
            loss.backward()
            return loss

        optimizer.step(closure)
        with torch.no_grad():
            candidates.append((mean.detach(), log_std.detach(), gauss_hermite_elbo(decoder, x, mean, log_std, order)))
    (mean_a, log_std_a, elbo_a), (mean_b, log_std_b, elbo_b) = candidates
    pick_b = (elbo_b > elbo_a).unsqueeze(-1)  # (B, 1)
    return (torch.where(pick_b, mean_b, mean_a), torch.where(pick_b, log_std_b, log_std_a),
            torch.maximum(elbo_a, elbo_b))


# ----------------------------------------------------------------------------------------------
# The inference network.
# ----------------------------------------------------------------------------------------------
class Encoder(nn.Module):
    """q_phi(z | x) = N(mu_phi(x), diag exp(2 log_std_phi(x))); hidden=0 gives an affine encoder."""

    def __init__(self, data_dim, hidden):
        super().__init__()
        if hidden == 0:
            self.net = nn.Linear(data_dim, 2 * LATENT_DIM)
        else:
            self.net = nn.Sequential(nn.Linear(data_dim, hidden), nn.Tanh(), nn.Linear(hidden, 2 * LATENT_DIM))
        self.double()

    def forward(self, x):  # x: (B, d_x)
        mean, log_std = self.net(x).chunk(2, dim=-1)
        return mean, log_std  # (B, 2) each


def train_encoder(decoder: Decoder, x, hidden, steps, seed, lr=3e-3, num_samples=1):
    """Fit an encoder to the data set by maximizing the SGVB estimate (analytic KL) with Adam.

    The decoder stays fixed, so whatever gap remains is inference's, not the model's.
    """
    torch.manual_seed(seed)
    encoder = Encoder(decoder.data_dim, hidden)
    optimizer = torch.optim.Adam(encoder.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    for step in range(steps):
        mean, log_std = encoder(x)
        elbo = sgvb_estimates(decoder.log_likelihood, x, mean, log_std, num_samples, generator, analytic_kl=True)
        loss = -elbo.mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step == int(0.8 * steps):  # a smaller step at the end averages out the gradient noise
            for group in optimizer.param_groups:
                group["lr"] = lr / 10
    return encoder


def inference_gaps(decoder: Decoder, x, encoder: Encoder, best=None, order=20):
    """Per-point (log p(x), best diagonal-Gaussian ELBO, amortized ELBO) and the two gaps."""
    log_px = log_evidence_grid(decoder, x)
    if best is None:
        best = best_gaussian_per_datapoint(decoder, x, order)
    with torch.no_grad():
        amortized = gauss_hermite_elbo(decoder, x, *encoder(x), order)
    best_elbo = best[2]
    return {
        "log_evidence": log_px,
        "best_elbo": best_elbo,
        "amortized_elbo": amortized,
        "approximation_gap": log_px - best_elbo,
        "amortization_gap": best_elbo - amortized,
    }

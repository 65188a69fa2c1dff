"""Normalizing flows for chapter 6: bijections with tractable log-determinants.

Every layer maps a batch x of shape (B, d) forward to y = f(x) and returns
(y, log|det df/dx|) with the log-determinant of shape (B,). `inverse(y)` returns x.
A `FlowDistribution` pushes N(0, I) through a stack of layers; its `sample` gives draws
with their exact log-density (what the ELBO needs), and its `log_prob` evaluates the
density of any point by inverting the stack (what plots and normalization checks need).

Layers:
    AffineCholesky          y = mu + L x, L lower-triangular: the full-covariance Gaussian.
    PlanarFlow              y = x + u_hat tanh(w^T x + b) (Rezende and Mohamed, 2015), with
                            u_hat chosen so that the map is always invertible.
    AffineAutoregressive    y_i = mu_i(x_<i) + sigma_i(x_<i) x_i through a MADE conditioner:
                            the IAF layer (Kingma et al., 2016) and, read the other way, MAF.
    SigmoidalAutoregressive y_i = logit(sum_j w_j sigmoid(a_j x_i + b_j)), with (a, b, w)
                            functions of x_<i: the deep sigmoidal flow of neural
                            autoregressive flows (Huang et al., 2018).
    Reverse                 reverses the coordinate order, so that stacked autoregressive
                            layers condition every coordinate on every other one.
"""
import math

import torch
from torch import nn
from torch.nn import functional as F

from vaeriants.distributions import log_standard_normal

LOG_2PI = math.log(2.0 * math.pi)


# ----------------------------------------------------------------------------- layers


class AffineCholesky(nn.Module):
    """y = mu + L x with L lower-triangular and a positive diagonal (exp of a free vector).

    Pushing N(0, I) through it gives N(mu, L L^T): the full-covariance Gaussian written as
    a one-layer flow. log|det L| = sum_i log L_ii because L is triangular.
    """

    def __init__(self, dim):
        super().__init__()
        self.mu = nn.Parameter(torch.zeros(dim))
        self.log_diag = nn.Parameter(torch.zeros(dim))
        self.off_diag = nn.Parameter(torch.zeros(dim, dim))
        self.register_buffer("strict_lower", torch.tril(torch.ones(dim, dim), diagonal=-1))

    def cholesky_factor(self):
        return self.off_diag * self.strict_lower + torch.diag(self.log_diag.exp())  # (d, d)

    def forward(self, x):  # x: (B, d)
        L = self.cholesky_factor()
        y = self.mu + x @ L.T
        return y, self.log_diag.sum().expand(x.shape[0])

    def inverse(self, y):
        L = self.cholesky_factor()
        return torch.linalg.solve_triangular(L, (y - self.mu).T, upper=False).T


class PlanarFlow(nn.Module):
    """y = x + u_hat h(w^T x + b) with h = tanh.

    Its Jacobian is I + u_hat psi(x)^T with psi(x) = h'(w^T x + b) w, so by the matrix
    determinant lemma det = 1 + u_hat^T psi(x). The map is invertible exactly when
    w^T u_hat >= -1; following Rezende and Mohamed (2015, appendix A) the free vector u is
    replaced by u_hat = u + (m(w^T u) - w^T u) w / |w|^2 with m(a) = -1 + softplus(a) > -1,
    which leaves u unchanged in the direction orthogonal to w. `enforce_invertibility=False`
    uses u as it is (only to show what goes wrong without the constraint).
    """

    def __init__(self, dim, enforce_invertibility=True, init_scale=0.1, generator=None):
        super().__init__()
        self.u = nn.Parameter(init_scale * torch.randn(dim, generator=generator))
        self.w = nn.Parameter(init_scale * torch.randn(dim, generator=generator))
        self.b = nn.Parameter(torch.zeros(()))
        self.enforce_invertibility = enforce_invertibility

    def u_hat(self):
        if not self.enforce_invertibility:
            return self.u
        wu = self.w @ self.u
        m = -1.0 + F.softplus(wu)
        return self.u + (m - wu) * self.w / (self.w @ self.w)

    def forward(self, x):  # x: (B, d)
        u = self.u_hat()
        pre = x @ self.w + self.b  # (B,)
        y = x + u * torch.tanh(pre).unsqueeze(-1)
        slope = 1.0 - torch.tanh(pre) ** 2  # h'(w^T x + b), in (0, 1]
        det = 1.0 + slope * (self.w @ u)  # matrix determinant lemma, (B,)
        return y, torch.log(det.abs())

    def inverse(self, y, iterations=60):
        """Solve y = x + u_hat tanh(w^T x + b) for x.

        Writing a = w^T x, the scalar equation w^T y = a + (w^T u_hat) tanh(a + b) has a
        strictly increasing right-hand side when w^T u_hat > -1, and its root lies within
        |w^T u_hat| of w^T y, so bisection on that bracket finds it; then
        x = y - u_hat tanh(a + b).
        """
        u = self.u_hat()
        wu = self.w @ u
        target = y @ self.w  # (B,)
        lo, hi = target - wu.abs() - 1e-6, target + wu.abs() + 1e-6
        for _ in range(iterations):
            mid = 0.5 * (lo + hi)
            too_big = mid + wu * torch.tanh(mid + self.b) > target
            hi = torch.where(too_big, mid, hi)
            lo = torch.where(too_big, lo, mid)
        a = 0.5 * (lo + hi)
        return y - u * torch.tanh(a + self.b).unsqueeze(-1)


class MaskedLinear(nn.Linear):
    def __init__(self, in_features, out_features, mask):
        super().__init__(in_features, out_features)
        self.register_buffer("mask", mask)

    def forward(self, x):
        return F.linear(x, self.weight * self.mask, self.bias)


class MADE(nn.Module):
    """A masked MLP (Germain et al., 2015): output block k for coordinate i sees x_<i only.

    Returns a tensor of shape (B, n_outputs, d): n_outputs numbers per coordinate.
    Hidden unit degrees cycle through 1..d-1, an input of degree i may feed a hidden unit
    of degree >= i, and a hidden unit of degree k may feed an output of degree > k.
    """

    def __init__(self, dim, hidden, n_outputs):
        super().__init__()
        self.dim, self.n_outputs = dim, n_outputs
        in_degree = torch.arange(1, dim + 1)
        hidden_degree = torch.arange(hidden) % max(dim - 1, 1) + 1
        out_degree = in_degree.repeat(n_outputs)
        mask_in = (hidden_degree[:, None] >= in_degree[None, :]).float()  # (H, d)
        mask_hidden = (hidden_degree[:, None] >= hidden_degree[None, :]).float()  # (H, H)
        mask_out = (out_degree[:, None] > hidden_degree[None, :]).float()  # (n_out*d, H)
        self.net = nn.Sequential(
            MaskedLinear(dim, hidden, mask_in), nn.Tanh(),
            MaskedLinear(hidden, hidden, mask_hidden), nn.Tanh(),
            MaskedLinear(hidden, n_outputs * dim, mask_out),
        )
        # Start every layer at (nearly) the identity map: small last-layer weights.
        with torch.no_grad():
            self.net[-1].weight.mul_(0.01)
            self.net[-1].bias.zero_()

    def forward(self, x):  # x: (B, d)
        return self.net(x).view(x.shape[0], self.n_outputs, self.dim)  # (B, n_outputs, d)


class AffineAutoregressive(nn.Module):
    """y_i = mu_i(x_<i) + sigma_i(x_<i) x_i, computed for all i in one pass.

    The Jacobian dy/dx is lower-triangular (y_i does not depend on x_j for j > i) with
    diagonal sigma_i, so log|det| = sum_i log sigma_i. Used as a sampler from N(0, I)
    this is the IAF layer; the same map read from data to noise is a MAF layer. Its
    inverse has to go coordinate by coordinate: x_i needs x_<i first.
    """

    def __init__(self, dim, hidden=32):
        super().__init__()
        self.dim = dim
        self.conditioner = MADE(dim, hidden, n_outputs=2)

    def _shift_and_log_scale(self, x):
        params = self.conditioner(x)  # (B, 2, d)
        return params[:, 0], params[:, 1]

    def forward(self, x):
        mu, log_sigma = self._shift_and_log_scale(x)
        return mu + log_sigma.exp() * x, log_sigma.sum(-1)

    def inverse(self, y):
        x = torch.zeros_like(y)
        for i in range(self.dim):  # d sequential passes: x_i depends on x_<i
            mu, log_sigma = self._shift_and_log_scale(x)
            x = x.clone()
            x[:, i] = (y[:, i] - mu[:, i]) * torch.exp(-log_sigma[:, i])
        return x


class SigmoidalAutoregressive(nn.Module):
    """Deep sigmoidal flow transformer with an autoregressive conditioner (one hidden layer).

    y_i = logit( sum_j w_ij sigmoid(a_ij x_i + b_ij) ), with a_ij > 0 (softplus),
    w_i. on the simplex (softmax) and (a, b, w) outputs of a MADE fed with x_<i. Each
    y_i is a strictly increasing function of x_i, so the Jacobian is triangular with a
    positive diagonal dy_i/dx_i, computed here in log-space for stability.
    """

    def __init__(self, dim, hidden=32, n_sigmoids=8):
        super().__init__()
        self.dim, self.k = dim, n_sigmoids
        self.conditioner = MADE(dim, hidden, n_outputs=3 * n_sigmoids)
        # With the MADE output near zero, a = softplus(0.5413) = 1 and the layer starts
        # close to a smooth monotone map of each coordinate.
        self.register_buffer("a_offset", torch.tensor(0.5413))

    def _coordinate_map(self, x_i, params_i, with_log_derivative=True):
        """y_i (and log dy_i/dx_i) for one coordinate x_i (B,) given its parameters (B, 3K)."""
        a_raw, b, w_raw = params_i.split(self.k, dim=1)  # (B, K) each
        a = F.softplus(a_raw + self.a_offset)
        log_w = torch.log_softmax(w_raw, dim=1)
        pre = a * x_i.unsqueeze(1) + b  # (B, K)
        log_sig, log_one_minus_sig = F.logsigmoid(pre), F.logsigmoid(-pre)
        log_s = torch.logsumexp(log_w + log_sig, dim=1)  # log S
        log_one_minus_s = torch.logsumexp(log_w + log_one_minus_sig, dim=1)  # log(1 - S), as sum w = 1
        y_i = log_s - log_one_minus_s  # logit(S)
        if not with_log_derivative:
            return y_i
        log_dsdx = torch.logsumexp(log_w + torch.log(a) + log_sig + log_one_minus_sig, dim=1)
        return y_i, log_dsdx - log_s - log_one_minus_s  # d logit(S)/dS = 1 / (S (1 - S))

    def forward(self, x):
        params = self.conditioner(x)  # (B, 3K, d)
        ys, log_dets = zip(*(self._coordinate_map(x[:, i], params[:, :, i]) for i in range(self.dim)))
        return torch.stack(ys, dim=-1), torch.stack(log_dets, dim=-1).sum(-1)

    def inverse(self, y, iterations=40, bound=30.0):
        x = torch.zeros_like(y)
        for i in range(self.dim):  # coordinate i's map is fixed once x_<i is known
            params_i = self.conditioner(x)[:, :, i]  # (B, 3K)
            lo = torch.full_like(y[:, i], -bound)
            hi = torch.full_like(y[:, i], bound)
            for _ in range(iterations):  # bisection: y_i is increasing in x_i
                mid = 0.5 * (lo + hi)
                too_big = self._coordinate_map(mid, params_i, with_log_derivative=False) > y[:, i]
                hi = torch.where(too_big, mid, hi)
                lo = torch.where(too_big, lo, mid)
            x = x.clone()
            x[:, i] = 0.5 * (lo + hi)
        return x


class Reverse(nn.Module):
    """Reverse the coordinate order: a permutation, |det| = 1."""

    def forward(self, x):
        return x.flip(-1), torch.zeros(x.shape[0], dtype=x.dtype)

    def inverse(self, y):
        return y.flip(-1)


# ----------------------------------------------------------------------------- distributions


class FlowDistribution(nn.Module):
    """q(y): N(0, I) in R^d pushed through `layers` in order.

    log q(y) = log N(x_0) - sum_k log|det df_k/dx_{k-1}|, the change-of-variables formula
    applied once per layer.
    """

    def __init__(self, dim, layers):
        super().__init__()
        self.dim = dim
        self.layers = nn.ModuleList(layers)

    def transform(self, x):
        """Push base points x (B, d) through every layer: (y, total log|det|)."""
        total = torch.zeros(x.shape[0], dtype=x.dtype)
        for layer in self.layers:
            x, log_det = layer(x)
            total = total + log_det
        return x, total

    def sample(self, n, generator=None):
        """n draws and their log-density, differentiable in the flow's parameters."""
        dtype = next(self.parameters()).dtype
        x = torch.randn(n, self.dim, generator=generator, dtype=dtype)
        y, log_det = self.transform(x)
        return y, log_standard_normal(x) - log_det

    def inverse(self, y):
        for layer in reversed(self.layers):
            y = layer.inverse(y)
        return y

    def log_prob(self, y):
        x = self.inverse(y)
        _, log_det = self.transform(x)
        return log_standard_normal(x) - log_det


def planar_flow(dim, n_layers, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return FlowDistribution(dim, [PlanarFlow(dim, generator=generator) for _ in range(n_layers)])


def autoregressive_flow(dim, n_layers, layer_class=AffineAutoregressive, seed=0, **kwargs):
    """n_layers autoregressive layers with a coordinate reversal between consecutive ones."""
    torch.manual_seed(seed)
    layers = []
    for k in range(n_layers):
        if k > 0:
            layers.append(Reverse())
        layers.append(layer_class(dim, **kwargs))
    return FlowDistribution(dim, layers)


def gaussian_flow(dim, seed=0, mean_scale=0.1):
    """The full-covariance Gaussian N(mu, L L^T) as a one-layer flow.

    Its mean starts at a small random offset, as the other flows start from random weights:
    on a target symmetric about the origin, a mean started exactly at 0 receives no gradient
    that would move it off the point of symmetry.
    """
    layer = AffineCholesky(dim)
    with torch.no_grad():
        layer.mu.copy_(mean_scale * torch.randn(dim, generator=torch.Generator().manual_seed(seed)))
    return FlowDistribution(dim, [layer])


# ----------------------------------------------------------------------------- fitting


def reverse_kl_elbo(flow, log_target, n_samples, generator=None):
    """Monte Carlo ELBO E_q[log p~(y) - log q(y)] for an unnormalized log-density log p~.

    KL(q || p) = log Z - ELBO, so maximizing this fits q to p by reverse KL.
    """
    y, log_q = flow.sample(n_samples, generator=generator)
    return (log_target(y) - log_q).mean()


def fit_reverse_kl(flow, log_target, steps, batch_size=256, learning_rate=5e-3, seed=0):
    """Maximize the ELBO of `flow` against `log_target` with Adam; returns per-step ELBOs."""
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(flow.parameters(), lr=learning_rate)
    history = []
    for _ in range(steps):
        elbo = reverse_kl_elbo(flow, log_target, batch_size, generator)
        optimizer.zero_grad()
        (-elbo).backward()
        optimizer.step()
        history.append(elbo.item())
    return history


# ----------------------------------------------------------------------------- 2-D targets


def banana_log_density(z, curvature=0.5, width=1.2, thickness=0.35, shift=1.0):
    """An unnormalized banana: z1 ~ N(0, width^2), z2 | z1 ~ N(curvature z1^2 - shift, thickness^2).

    Written without its normalizer, which is known: log Z = log(2 pi width thickness).
    """
    z1, z2 = z[..., 0], z[..., 1]
    return -0.5 * (z1 / width) ** 2 - 0.5 * ((z2 - curvature * z1**2 + shift) / thickness) ** 2


def banana_log_normalizer(width=1.2, thickness=0.35):
    return math.log(2.0 * math.pi * width * thickness)


def two_arcs_log_density(z, radius=2.0, ring_width=0.4, arc_center=2.0, arc_width=0.6):
    """Two arcs of a ring: a ring of radius 2 cut by a two-component mixture along z1.

    The shape of the first test energy of Rezende and Mohamed (2015); a bimodal target.
    """
    r = torch.linalg.norm(z, dim=-1)
    ring = -0.5 * ((r - radius) / ring_width) ** 2
    arcs = torch.logaddexp(
        -0.5 * ((z[..., 0] - arc_center) / arc_width) ** 2,
        -0.5 * ((z[..., 0] + arc_center) / arc_width) ** 2,
    )
    return ring + arcs


def grid_2d(limit, n):
    """An n x n grid on [-limit, limit]^2: points (n*n, 2) and the area of one cell."""
    ticks = torch.linspace(-limit, limit, n, dtype=torch.float64)
    zz1, zz2 = torch.meshgrid(ticks, ticks, indexing="xy")
    points = torch.stack([zz1.reshape(-1), zz2.reshape(-1)], dim=-1)
    cell = float(ticks[1] - ticks[0]) ** 2
    return points, cell


def log_normalizer_on_grid(log_density, limit=6.0, n=801):
    """log of the integral of exp(log_density) over [-limit, limit]^2 (midpoint-like sum)."""
    points, cell = grid_2d(limit, n)
    with torch.no_grad():
        values = log_density(points)
    return float(torch.logsumexp(values, 0) + math.log(cell))

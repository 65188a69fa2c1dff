"""Annealed importance sampling (Neal, 2001) and bidirectional Monte Carlo (Grosse et al., 2015).

AIS estimates Z_T = int f_T(z) dz, here the marginal likelihood p(x) = int p(x, z) dz, by
moving particles from a normalized start density f_0 (the prior or an encoder's q(z | x))
through intermediate densities on the geometric path

    f_t(z) = f_0(z)^(1 - beta_t) f_T(z)^beta_t,    0 = beta_0 < beta_1 < ... < beta_T = 1,

with a Markov kernel that leaves each f_t invariant (here Hamiltonian Monte Carlo). The log
weight of one chain is sum_t (beta_t - beta_{t-1}) [log f_T(z_{t-1}) - log f_0(z_{t-1})], and
exp(log weight) is an unbiased estimate of Z_T.

Run backwards from an exact sample of f_T / Z_T (available on data simulated from the model),
the same code returns log weights whose exponential is unbiased for 1 / Z_T: minus their
log-mean-exp is a stochastic upper bound on log Z_T. Forward and reverse chains sandwich it.

Functions take log densities as callables mapping z of shape (C, d) to (C,), one value per
chain, so that C chains (possibly for C different data points) run in parallel.
"""
import math

import torch


def sigmoid_schedule(num_steps, sharpness=4.0):
    """beta_0 = 0 < ... < beta_T = 1, spaced densely near both ends (a rescaled sigmoid).

    Consecutive densities differ most where beta is small (the likelihood is switched on)
    and where it is close to 1; spending more steps there keeps each ratio f_t / f_{t-1} tame.
    """
    if num_steps == 1:
        return torch.tensor([0.0, 1.0], dtype=torch.float64)
    s = torch.sigmoid(torch.linspace(-sharpness, sharpness, num_steps + 1, dtype=torch.float64))
    return (s - s[0]) / (s[-1] - s[0])


def _grad(log_density, z):
    """d log_density / dz for a batch of chains: (C, d)."""
    z = z.detach().requires_grad_(True)
    value = log_density(z)
    (gradient,) = torch.autograd.grad(value.sum(), z)
    return value.detach(), gradient


def hmc_step(z, log_density, step_size, num_leapfrog, generator):
    """One Hamiltonian Monte Carlo transition per chain, leaving exp(log_density) invariant.

    Momentum is redrawn from N(0, I), the leapfrog integrator is run for num_leapfrog steps,
    and the end point is accepted with the Metropolis probability min(1, exp(-dH)). The
    kernel satisfies detailed balance, so it is its own reversal, as reverse AIS needs.
    Returns the new states (C, d) and the acceptance rate.
    """
    momentum = torch.randn(z.shape, generator=generator, dtype=z.dtype)
    log_p0, grad = _grad(log_density, z)
    h0 = -log_p0 + 0.5 * (momentum**2).sum(-1)  # (C,)
    z_new, p_new = z.detach(), momentum + 0.5 * step_size * grad
    for step in range(num_leapfrog):
        z_new = z_new + step_size * p_new
        log_p1, grad = _grad(log_density, z_new)
        if step < num_leapfrog - 1:
            p_new = p_new + step_size * grad
    p_new = p_new + 0.5 * step_size * grad
    h1 = -log_p1 + 0.5 * (p_new**2).sum(-1)
    # Reject non-finite energies (a diverging trajectory) outright.
    log_accept = torch.where(torch.isfinite(h1), h0 - h1, torch.full_like(h1, -math.inf))
    accept = torch.rand(h1.shape, generator=generator, dtype=z.dtype).log() < log_accept
    z_out = torch.where(accept.unsqueeze(-1), z_new, z.detach())
    return z_out, accept.to(z.dtype).mean().item()


def ais_log_weights(z_start, log_init, log_target, betas, step_size, num_leapfrog, generator):
    """Run one annealing chain per row of z_start along `betas`; return log weights (C,).

    Forward AIS: z_start ~ f_0 (normalized, log density `log_init`), betas increasing from 0
    to 1, log_target = log f_T (unnormalized). Then E[exp(log w)] = Z_T.
    Reverse AIS: z_start ~ f_T / Z_T exactly and betas decreasing from 1 to 0. Then
    E[exp(log w)] = 1 / Z_T. The code is the same because each step only uses the ratio
    f_t / f_{t-1} = (f_T / f_0)^(beta_t - beta_{t-1}), evaluated before the transition.
    """
    z = z_start.detach().clone()
    log_w = torch.zeros(z.shape[0], dtype=z.dtype)
    num_steps = len(betas) - 1
    for t in range(1, num_steps + 1):
        with torch.no_grad():
            log_w += (betas[t] - betas[t - 1]) * (log_target(z) - log_init(z))
        if t < num_steps:  # the last density needs no transition: its weight is complete
            beta = betas[t].item()

            def log_intermediate(v, beta=beta):
                return (1.0 - beta) * log_init(v) + beta * log_target(v)

            z, _ = hmc_step(z, log_intermediate, step_size, num_leapfrog, generator)
    return log_w


def bidirectional_bounds(z_init, z_posterior, log_init, log_target, betas, step_size, num_leapfrog, generator):
    """Stochastic lower and upper bounds on log Z_T from forward and reverse AIS.

    z_init (C, d) ~ f_0; z_posterior (C, d) exact samples of f_T / Z_T. Returns the two
    per-chain arrays (C,): forward log w (each one's expectation <= log Z_T) and minus the
    reverse log w (each one's expectation >= log Z_T).
    """
    forward = ais_log_weights(z_init, log_init, log_target, betas, step_size, num_leapfrog, generator)
    reverse = ais_log_weights(z_posterior, log_init, log_target, betas.flip(0), step_size, num_leapfrog, generator)
    return forward, -reverse

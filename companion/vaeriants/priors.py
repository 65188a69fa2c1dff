"""Priors over the latent space for chapter 6, and a VAE that can use any of them.

Every prior has `log_prob(z)` for z of shape (B, d), returning (B,), and `sample(n)`.
    StandardNormalPrior   N(0, I), the default.
    AggregatePosterior    (1/N) sum_n q_phi(z | x_n) for a fixed encoder: the optimal prior.
    MixturePrior          sum_k pi_k N(mu_k, diag sigma_k^2), all learnable.
    VampPrior             (1/K) sum_k q_phi(z | u_k): the encoder applied to K learnable
                          pseudo-inputs u_k (Tomczak and Welling, 2018).
    FlowPrior             N(0, I) pushed through a flow, evaluated in the flow's one-pass
                          direction z -> eps (the autoregressive-flow prior of VLAE).
"""
import math

import torch
from torch import nn

from vaeriants.distributions import log_bernoulli, log_normal_diag, log_standard_normal
from vaeriants.vae import VAE, VAEConfig
from vaeriants.training import fit_by_minibatches


def aggregate_posterior_log_prob(z, means, logvars):
    """log (1/N) sum_n N(z; means_n, diag exp(logvars_n)) for z (B, d), means/logvars (N, d)."""
    per_component = log_normal_diag(z.unsqueeze(1), means.unsqueeze(0), logvars.unsqueeze(0))  # (B, N)
    return torch.logsumexp(per_component, dim=1) - math.log(means.shape[0])


def sample_aggregate_posterior(n, means, logvars, generator=None):
    """n draws from the mixture (1/N) sum_n N(means_n, diag exp(logvars_n))."""
    index = torch.randint(means.shape[0], (n,), generator=generator)
    eps = torch.randn(n, means.shape[1], generator=generator, dtype=means.dtype)
    return means[index] + (0.5 * logvars[index]).exp() * eps


class AggregatePosterior(nn.Module):
    """q_phi(z) = (1/N) sum_n N(z; means_n, diag exp(logvars_n)), used as a prior.

    It is the prior that maximizes the average ELBO of a fixed encoder and decoder; it
    costs N Gaussian evaluations per z and stores the whole training set's codes.
    """

    def __init__(self, means, logvars):
        super().__init__()
        self.register_buffer("means", means.detach().clone())
        self.register_buffer("logvars", logvars.detach().clone())

    def log_prob(self, z):
        return aggregate_posterior_log_prob(z, self.means, self.logvars)

    def sample(self, n, generator=None):
        return sample_aggregate_posterior(n, self.means, self.logvars, generator)


class StandardNormalPrior(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.dim = dim

    def log_prob(self, z):
        return log_standard_normal(z)

    def sample(self, n, generator=None):
        return torch.randn(n, self.dim, generator=generator)


class MixturePrior(nn.Module):
    """A K-component diagonal Gaussian mixture with learnable weights, means and variances."""

    def __init__(self, dim, n_components, spread=1.0, seed=0):
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.logits = nn.Parameter(torch.zeros(n_components))
        self.means = nn.Parameter(spread * torch.randn(n_components, dim, generator=generator))
        self.logvars = nn.Parameter(torch.zeros(n_components, dim))

    def log_prob(self, z):  # z: (B, d)
        log_weights = torch.log_softmax(self.logits, 0)  # (K,)
        per_component = log_normal_diag(z.unsqueeze(1), self.means, self.logvars)  # (B, K)
        return torch.logsumexp(log_weights + per_component, dim=1)

    def sample(self, n, generator=None):
        index = torch.multinomial(torch.softmax(self.logits, 0), n, replacement=True, generator=generator)
        eps = torch.randn(n, self.means.shape[1], generator=generator)
        return self.means[index] + (0.5 * self.logvars[index]).exp() * eps


class VampPrior(nn.Module):
    """p(z) = (1/K) sum_k q_phi(z | u_k) with K learnable pseudo-inputs u_k in [0, 1]^D.

    The pseudo-inputs are clipped to [0, 1] when used (a hard tanh, as in Tomczak and
    Welling) so that they stay valid images; the encoder is shared with the VAE, so prior
    and posterior are trained together.
    """

    def __init__(self, encoder, initial_inputs):
        super().__init__()
        self.encoder = encoder
        self.raw_inputs = nn.Parameter(initial_inputs.clone())  # (K, D)

    def pseudo_inputs(self):
        return self.raw_inputs.clamp(0.0, 1.0)

    def components(self):
        return self.encoder(self.pseudo_inputs())  # means, logvars: (K, d) each

    def log_prob(self, z):
        means, logvars = self.components()
        return aggregate_posterior_log_prob(z, means, logvars)

    def sample(self, n, generator=None):
        means, logvars = self.components()
        return sample_aggregate_posterior(n, means, logvars, generator)


class FlowPrior(nn.Module):
    """p(z) = N(g(z); 0, I) |det dg/dz| for a flow g evaluated in one pass from z to noise.

    `flow` is a vaeriants.flows.FlowDistribution; its `transform` plays g here, so density
    evaluation is one pass (the MAF direction) and sampling needs the flow's inverse.
    """

    def __init__(self, flow):
        super().__init__()
        self.flow = flow

    def log_prob(self, z):
        eps, log_det = self.flow.transform(z)
        return log_standard_normal(eps) + log_det

    def sample(self, n, generator=None):
        with torch.no_grad():
            return self.flow.inverse(torch.randn(n, self.flow.dim, generator=generator))


# ----------------------------------------------------------------------------- VAE with a prior


class VAEWithPrior(nn.Module):
    """The companion's digits VAE (Gaussian encoder, Bernoulli decoder) with any prior.

    The KL term has no closed form for most priors, so the ELBO uses the single-sample
    estimate log p(x|z) + log p(z) - log q(z|x) at z ~ q(z|x), for every prior alike.
    """

    def __init__(self, cfg: VAEConfig, prior_factory):
        super().__init__()
        base = VAE(cfg)
        self.cfg = cfg
        self.encoder, self.decoder = base.encoder, base.decoder
        self.prior = prior_factory(self.encoder)

    def elbo(self, x, n_samples=1):
        """Per-example ELBO estimates averaged over n_samples draws, shape (B,)."""
        mean, logvar = self.encoder(x)
        total = torch.zeros(x.shape[0])
        for _ in range(n_samples):
            z = mean + (0.5 * logvar).exp() * torch.randn_like(mean)
            log_q = log_normal_diag(z, mean, logvar)
            total = total + log_bernoulli(x, self.decoder(z)) + self.prior.log_prob(z) - log_q
        return total / n_samples

    def loss(self, x):
        return -self.elbo(x).mean()


def train_vae_with_prior(data, cfg: VAEConfig, prior_factory, seed):
    """Adam on the negative ELBO, as vaeriants.vae.train_vae does; returns (model, losses)."""
    torch.manual_seed(seed)
    model = VAEWithPrior(cfg, prior_factory)
    return model, fit_by_minibatches(model, data, cfg, seed)


def marginal_kl_to_prior(means, logvars, prior, n_samples, generator=None):
    """Monte Carlo KL(q(z) || p(z)) for the aggregate posterior of the given encoder outputs."""
    with torch.no_grad():
        z = sample_aggregate_posterior(n_samples, means, logvars, generator)
        return float((aggregate_posterior_log_prob(z, means, logvars) - prior.log_prob(z)).mean())

"""The joint-distribution view of the ELBO, on a latent-variable model small enough to enumerate.

x takes n_x values and z takes n_z values; every distribution is a table, so every expectation
below is an exact finite sum. Tables are stored as log-probabilities:
    log_data (n_x,)        log p_D(x), the data distribution
    log_prior (n_z,)       log p(z)
    log_lik (n_z, n_x)     log p_theta(x | z), each row normalized over x
    log_q (n_x, n_z)       log q_phi(z | x), each row normalized over z
"""
from dataclasses import dataclass

import torch


@dataclass
class DiscreteLVM:
    log_data: torch.Tensor
    log_prior: torch.Tensor
    log_lik: torch.Tensor
    log_q: torch.Tensor


def random_model(n_x, n_z, seed, concentration=1.0):
    """Random tables (float64); smaller `concentration` gives peakier distributions."""
    g = torch.Generator().manual_seed(seed)

    def log_simplex(*shape):  # rows of log-probabilities drawn from a Dirichlet
        gamma = torch._standard_gamma(torch.full(shape, concentration, dtype=torch.float64), generator=g)
        return (gamma / gamma.sum(-1, keepdim=True)).log()

    return DiscreteLVM(log_simplex(n_x), log_simplex(n_z), log_simplex(n_z, n_x), log_simplex(n_x, n_z))


def log_joint(m: DiscreteLVM):
    """log p_theta(x, z) = log p(z) + log p_theta(x|z), as an (n_x, n_z) table."""
    return (m.log_prior[:, None] + m.log_lik).T


def log_marginal(m: DiscreteLVM):
    """log p_theta(x) = log sum_z p(z) p_theta(x|z), (n_x,)."""
    return torch.logsumexp(log_joint(m), dim=1)


def elbo(m: DiscreteLVM):
    """L(x) = E_{q(z|x)}[log p_theta(x, z) - log q(z|x)] for every x, (n_x,)."""
    return (m.log_q.exp() * (log_joint(m) - m.log_q)).sum(1)


def data_entropy(m: DiscreteLVM):
    """H(p_D) = -sum_x p_D(x) log p_D(x)."""
    return -(m.log_data.exp() * m.log_data).sum()


def joint_kl(m: DiscreteLVM):
    """KL( p_D(x) q(z|x) || p(z) p_theta(x|z) ), summed over the whole (x, z) table."""
    log_q_joint = m.log_data[:, None] + m.log_q  # (n_x, n_z)
    return (log_q_joint.exp() * (log_q_joint - log_joint(m))).sum()


def marginal_kl(m: DiscreteLVM):
    """KL( p_D(x) || p_theta(x) ): the quantity maximum likelihood minimizes."""
    return (m.log_data.exp() * (m.log_data - log_marginal(m))).sum()


def posterior_kl(m: DiscreteLVM):
    """KL( q(z|x) || p_theta(z|x) ) for every x, (n_x,): the gap of the ELBO."""
    log_post = log_joint(m) - log_marginal(m)[:, None]
    return (m.log_q.exp() * (m.log_q - log_post)).sum(1)


def latent_side_kls(m: DiscreteLVM):
    """The chain rule read from the z side: KL(q(z) || p(z)) and E_{q(z)} KL(q(x|z) || p(x|z)),
    where q(z) = sum_x p_D(x) q(z|x) is the aggregate posterior and q(x|z) its Bayes inverse."""
    log_q_joint = m.log_data[:, None] + m.log_q  # (n_x, n_z)
    log_agg = torch.logsumexp(log_q_joint, dim=0)  # (n_z,)
    prior_kl = (log_agg.exp() * (log_agg - m.log_prior)).sum()
    log_q_x_given_z = log_q_joint - log_agg  # (n_x, n_z), columns normalized over x
    conditional_kl = (log_q_joint.exp() * (log_q_x_given_z - m.log_lik.T)).sum()
    return prior_kl, conditional_kl


def sleep_objective(m: DiscreteLVM):
    """The sleep phase of wake-sleep maximizes E_{p_theta(x, z)} log q(z|x) over q."""
    return (log_joint(m).exp() * m.log_q).sum()


def model_posterior_kl(m: DiscreteLVM):
    """E_{p_theta(x)} KL( p_theta(z|x) || q(z|x) ): the divergence the sleep phase minimizes."""
    log_post = log_joint(m) - log_marginal(m)[:, None]
    return (log_joint(m).exp() * (log_post - m.log_q)).sum()


def average_rate_split(m: DiscreteLVM):
    """E_{p_D} KL(q(z|x) || p(z)) and its two parts (ELBO surgery, Hoffman and Johnson, 2016):
    the mutual information I_q(x; z) of the encoder joint, and KL(q(z) || p(z))."""
    log_q_joint = m.log_data[:, None] + m.log_q  # (n_x, n_z)
    log_agg = torch.logsumexp(log_q_joint, dim=0)  # log q(z), (n_z,)
    average_kl = (log_q_joint.exp() * (m.log_q - m.log_prior)).sum()
    mutual_information = (log_q_joint.exp() * (m.log_q - log_agg)).sum()
    prior_kl = (log_agg.exp() * (log_agg - m.log_prior)).sum()
    return average_kl, mutual_information, prior_kl

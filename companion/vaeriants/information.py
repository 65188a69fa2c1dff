"""Information-theoretic quantities of a VAE: rate, distortion, mutual information, ELBO surgery.

Chapter 3 of the monograph. The same quantities are computed for three kinds of model, from
exact to estimated:

* discrete x and z given as probability tables: every term is a finite sum;
* the linear-Gaussian source: every term is in closed form;
* a trained VAE on an empirical data set of N points: the rate is in closed form, and the
  distortion and the split of the rate into mutual information and marginal KL are Monte Carlo
  averages over the exact aggregate posterior, a mixture of N Gaussians.

Notation follows the chapter: p_D is the data distribution, q(z|x) the encoder, q(z) the
aggregate posterior, p(z) the prior, p(x|z) the decoder. H, D, R, I are the data entropy, the
distortion, the rate and the mutual information I_q(x; z) under q(x, z) = p_D(x) q(z|x).
Logarithms are natural: every quantity is in nats.
"""
import math
from dataclasses import dataclass

import torch

from vaeriants.distributions import (
    LOG_2PI,
    kl_diag_normal_standard_normal,
    log_bernoulli,
    log_normal_diag,
    log_standard_normal,
)
from vaeriants.vae import VAE, VAEConfig

# ---------------------------------------------------------------------------------------------
# Discrete x and z: every quantity is a finite sum.
# ---------------------------------------------------------------------------------------------


@dataclass
class DiscreteModel:
    """Tables of a model with x in {0..K-1} and z in {0..M-1}; rows are distributions."""

    data: torch.Tensor  # p_D(x), (K,)
    encoder: torch.Tensor  # q(z|x), (K, M)
    prior: torch.Tensor  # p(z), (M,)
    decoder: torch.Tensor  # p(x|z), (M, K)


def random_discrete_model(num_x, num_z, generator, sharpness=1.0):
    """A model with random strictly positive tables (float64).

    Each row is a normalized vector of Exp(1) draws raised to `sharpness`: sharpness 1 is the
    uniform distribution on the simplex, larger values give peakier rows (more informative
    encoders and decoders).
    """

    def random_rows(*shape):
        u = torch.rand(shape, generator=generator, dtype=torch.float64)
        weights = (-torch.log(u)) ** sharpness
        return weights / weights.sum(-1, keepdim=True)

    return DiscreteModel(random_rows(num_x), random_rows(num_x, num_z), random_rows(num_z), random_rows(num_z, num_x))


def _xlogy_ratio(weights, numerator, denominator):
    """sum(weights * log(numerator / denominator)), with 0 log 0 = 0."""
    terms = weights * (torch.log(numerator) - torch.log(denominator))
    return torch.where(weights > 0, terms, torch.zeros_like(terms)).sum()


def discrete_terms(model: DiscreteModel):
    """Every quantity of the chapter for a discrete model, each from its own definition.

    Nothing here is computed from another entry, so that the identities between them (the
    chapter's equations) can be checked rather than assumed.
    """
    p_data, enc, prior, dec = model.data, model.encoder, model.prior, model.decoder
    q_joint = p_data[:, None] * enc  # q(x, z), (K, M)
    q_z = q_joint.sum(0)  # aggregate posterior, (M,)
    q_x_given_z = q_joint / q_z[None, :]  # q(x|z), (K, M), columns sum to 1
    p_joint = prior[None, :] * dec.T  # p(x, z), (K, M)
    p_x = p_joint.sum(1)  # model marginal p(x), (K,)
    p_z_given_x = p_joint / p_x[:, None]  # true posterior p(z|x), (K, M)
    ones = torch.ones_like(q_joint)
    return {
        "entropy": -_xlogy_ratio(p_data, p_data, torch.ones_like(p_data)),
        "distortion": -(q_joint * torch.log(dec.T)).sum(),
        "rate": _xlogy_ratio(q_joint, enc, prior[None, :] * ones),
        "mutual_information": _xlogy_ratio(q_joint, q_joint, p_data[:, None] * q_z[None, :]),
        "marginal_kl": _xlogy_ratio(q_z, q_z, prior),
        "decoder_gap": _xlogy_ratio(q_joint, q_x_given_z, dec.T),
        "elbo": (q_joint * (torch.log(p_joint) - torch.log(enc))).sum(),
        "log_evidence": (p_data * torch.log(p_x)).sum(),
        "data_kl": _xlogy_ratio(p_data, p_data, p_x),
        "posterior_kl": _xlogy_ratio(q_joint, enc, p_z_given_x),
        "joint_kl": _xlogy_ratio(q_joint, q_joint, p_joint),
    }


def matched_discrete_model(model: DiscreteModel):
    """Same data and encoder; the prior becomes q(z) and the decoder becomes q(x|z)."""
    q_joint = model.data[:, None] * model.encoder
    q_z = q_joint.sum(0)
    return DiscreteModel(model.data, model.encoder, q_z, (q_joint / q_z[None, :]).T.contiguous())


def switch_mixture(first: DiscreteModel, second: DiscreteModel, weight):
    """Two models on the same data joined by a switch c ~ Bern(weight) that ignores x.

    The code of the mixture is (c, z): codes of `first` fill the first block of the table and
    codes of `second` the second. The encoder draws c from its prior, so the switch carries no
    information; rate and distortion become the weighted averages of the two models' values.
    """
    w = weight
    encoder = torch.cat([w * first.encoder, (1 - w) * second.encoder], dim=1)  # q(c, z|x), (K, M1 + M2)
    prior = torch.cat([w * first.prior, (1 - w) * second.prior])  # p(c, z), (M1 + M2,)
    decoder = torch.cat([first.decoder, second.decoder], dim=0)  # p(x|c, z), (M1 + M2, K)
    return DiscreteModel(first.data, encoder, prior, decoder)


def exact_posterior(model: DiscreteModel):
    """p(z|x) for every x, (K, M)."""
    p_joint = model.prior[None, :] * model.decoder.T
    return p_joint / p_joint.sum(1, keepdim=True)


def bits_back_code_lengths(model: DiscreteModel):
    """Expected code lengths of each x (nats), (K,) each, for a sender that draws z ~ q(z|x).

    `without_refund`: send z with the prior's code and x with the decoder's code,
        E_q[-log p(z) - log p(x|z)].
    `refund`: what the receiver recovers by decoding the random choice of z, E_q[-log q(z|x)].
    `net`: the difference, the bits-back code length; it equals minus the per-x ELBO.
    """
    enc, prior, dec = model.encoder, model.prior, model.decoder  # (K, M), (M,), (M, K)
    without_refund = -(enc * (torch.log(prior)[None, :] + torch.log(dec.T))).sum(1)
    refund = -(enc * torch.log(enc)).sum(1)
    return {"without_refund": without_refund, "refund": refund, "net": without_refund - refund}


def marginal_kl_decomposition(q_joint_z, prior_1, prior_2):
    """Split KL(q(z) || p(z1) p(z2)) for a two-part code z = (z1, z2) (Chen et al. 2018).

    q_joint_z: q(z1, z2), (M1, M2). Returns the KL, the total correlation
    KL(q(z1, z2) || q(z1) q(z2)) and the dimension-wise KLs sum_j KL(q(z_j) || p(z_j)).
    """
    q1, q2 = q_joint_z.sum(1), q_joint_z.sum(0)
    return {
        "marginal_kl": _xlogy_ratio(q_joint_z, q_joint_z, prior_1[:, None] * prior_2[None, :]),
        "total_correlation": _xlogy_ratio(q_joint_z, q_joint_z, q1[:, None] * q2[None, :]),
        "dimensionwise_kl": _xlogy_ratio(q1, q1, prior_1) + _xlogy_ratio(q2, q2, prior_2),
    }


def infovae_objective(model: DiscreteModel, alpha, lam):
    """The InfoVAE objective of Zhao et al. in its defining form and in its trainable form.

    defining:  -lam KL(q(z)||p(z)) - E_q(z) KL(q(x|z)||p(x|z)) + alpha I_q(x; z)
    trainable: -D - (1 - alpha) R - (alpha + lam - 1) KL(q(z)||p(z))
    The chapter shows that the two differ by the constant H.
    """
    t = discrete_terms(model)
    defining = -lam * t["marginal_kl"] - t["decoder_gap"] + alpha * t["mutual_information"]
    trainable = -t["distortion"] - (1 - alpha) * t["rate"] - (alpha + lam - 1) * t["marginal_kl"]
    return defining, trainable


# ---------------------------------------------------------------------------------------------
# The linear-Gaussian source: x ~ N(0, s2), q(z|x) = N(a x, e2), p(z) = N(0, v), p(x|z) = N(b z, t2).
# ---------------------------------------------------------------------------------------------


@dataclass
class GaussianSource:
    source_var: float  # s2
    enc_gain: float  # a
    enc_var: float  # e2
    prior_var: float  # v
    dec_gain: float  # b
    dec_var: float  # t2


def gaussian_source_terms(m: GaussianSource):
    """H, D, R, I and KL(q(z)||p(z)) in closed form (differential entropies, nats)."""
    q_z_var = m.enc_gain**2 * m.source_var + m.enc_var  # q(z) = N(0, a^2 s2 + e2)
    squared_error = m.source_var - 2 * m.dec_gain * m.enc_gain * m.source_var + m.dec_gain**2 * q_z_var
    return {
        "entropy": 0.5 * math.log(2 * math.pi * math.e * m.source_var),
        "distortion": 0.5 * math.log(2 * math.pi * m.dec_var) + squared_error / (2 * m.dec_var),
        "rate": 0.5 * (q_z_var / m.prior_var - 1 - math.log(m.enc_var / m.prior_var)),
        "mutual_information": 0.5 * math.log(q_z_var / m.enc_var),
        "marginal_kl": 0.5 * (q_z_var / m.prior_var - 1 - math.log(q_z_var / m.prior_var)),
    }


def matched_gaussian_source(source_var, enc_gain, enc_var):
    """The prior q(z) and the exact decoder q(x|z) for a given linear-Gaussian encoder."""
    q_z_var = enc_gain**2 * source_var + enc_var
    return GaussianSource(
        source_var, enc_gain, enc_var,
        prior_var=q_z_var,
        dec_gain=enc_gain * source_var / q_z_var,  # E[x|z] = Cov(x, z) / Var(z) * z
        dec_var=source_var * enc_var / q_z_var,  # Var(x|z) = s2 - Cov(x, z)^2 / Var(z)
    )


def gaussian_source_with_standard_prior(source_var, enc_var):
    """The matched model whose aggregate posterior is exactly N(0, 1), for 0 < enc_var < 1.

    The encoder gain is chosen so that a^2 s2 + e2 = 1; then q(z) = p(z) = N(0, 1), the decoder
    is the exact q(x|z), and both bounds are tight: R = I = -log(e2) / 2 and D = H - R.
    """
    return matched_gaussian_source(source_var, math.sqrt((1.0 - enc_var) / source_var), enc_var)


def gaussian_source_monte_carlo(m: GaussianSource, num_samples, generator):
    """Monte Carlo estimates (mean, standard error) of D, R and I, from samples of q(x, z)."""
    x = math.sqrt(m.source_var) * torch.randn(num_samples, 1, generator=generator, dtype=torch.float64)
    z = m.enc_gain * x + math.sqrt(m.enc_var) * torch.randn(num_samples, 1, generator=generator, dtype=torch.float64)

    def log_normal(value, mean, var):
        return log_normal_diag(value, mean, torch.full_like(value, math.log(var)))

    q_z_var = m.enc_gain**2 * m.source_var + m.enc_var
    log_q = log_normal(z, m.enc_gain * x, m.enc_var)  # (n,)
    samples = {
        "distortion": -log_normal(x, m.dec_gain * z, m.dec_var),
        "rate": log_q - log_normal(z, torch.zeros_like(z), m.prior_var),
        "mutual_information": log_q - log_normal(z, torch.zeros_like(z), q_z_var),
    }
    return {k: (v.mean().item(), v.std().item() / math.sqrt(num_samples)) for k, v in samples.items()}


# ---------------------------------------------------------------------------------------------
# Finite-mixture aggregate posteriors: ELBO surgery for Gaussian encoders of N data points.
# ---------------------------------------------------------------------------------------------


def log_aggregate_posterior(z, means, logvars, chunk=512):
    """log q(z) = log (1/N) sum_n N(z; means_n, diag exp(logvars_n)).

    z: (S, d); means, logvars: (N, d). Returns (S,). Works in chunks of z to bound memory
    at chunk * N * d numbers.
    """
    out = []
    for start in range(0, len(z), chunk):
        zc = z[start:start + chunk, None, :]  # (C, 1, d)
        log_components = log_normal_diag(zc, means[None], logvars[None])  # (C, N)
        out.append(torch.logsumexp(log_components, dim=1) - math.log(len(means)))
    return torch.cat(out)


def average_rate(means, logvars):
    """R = (1/N) sum_n KL(q(z|x_n) || N(0, I)), in closed form."""
    return kl_diag_normal_standard_normal(means, logvars).mean()


def stratified_mean(values):
    """Mean over every sample of every data point, and its Monte Carlo standard error.

    values: (S, N), S samples of z for each of the N data points. The average over the N points
    is exact (every point is used), so only the spread within each point's S samples is error:
    SE^2 = sum_n Var_n / (S N^2).
    """
    num_samples, num_points = values.shape
    within = values.var(0, unbiased=True) if num_samples > 1 else torch.zeros(num_points, dtype=values.dtype)
    return values.mean().item(), (within.sum() / (num_samples * num_points**2)).sqrt().item()


def rate_split_monte_carlo(means, logvars, samples_per_point, generator):
    """Estimate I(n; z) and KL(q(z) || N(0, I)) by sampling z ~ q(z|x_n) for every n.

    The aggregate posterior q(z) is the exact mixture of the N encoders, so the only error is
    the Monte Carlo average over z. Returns {name: (estimate, standard error)}.
    """
    num_points, dim = means.shape
    eps = torch.randn(samples_per_point, num_points, dim, generator=generator, dtype=means.dtype)
    z = (means + (0.5 * logvars).exp() * eps).reshape(-1, dim)  # (S*N, d), point index fastest
    log_q_given_x = log_normal_diag(z, means.repeat(samples_per_point, 1), logvars.repeat(samples_per_point, 1))
    log_q = log_aggregate_posterior(z, means, logvars)
    log_p = log_standard_normal(z)
    samples = {"mutual_information": log_q_given_x - log_q, "marginal_kl": log_q - log_p}
    return {k: stratified_mean(v.reshape(samples_per_point, num_points)) for k, v in samples.items()}


def rate_split_quadrature_1d(means, variances, num_grid=400_001, width=12.0):
    """I(n; z) and KL(q(z) || N(0, 1)) for 1-D Gaussian encoders, by the trapezoid rule.

    means, variances: (N,) float64. The grid covers every component and the prior to `width`
    standard deviations.
    """
    stds = variances.sqrt()
    low = min((means - width * stds).min().item(), -width)
    high = max((means + width * stds).max().item(), width)
    z = torch.linspace(low, high, num_grid, dtype=torch.float64)  # (G,)
    log_q_n = -0.5 * (LOG_2PI + variances.log()[:, None] + (z[None, :] - means[:, None]) ** 2 / variances[:, None])  # (N, G)
    log_q = torch.logsumexp(log_q_n, dim=0) - math.log(len(means))  # (G,)
    log_p = -0.5 * (LOG_2PI + z**2)
    mutual_information = torch.trapezoid((log_q_n.exp() * (log_q_n - log_q)).mean(0), z)
    marginal_kl = torch.trapezoid(log_q.exp() * (log_q - log_p), z)
    return {"mutual_information": mutual_information.item(), "marginal_kl": marginal_kl.item()}


def rate_with_prior_quadrature_1d(means, variances, log_prior, num_grid=400_001, width=12.0):
    """R = (1/N) sum_n KL(q(z|x_n) || p(z)) for 1-D Gaussian encoders and any prior log-density."""
    stds = variances.sqrt()
    z = torch.linspace((means - width * stds).min().item(), (means + width * stds).max().item(), num_grid, dtype=torch.float64)
    log_q_n = -0.5 * (LOG_2PI + variances.log()[:, None] + (z[None, :] - means[:, None]) ** 2 / variances[:, None])
    return torch.trapezoid((log_q_n.exp() * (log_q_n - log_prior(z)[None, :])).mean(0), z).item()


# ---------------------------------------------------------------------------------------------
# Trained VAEs on the binarized digits.
# ---------------------------------------------------------------------------------------------


def binarized_digits(threshold=0.5):
    """scikit-learn's digits with pixels set to 1 above `threshold` (of the 0..1 range), else 0.

    Binary pixels make the Bernoulli decoder a proper distribution over the same space as the
    data, so that the entropy H of the empirical distribution and the distortion D are
    comparable and the bound H - D <= I holds.
    """
    from vaeriants.data import digits

    images, _ = digits()
    return (images > threshold).to(images.dtype)


def empirical_entropy(data):
    """Entropy (nats) of the empirical distribution of the rows of `data` (duplicates counted)."""
    _, counts = torch.unique(data, dim=0, return_counts=True)
    probs = counts.double() / counts.sum()
    return -(probs * probs.log()).sum().item()


def train_vae_annealed(data, cfg: VAEConfig, seed, warmup_fraction=0.5):
    """Train like `vae.train_vae`, with the KL weight raised linearly from 0 to cfg.beta.

    The weight reaches cfg.beta after `warmup_fraction` of the optimizer steps and stays
    there, so the objective at the end of training is the (beta-weighted) ELBO itself.
    """
    torch.manual_seed(seed)
    model = VAE(cfg)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate)
    generator = torch.Generator().manual_seed(seed)
    steps_per_epoch = math.ceil(len(data) / cfg.batch_size)
    warmup_steps = max(1, int(warmup_fraction * cfg.epochs * steps_per_epoch))
    step = 0
    for _ in range(cfg.epochs):
        order = torch.randperm(len(data), generator=generator)
        for start in range(0, len(data), cfg.batch_size):
            batch = data[order[start:start + cfg.batch_size]]
            weight = cfg.beta * min(1.0, step / warmup_steps)
            log_likelihood, kl = model.elbo_terms(batch)
            loss = -(log_likelihood - weight * kl).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
    return model


@torch.no_grad()
def vae_rate_distortion(model: VAE, data, samples_per_point, generator):
    """Rate, distortion, their ELBO and the surgery split of the rate for a trained VAE.

    The data distribution is the empirical distribution of `data` (N, d). Returns estimates and
    standard errors: {name: (estimate, standard error)}; the rate is exact (standard error 0).
    """
    means, logvars = model.encoder(data)  # (N, d_z) each
    eps = torch.randn(samples_per_point, *means.shape, generator=generator)
    z = means + (0.5 * logvars).exp() * eps  # (S, N, d_z)
    neg_log_lik = -log_bernoulli(data.expand(samples_per_point, -1, -1), model.decoder(z))  # (S, N)
    distortion, distortion_se = stratified_mean(neg_log_lik.double())
    rate = average_rate(means, logvars).item()
    split = rate_split_monte_carlo(means.double(), logvars.double(), samples_per_point, generator)
    return {
        "rate": (rate, 0.0),
        "distortion": (distortion, distortion_se),
        "elbo": (-(rate + distortion), distortion_se),
        **split,
    }


# ---------------------------------------------------------------------------------------------
# beta with a fixed-variance Gaussian decoder.
# ---------------------------------------------------------------------------------------------


def gaussian_decoder_beta_loss(x, decoder_mean, enc_mean, enc_logvar, noise_var, beta):
    """Minibatch mean of D + beta R for a decoder N(x; decoder_mean, noise_var I).

    x, decoder_mean: (B, d_x); enc_mean, enc_logvar: (B, d_z).
    """
    d_x = x.shape[-1]
    distortion = ((x - decoder_mean) ** 2).sum(-1) / (2 * noise_var) + 0.5 * d_x * math.log(2 * math.pi * noise_var)
    return (distortion + beta * kl_diag_normal_standard_normal(enc_mean, enc_logvar)).mean()

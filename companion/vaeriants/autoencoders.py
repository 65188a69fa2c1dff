"""Autoencoders of chapter 4: the linear autoencoder (which learns the principal subspace), the
linear VAE of Lucas et al. (2019) (which learns probabilistic PCA), and a deterministic
autoencoder built from the same networks as the digits VAE of `vaeriants.vae`.
"""
import math

import torch
from torch import nn

from vaeriants.distributions import LOG_2PI, kl_diag_normal_standard_normal, log_normal_diag
from vaeriants.ppca import PPCA
from vaeriants.vae import Decoder, Encoder, VAEConfig, bernoulli_log_likelihood
from vaeriants.training import fit_by_minibatches


# ----------------------------------------------------------------------------------------------
# Linear autoencoder: x -> V x + c -> W (V x + c) + b, trained on the squared error.
# ----------------------------------------------------------------------------------------------
class LinearAutoencoder(nn.Module):
    def __init__(self, data_dim, code_dim):
        super().__init__()
        self.encoder = nn.Linear(data_dim, code_dim)  # V, c
        self.decoder = nn.Linear(code_dim, data_dim)  # W, b

    def forward(self, x):  # (N, d) -> (N, d)
        return self.decoder(self.encoder(x))

    def reconstruction_map(self):
        """The linear part W V of x -> reconstruction, (d, d)."""
        return self.decoder.weight @ self.encoder.weight


def squared_error(model, x):
    """Average over data points of ||x - reconstruction||^2 (summed over coordinates)."""
    return ((x - model(x)) ** 2).sum(-1).mean()


def pca_squared_error(x, k):
    """The smallest average squared error of any rank-k linear reconstruction: the sum of the
    d - k smallest eigenvalues of the (1/N) sample covariance (Eckart and Young)."""
    centred = x - x.mean(0)
    eigvals = torch.linalg.eigvalsh(centred.T @ centred / len(x))  # increasing order
    return eigvals[: x.shape[1] - k].sum().item()


def principal_projector(x, k):
    """U_k U_k^T: the orthogonal projector onto the top-k principal subspace, (d, d)."""
    centred = x - x.mean(0)
    _, eigvecs = torch.linalg.eigh(centred.T @ centred / len(x))
    top = eigvecs[:, -k:]  # eigenvectors of the k largest eigenvalues
    return top @ top.T


def train_linear_autoencoder(x, k, steps=3000, lr=1e-2, seed=0):
    """Full-batch Adam on the squared error; returns the model and the error after each step."""
    torch.manual_seed(seed)
    model = LinearAutoencoder(x.shape[1], k).to(x.dtype)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history = []
    for _ in range(steps):
        loss = squared_error(model, x)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        history.append(loss.item())
    return model, history


# ----------------------------------------------------------------------------------------------
# Linear VAE (Lucas et al., 2019): p(z) = N(0, I), p(x|z) = N(W z + b, sigma^2 I),
# q(z|x) = N(V x + c, diag(s^2)) with s^2 shared by all x. Its ELBO has a closed form.
# ----------------------------------------------------------------------------------------------
class LinearVAE(nn.Module):
    def __init__(self, data_dim, latent_dim):
        super().__init__()
        self.decoder = nn.Linear(latent_dim, data_dim)  # W, b
        self.encoder = nn.Linear(data_dim, latent_dim)  # V, c
        self.log_noise_var = nn.Parameter(torch.zeros(()))  # log sigma^2
        self.posterior_logvar = nn.Parameter(torch.zeros(latent_dim))  # log s^2

    def analytic_elbo(self, x):
        """The exact ELBO of each row of x, (N, d) -> (N,):

        E_q log p(x|z) = -d/2 log(2 pi sigma^2) - (||x - W m - b||^2 + sum_j s_j^2 ||W_j||^2) / (2 sigma^2)
        KL(q || p)     = 1/2 sum_j (s_j^2 + m_j^2 - 1 - log s_j^2),   with m = V x + c.
        """
        d = x.shape[1]
        mean = self.encoder(x)  # (N, k)
        logvar = self.posterior_logvar.expand_as(mean)  # (N, k)
        residual = ((x - self.decoder(mean)) ** 2).sum(-1)  # (N,)
        spread = (self.decoder.weight**2).sum(0) @ logvar[0].exp()  # tr(W diag(s^2) W^T)
        noise_var = self.log_noise_var.exp()
        expected_ll = -0.5 * d * (LOG_2PI + self.log_noise_var) - (residual + spread) / (2 * noise_var)
        return expected_ll - kl_diag_normal_standard_normal(mean, logvar)

    def sampled_elbo(self, x, samples=1):
        """The reparameterized Monte Carlo estimate of the ELBO with `samples` draws per row."""
        mean = self.encoder(x)  # (N, k)
        logvar = self.posterior_logvar.expand_as(mean)
        eps = torch.randn(samples, *mean.shape, dtype=x.dtype)  # (S, N, k)
        z = mean + (0.5 * logvar).exp() * eps
        noise_logvar = self.log_noise_var.expand_as(x)
        log_lik = log_normal_diag(x, self.decoder(z), noise_logvar).mean(0)  # (N,)
        return log_lik - kl_diag_normal_standard_normal(mean, logvar)

    def as_ppca(self):
        """The generative half as a pPCA model, to evaluate its exact log-likelihood."""
        with torch.no_grad():
            return PPCA(self.decoder.bias.clone(), self.decoder.weight.clone(), self.log_noise_var.exp().item())


def train_linear_vae(x, k, steps=6000, lr=3e-2, seed=0, samples=None, on_step=None):
    """Full-batch Adam on the average ELBO, exact if samples is None, else its `samples`-draw
    reparameterized estimate, with the learning rate decayed to zero on a cosine schedule (a
    constant rate leaves Adam oscillating around the optimum). Returns the model and the exact
    average ELBO before each step; `on_step(model)`, if given, is called after every step."""
    torch.manual_seed(seed)
    model = LinearVAE(x.shape[1], k).to(x.dtype)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda t: 0.5 * (1.0 + math.cos(math.pi * t / steps)))
    history = []
    for _ in range(steps):
        elbo = model.analytic_elbo(x).mean()
        objective = elbo if samples is None else model.sampled_elbo(x, samples).mean()
        optimizer.zero_grad()
        (-objective).backward()
        optimizer.step()
        schedule.step()
        history.append(elbo.item())
        if on_step is not None:
            on_step(model)
    return model, history


# ----------------------------------------------------------------------------------------------
# A deterministic autoencoder with the digits VAE's networks: no noise, no KL term.
# ----------------------------------------------------------------------------------------------
class Autoencoder(nn.Module):
    """x -> code = mu_phi(x) -> Bernoulli logits f_theta(code). The encoder's log-variance head
    exists only so that the networks are the VAE's own; it is never used."""

    def __init__(self, cfg: VAEConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)

    def encode(self, x):  # (B, data_dim) -> (B, latent_dim)
        return self.encoder(x)[0]

    def loss(self, x):
        """Reconstruction cross-entropy, -log p_theta(x | z = code(x)), averaged over the batch."""
        return -bernoulli_log_likelihood(x, self.decoder(self.encode(x))).mean()


def train_autoencoder(data, cfg: VAEConfig, seed: int):
    """The training loop of `vaeriants.vae.train_vae`, for the deterministic autoencoder."""
    torch.manual_seed(seed)
    model = Autoencoder(cfg)
    return model, fit_by_minibatches(model, data, cfg, seed)


def gaussian_fit(codes):
    """Mean (k,) and covariance (k, k) of a set of codes (N, k): a prior fitted after training."""
    mean = codes.mean(0)
    centred = codes - mean
    return mean, centred.T @ centred / (len(codes) - 1)


def sample_gaussian(n, mean, cov, generator):
    """n draws from N(mean, cov) through the Cholesky factor of cov."""
    chol = torch.linalg.cholesky(cov)
    return mean + torch.randn(n, len(mean), generator=generator, dtype=mean.dtype) @ chol.T


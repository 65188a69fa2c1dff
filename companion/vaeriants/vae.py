"""A small fully connected VAE with a Gaussian encoder and a Bernoulli decoder.

It is the model of the monograph's running example (scikit-learn's 8x8 digits) and is kept
small enough to train on a laptop CPU in about a minute.
"""
from dataclasses import dataclass

import torch
from torch import nn

from vaeriants.distributions import kl_diag_normal_standard_normal, log_bernoulli


@dataclass
class VAEConfig:
    data_dim: int = 64
    latent_dim: int = 2
    hidden_dim: int = 256
    epochs: int = 300
    batch_size: int = 128
    learning_rate: float = 1e-3
    beta: float = 1.0  # weight of the KL term; 1.0 is the ELBO


class Encoder(nn.Module):
    """q_phi(z|x) = N(mu_phi(x), diag(exp(logvar_phi(x))))."""

    def __init__(self, cfg: VAEConfig):
        super().__init__()
        self.body = nn.Sequential(
            nn.Linear(cfg.data_dim, cfg.hidden_dim), nn.ReLU(),
            nn.Linear(cfg.hidden_dim, cfg.hidden_dim), nn.ReLU(),
        )
        self.mean = nn.Linear(cfg.hidden_dim, cfg.latent_dim)
        self.logvar = nn.Linear(cfg.hidden_dim, cfg.latent_dim)

    def forward(self, x):  # x: (B, data_dim)
        h = self.body(x)  # (B, hidden_dim)
        return self.mean(h), self.logvar(h)  # (B, latent_dim) each


class Decoder(nn.Module):
    """p_theta(x|z) = prod_j Bern(x_j; sigmoid(logits_theta(z)_j))."""

    def __init__(self, cfg: VAEConfig):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(cfg.latent_dim, cfg.hidden_dim), nn.ReLU(),
            nn.Linear(cfg.hidden_dim, cfg.hidden_dim), nn.ReLU(),
            nn.Linear(cfg.hidden_dim, cfg.data_dim),
        )

    def forward(self, z):  # z: (B, latent_dim)
        return self.net(z)  # logits, (B, data_dim)


class VAE(nn.Module):
    def __init__(self, cfg: VAEConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)

    def elbo_terms(self, x):
        """One-sample reparameterized estimates of (expected log-likelihood, KL to the prior)."""
        mean, logvar = self.encoder(x)
        eps = torch.randn_like(mean)
        z = mean + (0.5 * logvar).exp() * eps  # z = mu + sigma * eps, (B, latent_dim)
        log_likelihood = log_bernoulli(x, self.decoder(z))  # (B,)
        kl = kl_diag_normal_standard_normal(mean, logvar)  # (B,), closed form
        return log_likelihood, kl

    def loss(self, x):
        """Negative (beta-weighted) ELBO averaged over the minibatch."""
        log_likelihood, kl = self.elbo_terms(x)
        return -(log_likelihood - self.cfg.beta * kl).mean()


def train_vae(data, cfg: VAEConfig, seed: int):
    """Train a VAE on `data` (N, data_dim) with Adam; returns the model and per-epoch losses."""
    torch.manual_seed(seed)
    model = VAE(cfg)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate)
    generator = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(cfg.epochs):
        order = torch.randperm(len(data), generator=generator)
        total = 0.0
        for start in range(0, len(data), cfg.batch_size):
            batch = data[order[start:start + cfg.batch_size]]
            loss = model.loss(batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
        losses.append(total / len(data))
    return model, losses

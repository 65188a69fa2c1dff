"""A complete variational autoencoder for scikit-learn's 8x8 digits, in one file.

Chapter 4 prints this file verbatim as its listing, and a test keeps the two identical. It
needs PyTorch, plus scikit-learn for the data; run it with `python -m vaeriants.vae`.

Model:  p(z) = N(0, I),  p_theta(x|z) = prod_j Bern(x_j; sigmoid(f_theta(z)_j)),
        q_phi(z|x) = N(mu_phi(x), diag(exp(logvar_phi(x)))),  f, mu, logvar small MLPs.
Training maximizes the ELBO (one reparameterized sample per image, KL in closed form) with Adam
on minibatches, with an optional linear warm-up of the KL weight.
"""
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F


@dataclass
class VAEConfig:
    data_dim: int = 64
    latent_dim: int = 2
    hidden_dim: int = 256
    epochs: int = 300
    batch_size: int = 128
    learning_rate: float = 1e-3
    beta: float = 1.0  # weight of the KL term; 1.0 is the ELBO
    warmup_epochs: int = 0  # the KL weight rises linearly to beta over these first epochs


def bernoulli_log_likelihood(x, logits):
    """log Bern(x; sigmoid(logits)), summed over pixels: (B, D) -> (B,).

    Uses log sigmoid(l) = -softplus(-l) and log(1 - sigmoid(l)) = -softplus(l), which stay
    finite for any logit; torch.log(torch.sigmoid(l)) is -inf once sigmoid(l) rounds to 0.
    """
    return -(x * F.softplus(-logits) + (1 - x) * F.softplus(logits)).sum(-1)


def kl_to_standard_normal(mean, logvar):
    """KL(N(mean, diag(exp(logvar))) || N(0, I)) in closed form: (B, K) -> (B,)."""
    return 0.5 * (logvar.exp() + mean**2 - 1.0 - logvar).sum(-1)


class Encoder(nn.Module):
    """q_phi(z|x) = N(mu_phi(x), diag(exp(logvar_phi(x))))."""

    def __init__(self, cfg: VAEConfig):
        super().__init__()
        self.body = nn.Sequential(
            nn.Linear(cfg.data_dim, cfg.hidden_dim), nn.ReLU(),
            nn.Linear(cfg.hidden_dim, cfg.hidden_dim), nn.ReLU(),
        )
        self.mean = nn.Linear(cfg.hidden_dim, cfg.latent_dim)
        self.logvar = nn.Linear(cfg.hidden_dim, cfg.latent_dim)  # log sigma^2: any real number

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
        log_likelihood = bernoulli_log_likelihood(x, self.decoder(z))  # (B,)
        kl = kl_to_standard_normal(mean, logvar)  # (B,), closed form
        return log_likelihood, kl

    def loss(self, x, kl_weight=None):
        """Negative (KL-weighted) ELBO averaged over the minibatch; the weight defaults to beta."""
        log_likelihood, kl = self.elbo_terms(x)
        kl_weight = self.cfg.beta if kl_weight is None else kl_weight
        return -(log_likelihood - kl_weight * kl).mean()

    @torch.no_grad()
    def sample(self, n, generator=None):
        """Ancestral sampling: z ~ p(z), then x ~ p_theta(x|z). Returns z, the mean image, x."""
        z = torch.randn(n, self.cfg.latent_dim, generator=generator)  # (n, latent_dim)
        probs = torch.sigmoid(self.decoder(z))  # (n, data_dim), the mean of p_theta(x|z)
        return z, probs, torch.bernoulli(probs, generator=generator)


def kl_weight_at(epoch, cfg: VAEConfig):
    """Linear warm-up: the KL weight is beta * (epoch + 1) / warmup_epochs until it reaches beta."""
    if cfg.warmup_epochs <= 0:
        return cfg.beta
    return cfg.beta * min(1.0, (epoch + 1) / cfg.warmup_epochs)


def train_vae(data, cfg: VAEConfig, seed: int):
    """Train a VAE on `data` (N, data_dim) with Adam; returns the model and per-epoch losses."""
    torch.manual_seed(seed)
    model = VAE(cfg)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate)
    generator = torch.Generator().manual_seed(seed)
    losses = []
    for epoch in range(cfg.epochs):
        kl_weight = kl_weight_at(epoch, cfg)
        order = torch.randperm(len(data), generator=generator)
        total = 0.0
        for start in range(0, len(data), cfg.batch_size):
            batch = data[order[start:start + cfg.batch_size]]
            loss = model.loss(batch, kl_weight)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
        losses.append(total / len(data))
    return model, losses


@torch.no_grad()
def average_elbo(model, data, samples=10):
    """The ELBO per image, averaged over `data` and over `samples` draws of z for each image."""
    log_likelihood, kl = zip(*(model.elbo_terms(data) for _ in range(samples)))
    return (torch.stack(log_likelihood).mean(0) - torch.stack(kl).mean(0)).mean().item()


def digits_split(n_train=1500, seed=0):
    """scikit-learn's 1,797 digits scaled to [0, 1], shuffled once, as (train, test) tensors."""
    from sklearn.datasets import load_digits  # imported here: the model itself needs only torch

    images = torch.tensor(load_digits().data / 16.0, dtype=torch.float32)  # (1797, 64)
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
    return images[order[:n_train]], images[order[n_train:]]


def ascii_art(image, shades=" .:-=+*#%@"):
    """An 8x8 image with values in [0, 1] as eight lines of text, darker characters for ink."""
    levels = (image.clamp(0, 1) * (len(shades) - 1)).round().long().view(8, 8)
    return "\n".join("".join(2 * shades[v] for v in row) for row in levels.tolist())


def main(epochs=100, seed=0):
    torch.set_num_threads(1)
    train, test = digits_split()
    cfg = VAEConfig(latent_dim=2, epochs=epochs, warmup_epochs=min(10, epochs))
    model, losses = train_vae(train, cfg, seed)
    print(f"final training loss {losses[-1]:.2f} nats per image")
    print(f"ELBO per image: train {average_elbo(model, train):.2f}, test {average_elbo(model, test):.2f}")
    _, mean_images, _ = model.sample(3, torch.Generator().manual_seed(seed))
    for image in mean_images:  # the mean of p_theta(x|z) for three draws z ~ p(z)
        print(ascii_art(image), end="\n\n")
    return model


if __name__ == "__main__":
    main()

"""A linear VAE trained on data from a pPCA model climbs to the pPCA maximum log-likelihood
(Lucas et al., 2019): the gap between the closed-form maximum and (i) the ELBO, (ii) the exact
log-likelihood of the VAE's own decoder, against Adam steps, for training on the exact ELBO and
on its one-sample reparameterized estimate.
"""
import matplotlib.pyplot as plt
import torch

from vaeriants import ppca
from vaeriants.autoencoders import train_linear_vae

OUTPUT = "assets/figures/ch4-linear-vae-ppca.svg"
COLOURS = {"exact": "#0077BB", "sampled": "#EE7733"}  # Paul Tol's vibrant blue and orange


def ppca_data(seed):
    """500 points in 8 dimensions from a pPCA model with 2 latent directions (as the tests)."""
    g = torch.Generator().manual_seed(seed)
    weight = torch.randn(8, 2, generator=g, dtype=torch.float64) * torch.tensor([3.0, 1.5], dtype=torch.float64)
    truth = ppca.PPCA(torch.randn(8, generator=g, dtype=torch.float64), weight, 0.5)
    return ppca.sample(500, truth, g)


def make(path, seed=0, quick=False):
    torch.set_num_threads(1)
    x = ppca_data(seed)
    best = ppca.max_log_likelihood(x, 2)
    steps = 60 if quick else 6000
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=150)
    for name, samples in [("sampled", 1), ("exact", None)]:  # the noisy run first, underneath
        likelihood = []
        _, elbo = train_linear_vae(x, 2, steps=steps, seed=seed, samples=samples,
                                   on_step=lambda m: likelihood.append(ppca.log_likelihood(x, m.as_ppca())))
        step = range(1, steps + 1)
        label = "exact ELBO" if samples is None else "one-sample ELBO estimate"
        ax.plot(step, [best - v for v in elbo], color=COLOURS[name], lw=1.4, rasterized=True,
                label=f"trained on the {label}: max − ELBO")
        ax.plot(step, [best - v for v in likelihood], color=COLOURS[name], lw=1.0, ls="--", rasterized=True,
                label=rf"trained on the {label}: max − $\log p_\theta(x)$")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("Adam steps (full batch, learning rate 0.03 decayed to 0)")
    ax.set_ylabel("gap to the pPCA maximum (nats per point)")
    ax.legend(fontsize=10, frameon=False, loc="lower left")
    ax.grid(True, which="major", lw=0.4, alpha=0.5)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)

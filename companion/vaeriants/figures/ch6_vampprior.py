"""A standard-normal prior against a VampPrior, for two small VAEs on the digits.

Both VAEs have the companion's encoder and decoder with a 2-D latent space and are trained
identically on 1,500 digits (the ELBO with a single-sample KL estimate for both), holding out
297. Panels (a) and (b): one draw z ~ q(z|x) per training image (the aggregate posterior)
over contours of each model's prior density (at 1, 3, 10, 20, 40 and 70% of its peak), each
panel wide enough to hold all of its codes; each panel reports the held-out ELBO and the
Monte Carlo KL(q(z) || p(z)), the term of the ELBO that only the prior can reduce.
Panel (c): the VampPrior's 50 pseudo-inputs after training.
"""
import matplotlib.pyplot as plt
import numpy as np
import torch

from vaeriants import flows as fl
from vaeriants import priors as pr
from vaeriants.data import digits
from vaeriants.vae import VAEConfig

OUTPUT = "assets/figures/ch6-vampprior.svg"
LIMIT = 4.0
N_TRAIN = 1500
N_PSEUDO = 50


def _split(seed):
    images, _ = digits()
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
    return images[order[:N_TRAIN]], images[order[N_TRAIN:]]


def _summaries(model, train, test, seed):
    torch.manual_seed(seed)
    with torch.no_grad():
        held_out_elbo = float(model.elbo(test, n_samples=20).mean())
        means, logvars = model.encoder(train)
        marginal_kl = pr.marginal_kl_to_prior(means, logvars, model.prior, 20000, torch.Generator().manual_seed(seed))
        draws = means + (0.5 * logvars).exp() * torch.randn_like(means)
    return held_out_elbo, marginal_kl, draws.numpy()


def _prior_panel(ax, model, held_out_elbo, marginal_kl, draws, n_grid):
    # Each panel's square holds all of its codes (at least [-LIMIT, LIMIT]^2): a VampPrior
    # lets the codes spread much further than N(0, I) does.
    limit = max(LIMIT, float(np.ceil(np.abs(draws).max())))
    n_grid = int(n_grid * limit / LIMIT)
    points, _ = fl.grid_2d(limit, n_grid)
    with torch.no_grad():
        density = model.prior.log_prob(points.float()).exp().reshape(n_grid, n_grid).numpy()
    ticks = np.linspace(-limit, limit, n_grid)
    ax.scatter(draws[:, 0], draws[:, 1], s=2, color="0.25", alpha=0.45, linewidths=0, rasterized=True)
    levels = density.max() * np.array([0.01, 0.03, 0.1, 0.2, 0.4, 0.7])  # fractions of the peak
    ax.contour(ticks, ticks, density, levels=levels, cmap="viridis", linewidths=0.9)
    ax.set_xlim(-limit, limit)
    ax.set_ylim(-limit, limit)
    ax.set_aspect("equal")
    ax.set_xlabel("$z_1$", fontsize=10, labelpad=1)
    ax.set_ylabel("$z_2$", fontsize=10, labelpad=1)
    ax.tick_params(labelsize=10, length=2, pad=1.5)
    return f"held-out ELBO {held_out_elbo:.2f}\nKL(q(z) \u2016 p(z)) {marginal_kl:.3f}"


def _pseudo_input_panel(ax, pseudo_inputs, n_cols=25):
    n_rows = int(np.ceil(len(pseudo_inputs) / n_cols))
    canvas = np.ones((n_rows * 9 + 1, n_cols * 9 + 1))
    for k, image in enumerate(pseudo_inputs):
        row, col = divmod(k, n_cols)
        canvas[1 + row * 9: 9 + row * 9, 1 + col * 9: 9 + col * 9] = 1.0 - image.reshape(8, 8)
    ax.imshow(canvas, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def make(path, seed=0, quick=False):
    torch.set_num_threads(1)
    train, test = _split(seed)
    cfg = VAEConfig(latent_dim=2, hidden_dim=128, epochs=2 if quick else 150)
    n_grid = 40 if quick else 161
    start = train[torch.randperm(N_TRAIN, generator=torch.Generator().manual_seed(seed + 1))[:N_PSEUDO]]
    factories = {
        "standard": lambda encoder: pr.StandardNormalPrior(2),
        "vamp": lambda encoder: pr.VampPrior(encoder, start),
    }
    models = {name: pr.train_vae_with_prior(train, cfg, factory, seed=seed)[0] for name, factory in factories.items()}

    fig = plt.figure(figsize=(6.67, 5.0), dpi=100)
    grid = fig.add_gridspec(2, 2, height_ratios=[3.6, 0.8])
    for col, (name, label) in enumerate([("standard", "(a) prior N(0, I)"), ("vamp", f"(b) VampPrior, K = {N_PSEUDO}")]):
        ax = fig.add_subplot(grid[0, col])
        summary = _prior_panel(ax, models[name], *_summaries(models[name], train, test, seed), n_grid=n_grid)
        ax.set_title(f"{label}\n{summary}", fontsize=10, loc="left")
    ax = fig.add_subplot(grid[1, :])
    with torch.no_grad():
        _pseudo_input_panel(ax, models["vamp"].prior.pseudo_inputs().numpy())
    ax.set_title("(c) the VampPrior's pseudo-inputs $u_k$ after training", fontsize=10, loc="left")
    fig.tight_layout(pad=0.3, h_pad=0.6)
    with plt.rc_context({"svg.fonttype": "none"}):
        fig.savefig(path, metadata={"Date": None})  # no timestamp: same seed, same file
    plt.close(fig)

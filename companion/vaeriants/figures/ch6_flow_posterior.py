"""Flows fitted by reverse KL to two unnormalized 2-D densities, against a Gaussian fit.

Rows: a banana (one curved mode) and two arcs of a ring (two modes). Columns: the target,
then the best full-covariance Gaussian, a stack of planar flows, a stack of affine
autoregressive (IAF) layers and a neural autoregressive flow (deep sigmoidal transformer),
each trained by maximizing E_q[log p~(z) - log q(z)], i.e. minimizing KL(q || p); the
Gaussian, cheap to fit, is the best of several random starts. Each panel
states KL(q || p) = log Z - ELBO in nats, from 20,000 draws of q; log Z is exact for the
banana and computed on a fine grid for the arcs.
"""
import matplotlib.pyplot as plt
import numpy as np
import torch

from vaeriants import flows as fl

OUTPUT = "assets/figures/ch6-flow-posterior.svg"
LIMIT = 3.5
GAUSSIAN_STARTS = 4


def _targets():
    return [
        ("banana", fl.banana_log_density, fl.banana_log_normalizer()),
        ("two arcs", fl.two_arcs_log_density, fl.log_normalizer_on_grid(fl.two_arcs_log_density, 6.0, 601)),
    ]


def _families(n_planar):
    """(label, builder, number of random starts): the cheap Gaussian gets several starts,
    because reverse KL has poor local optima (on the arcs, a broad blob over both)."""
    return [
        ("Gaussian\n(full cov.)", lambda seed: fl.gaussian_flow(2, seed=seed, mean_scale=1.0), GAUSSIAN_STARTS),
        (f"planar\n\u00d7 {n_planar}", lambda seed: fl.planar_flow(2, n_planar, seed=seed), 1),
        ("IAF (affine)\n\u00d7 4", lambda seed: fl.autoregressive_flow(2, 4, hidden=32, seed=seed), 1),
        ("NAF (sigmoid)\n\u00d7 2", lambda seed: fl.autoregressive_flow(
            2, 2, fl.SigmoidalAutoregressive, hidden=32, n_sigmoids=8, seed=seed), 1),
    ]


def _best_fit(build, n_starts, log_target, steps, seed):
    """Fit from n_starts seeds; return the flow with the highest ELBO and that ELBO."""
    best = None
    for start in range(n_starts):
        flow = build(seed + start)
        fl.fit_reverse_kl(flow, log_target, steps=steps, batch_size=256, learning_rate=5e-3, seed=seed + start)
        with torch.no_grad():
            elbo = float(fl.reverse_kl_elbo(flow, log_target, 20000, torch.Generator().manual_seed(seed + 100)))
        if best is None or elbo > best[1]:
            best = (flow, elbo)
    return best


def _density_image(log_density, n_grid):
    points, _ = fl.grid_2d(LIMIT, n_grid)
    with torch.no_grad():
        values = log_density(points.float()).double().exp()
    return values.reshape(n_grid, n_grid).numpy()  # rows follow z2, columns follow z1


def make(path, seed=0, quick=False):
    torch.set_num_threads(1)
    steps, n_grid, n_planar = (20, 40, 8) if quick else (2000, 120, 32)
    families = _families(n_planar)
    fig, axes = plt.subplots(2, 1 + len(families), figsize=(6.67, 3.75), dpi=100, sharex=True, sharey=True)
    for row, (name, log_target, log_z) in enumerate(_targets()):
        panels = [("target", _density_image(log_target, n_grid), None)]
        for label, build, n_starts in families:
            flow, elbo = _best_fit(build, n_starts, log_target, steps, seed)
            panels.append((label, _density_image(flow.log_prob, n_grid), log_z - elbo))
        for col, (label, image, kl) in enumerate(panels):
            ax = axes[row, col]
            ax.imshow(image, origin="lower", extent=(-LIMIT, LIMIT, -LIMIT, LIMIT), cmap="viridis",
                      interpolation="bilinear", rasterized=True)
            if row == 0:
                ax.set_title(label, fontsize=10)
            if kl is not None:
                ax.text(0.05, 0.05, f"KL {kl:.2f}", transform=ax.transAxes, color="white", fontsize=10)
            ax.set_xticks([-3, 0, 3])
            ax.set_yticks([-3, 0, 3])
            ax.tick_params(labelsize=10, length=2, pad=1.5)
        axes[row, 0].set_ylabel(f"{name}\n$z_2$", fontsize=10)
    for ax in axes[-1]:
        ax.set_xlabel("$z_1$", fontsize=10, labelpad=1)
    fig.tight_layout(pad=0.3, w_pad=0.4, h_pad=0.4)
    with plt.rc_context({"svg.fonttype": "none"}):
        fig.savefig(path, metadata={"Date": None})  # no timestamp: same seed, same file
    plt.close(fig)

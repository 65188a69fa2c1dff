"""Flows fitted by reverse KL to two unnormalized 2-D densities, against a Gaussian fit.

Rows: a banana (one curved mode) and two arcs of a ring (two modes). Columns: the target,
then the best full-covariance Gaussian, a stack of planar flows, a stack of affine
autoregressive (IAF) layers and a neural autoregressive flow (deep sigmoidal transformer),
each trained by maximizing E_q[log p~(z) - log q(z)], i.e. minimizing KL(q || p). Each panel
states KL(q || p) = log Z - ELBO in nats, from 20,000 draws of q; log Z is exact for the
banana and computed on a fine grid for the arcs.
"""
import matplotlib.pyplot as plt
import numpy as np
import torch

from vaeriants import flows as fl

OUTPUT = "assets/figures/ch6-flow-posterior.svg"
LIMIT = 3.5


def _targets():
    return [
        ("banana", fl.banana_log_density, fl.banana_log_normalizer()),
        ("two arcs", fl.two_arcs_log_density, fl.log_normalizer_on_grid(fl.two_arcs_log_density, 6.0, 601)),
    ]


def _families(n_planar):
    return [
        ("full-covariance\nGaussian", lambda seed: fl.gaussian_flow(2)),
        (f"{n_planar} planar\nlayers", lambda seed: fl.planar_flow(2, n_planar, seed=seed)),
        ("4 affine autoregr.\nlayers (IAF)", lambda seed: fl.autoregressive_flow(2, 4, hidden=32, seed=seed)),
        ("2 sigmoidal autoregr.\nlayers (NAF)", lambda seed: fl.autoregressive_flow(
            2, 2, fl.SigmoidalAutoregressive, hidden=32, n_sigmoids=8, seed=seed)),
    ]


def _density_image(log_density, n_grid):
    points, _ = fl.grid_2d(LIMIT, n_grid)
    with torch.no_grad():
        values = log_density(points.float()).double().exp()
    return values.reshape(n_grid, n_grid).numpy()  # rows follow z2, columns follow z1


def make(path, seed=0, quick=False):
    torch.set_num_threads(1)
    steps, n_grid, n_planar = (20, 40, 8) if quick else (2000, 120, 32)
    families = _families(n_planar)
    fig, axes = plt.subplots(2, 1 + len(families), figsize=(11.0, 4.9), dpi=100, sharex=True, sharey=True)
    for row, (name, log_target, log_z) in enumerate(_targets()):
        panels = [("target", _density_image(log_target, n_grid), None)]
        for label, build in families:
            flow = build(seed)
            fl.fit_reverse_kl(flow, log_target, steps=steps, batch_size=256, learning_rate=5e-3, seed=seed)
            with torch.no_grad():
                elbo = float(fl.reverse_kl_elbo(flow, log_target, 20000, torch.Generator().manual_seed(seed + 1)))
            panels.append((label, _density_image(flow.log_prob, n_grid), log_z - elbo))
        for col, (label, image, kl) in enumerate(panels):
            ax = axes[row, col]
            ax.imshow(image, origin="lower", extent=(-LIMIT, LIMIT, -LIMIT, LIMIT), cmap="viridis",
                      interpolation="bilinear", rasterized=True)
            if row == 0:
                ax.set_title(label, fontsize=9)
            if kl is not None:
                ax.text(0.04, 0.04, f"KL = {kl:.2f} nats", transform=ax.transAxes, color="white", fontsize=8.5)
            ax.set_xticks([-3, 0, 3])
            ax.set_yticks([-3, 0, 3])
            ax.tick_params(labelsize=8)
        axes[row, 0].set_ylabel(f"{name}\n$z_2$", fontsize=9)
    for ax in axes[-1]:
        ax.set_xlabel("$z_1$", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)

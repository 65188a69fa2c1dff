"""EM on a two-dimensional mixture of three Gaussians: snapshots and the log-likelihood curve.

Four panels show the data coloured by the responsibilities of the current parameters (a point's
colour is the responsibility-weighted blend of the component colours, so uncertain points look
mixed) with each component's 1- and 2-standard-deviation ellipses; the fifth panel shows the
average log-likelihood per point against the iteration, never decreasing, with a plateau where
EM creeps past a poor configuration before the components separate.
"""
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Ellipse

from vaeriants import em
from vaeriants.data import gaussian_mixture_2d

OUTPUT = "assets/figures/ch1-em-gmm.svg"

# The generating mixture (also used by the tests to check the figure's claims).
TRUE_WEIGHTS = np.array([0.35, 0.25, 0.40])
TRUE_MEANS = np.array([[-2.0, 1.5], [2.0, 2.0], [0.5, -2.0]])
TRUE_COVS = np.array([
    [[0.9, 0.5], [0.5, 0.6]],
    [[0.5, -0.3], [-0.3, 0.9]],
    [[1.4, 0.0], [0.0, 0.35]],
])
N_POINTS = 450
N_ITER = 40
SNAPSHOTS = (0, 5, 24, 40)
# Okabe-Ito orange, sky blue and bluish green: distinguishable with every common colour-vision deficiency.
PALETTE = np.array([[0.902, 0.624, 0.0], [0.337, 0.706, 0.914], [0.0, 0.620, 0.451]])


def make_data(seed=0, n_points=N_POINTS):
    x, _ = gaussian_mixture_2d(n_points, TRUE_MEANS, TRUE_COVS, TRUE_WEIGHTS, seed=seed)
    return x


def poor_init(x):
    """Three means side by side near the data mean, each with half the data covariance.

    A deliberately unlucky start: the components begin almost symmetric, so EM spends a
    couple of dozen iterations on a plateau before they break apart.
    """
    centre = x.mean(0)
    offsets = np.array([[-0.6, 0.0], [0.0, 0.0], [0.6, 0.0]])
    cov = 0.5 * np.cov(x.T, bias=True)
    return em.GMMParams(np.full(3, 1.0 / 3.0), centre + offsets, np.repeat(cov[None], 3, axis=0))


def run(seed=0, quick=False):
    """Data and EM history for the figure (quick: fewer points and iterations)."""
    x = make_data(seed, n_points=150 if quick else N_POINTS)
    history = em.run_em(x, poor_init(x), n_iter=10 if quick else N_ITER)
    return x, history


def _ellipse(ax, mean, cov, n_std, colour, **kwargs):
    values, vectors = np.linalg.eigh(cov)
    angle = np.degrees(np.arctan2(vectors[1, -1], vectors[0, -1]))
    width, height = 2.0 * n_std * np.sqrt(values[::-1])
    ax.add_patch(Ellipse(mean, width, height, angle=angle, fill=False, edgecolor=colour, **kwargs))


def _snapshot(ax, x, params, iteration):
    resp = em.e_step(x, params)  # (N, K)
    colours = np.clip(resp @ PALETTE, 0.0, 1.0)  # (N, 3) blended RGB
    ax.scatter(x[:, 0], x[:, 1], c=colours, s=9, linewidths=0, rasterized=True)
    for k in range(params.n_components):
        # 1 standard deviation: solid, with a dark halo so it reads over points of its own colour;
        # 2 standard deviations: thin and dashed.
        _ellipse(ax, params.means[k], params.covs[k], 1.0, "black", linewidth=2.8)
        _ellipse(ax, params.means[k], params.covs[k], 1.0, PALETTE[k], linewidth=1.6)
        _ellipse(ax, params.means[k], params.covs[k], 2.0, PALETTE[k], linewidth=1.3, linestyle="--")
        ax.plot(*params.means[k], marker="X", markersize=8, color=PALETTE[k], markeredgecolor="black")
    ax.set_title(f"iteration {iteration}", fontsize=11)
    ax.set_xlim(-5.0, 5.0)
    ax.set_ylim(-4.0, 5.0)
    ax.set_xticks([-4, -2, 0, 2, 4])
    ax.set_yticks([-4, -2, 0, 2, 4])
    ax.set_aspect("equal")
    ax.tick_params(labelsize=9)


def make(path, seed=0, quick=False):
    x, history = run(seed, quick)
    snapshots = [t for t in SNAPSHOTS if t < len(history.params)]
    if quick:
        snapshots = [0, 2, 5, len(history.params) - 1]
    per_point = np.array(history.log_likelihoods) / x.shape[0]
    true_params = em.GMMParams(TRUE_WEIGHTS, TRUE_MEANS, TRUE_COVS)
    true_level = em.log_likelihood(x, true_params) / x.shape[0]

    with plt.rc_context({"svg.fonttype": "none"}):  # text stays text: smaller, selectable SVG
        _draw(path, x, history, snapshots, per_point, true_level)


def _draw(path, x, history, snapshots, per_point, true_level):
    # Drawn at about the width of the text column (8.4 in), so that 9-11 pt labels stay legible on the page.
    fig = plt.figure(figsize=(8.4, 4.6), dpi=100)
    grid = fig.add_gridspec(2, 3, width_ratios=[1.0, 1.0, 1.35], wspace=0.45, hspace=0.38)
    for i, t in enumerate(snapshots):
        ax = fig.add_subplot(grid[i // 2, i % 2])
        _snapshot(ax, x, history.params[t], t)
        if i // 2 == 1:
            ax.set_xlabel("$x_1$")
        if i % 2 == 0:
            ax.set_ylabel("$x_2$")

    ax = fig.add_subplot(grid[:, 2])
    iterations = np.arange(len(per_point))
    ax.plot(iterations, per_point, color="black", linewidth=1.5, label="EM")
    ax.plot(snapshots, per_point[snapshots], "o", color="black", markersize=5, label="snapshots")
    ax.axhline(true_level, color=PALETTE[1], linestyle="--", linewidth=1.3,
               label="generating parameters")
    ax.set_xlabel("EM iteration")
    ax.set_ylabel("log-likelihood per point (nats)")
    ax.legend(fontsize=9, loc="lower right", frameon=False)
    ax.grid(alpha=0.3)
    ax.tick_params(labelsize=9)
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)

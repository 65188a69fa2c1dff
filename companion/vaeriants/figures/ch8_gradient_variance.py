"""Variance of gradient estimators on two problems of chapter 8.

Left: the ELBO gradient of a diagonal Gaussian q on the linear-Gaussian running example, as q
moves from the prior (t = 0) to the exact posterior (t = 1). Right: ten independent bits,
f(b) = sum_j (b_j - t_j)^2; variance of each estimator of d/dlogits E f(b), and for the
biased Gumbel-softmax estimators also the squared bias (diamonds), computed exactly by
quadrature (a Monte Carlo mean would add its own noise, Var / n, to the squared bias).

The site shows an SVG at its size in points, one point per CSS pixel: the figure is drawn at
the text column's width (640 pt) with labels of 11-13 pt.
"""
import matplotlib.pyplot as plt
from matplotlib.patches import Patch
import numpy as np
import torch

from vaeriants import gradients as G

OUTPUT = "assets/figures/ch8-gradient-variance.svg"

# Okabe-Ito colour-blind-safe palette.
COLOURS = {
    "score function": "#D55E00",
    "score function, optimal baseline": "#E69F00",
    "score function, local signals": "#CC79A7",
    "pathwise, all terms sampled": "#56B4E9",
    "pathwise, analytic KL": "#0072B2",
    "sticking the landing": "#009E73",
}
MARKERS = dict(zip(COLOURS, ["o", "s", "D", "^", "v", "P"]))
STYLE = {"font.size": 12, "axes.labelsize": 13, "xtick.labelsize": 11, "ytick.labelsize": 11}


def continuous_variances(n, ts, seed):
    """Total variance of each single-sample ELBO-gradient estimator at each q_t."""
    model = G.chapter_linear_gaussian()
    generator = torch.Generator().manual_seed(seed)
    curves = {name: [] for name in COLOURS}
    for t in ts:
        mean, log_std = G.interpolated_q(model, t)
        baseline = G.optimal_score_baseline(model, mean, log_std, n, generator)
        draws = {
            "score function": G.elbo_score_function(model, mean, log_std, n, generator),
            "score function, optimal baseline": G.elbo_score_function(model, mean, log_std, n, generator, baseline),
        }
        for name in ["score function, local signals", "pathwise, all terms sampled",
                     "pathwise, analytic KL", "sticking the landing"]:
            draws[name] = G.ELBO_ESTIMATORS[name](model, mean, log_std, n, generator)
        for name, samples in draws.items():
            curves[name].append(G.total_variance(samples).item())
    return curves


def discrete_variances(n, relax_steps, seed):
    """(label, variance, squared bias) for each estimator on the ten-bit problem.

    The squared bias is exact (quadrature) for the Gumbel-softmax estimators and zero for the
    others, which are unbiased (the tests check that).
    """
    f, logits = G.chapter_bernoulli_problem()
    exact = G.exact_bernoulli_gradient(f, logits)
    generator = torch.Generator().manual_seed(seed)
    rows = []

    def add(label, samples, temperature=None):
        bias2 = 0.0
        if temperature is not None:
            mean = G.gumbel_softmax_expected_gradient(G.chapter_bernoulli_targets(), logits, temperature)
            bias2 = ((mean - exact) ** 2).sum().item()
        rows.append((label, G.total_variance(samples.detach()).item(), bias2))

    add("score function", G.bernoulli_score_function(f, logits, n, generator))
    baseline = G.bernoulli_optimal_baseline(f, logits, n, generator)
    add("score fn., optimal baseline", G.bernoulli_score_function(f, logits, n, generator, baseline))
    for temperature in [1.0, 0.5, 0.1]:
        add(f"Gumbel-softmax, $\\lambda$={temperature:g}",
            G.gumbel_softmax_gradient(f, logits, temperature, n, generator), temperature)
    # REBAR at temperature 0.5: eta* from a pilot batch, then fresh draws.
    g, h, score = G.rebar_terms(f, logits, 0.5, n, generator)
    eta = G.optimal_coefficient(g, h)
    both = G.optimal_coefficients(g, torch.stack([h, score], dim=-1))
    g, h, score = G.rebar_terms(f, logits, 0.5, n, generator)
    add("REBAR, $\\lambda$=0.5", g - eta * h)
    add("REBAR + baseline", g - both[:, 0] * h - both[:, 1] * score)
    surrogate = G.train_relax_surrogate(f, logits, relax_steps, 256, generator)
    add("RELAX", G.relax_gradient(f, logits, surrogate, n, generator))
    return rows


def make(path, seed=0, quick=False):
    torch.set_num_threads(1)
    ts = np.array([0.0, 0.2, 0.4, 0.6, 0.8, 0.9, 0.95, 0.98, 0.99]) if not quick else np.array([0.0, 0.5, 0.95])
    curves = continuous_variances(n=4000 if not quick else 300, ts=ts, seed=seed)
    rows = discrete_variances(n=20000 if not quick else 500, relax_steps=300 if not quick else 5, seed=seed)

    # Stacked, at the text column's width (640 pt), so that the labels stay legible.
    with plt.rc_context(STYLE):
        fig, (left, right) = plt.subplots(2, 1, figsize=(8.9, 11.6), dpi=100,
                                          gridspec_kw={"height_ratios": [1.15, 1]})
        for name, values in curves.items():
            left.plot(ts, values, marker=MARKERS[name], color=COLOURS[name], label=name, lw=2, ms=6)
        left.set_yscale("log")
        left.set_xlabel("$t$: $q_t$ moves from the prior ($t=0$) to the posterior ($t=1$)")
        left.set_ylabel("one-sample variance, summed over parameters")
        left.grid(True, which="major", alpha=0.3)
        left.legend(fontsize=11, loc="lower left", frameon=False)

        labels = [r[0] for r in rows]
        variances = np.array([r[1] for r in rows])
        bias2 = np.array([r[2] for r in rows])
        biased = np.array(["Gumbel" in label for label in labels])
        y = np.arange(len(rows))[::-1]
        colours = ["#D55E00", "#E69F00", "#56B4E9", "#56B4E9", "#56B4E9", "#0072B2", "#0072B2", "#009E73"]
        right.barh(y, variances, color=colours[: len(rows)], height=0.6)
        right.scatter(bias2[biased], y[biased], marker="D", s=55, color="black", zorder=3,
                      label="squared bias\n(Gumbel-softmax)")
        right.set_yticks(y, labels, fontsize=12)
        right.set_xscale("log")
        right.set_xlim(1e-4, 1e3)
        right.set_xlabel("one-sample variance (bars) and squared bias (diamonds),\nsummed over the 10 logits")
        right.grid(True, axis="x", which="major", alpha=0.3)
        handles = [Patch(facecolor="#999999", label="variance")] + right.get_legend_handles_labels()[0]
        right.legend(handles=handles, fontsize=11, loc="lower right", frameon=False)
        for ax, letter in [(left, "(a)"), (right, "(b)")]:
            ax.text(0.0, 1.02, letter, transform=ax.transAxes, ha="left", va="bottom", fontsize=13)
        fig.tight_layout()
        fig.savefig(path)
        plt.close(fig)

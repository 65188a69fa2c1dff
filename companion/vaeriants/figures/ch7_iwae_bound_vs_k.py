"""The K-sample bound L_K against K on the linear-Gaussian worked example of chapter 7.

Left: L_K for two diagonal Gaussian proposals (the ELBO-optimal "reverse-KL" one and the
moment-matching "forward-KL" one), each with the spread of single K-sample estimates, and the
exact log p(x). Right: the gap log p(x) - L_K on log-log axes, estimated with the known
evidence (see `iwae_gap_given_evidence`), against the first-order prediction chi^2 / (2K).
"""
import math

import matplotlib.pyplot as plt
import numpy as np
import torch

from vaeriants.distributions import kl_full_normals
from vaeriants.evaluation import (
    chi_square_divergence_gaussians,
    delta_method_gap,
    iwae_gap_given_evidence,
    log_importance_weights,
    log_likelihood_estimates,
    worked_example,
)

OUTPUT = "assets/figures/ch7-iwae-bound-vs-k.svg"
# Okabe-Ito colours, safe for colour-blind readers.
COLOURS = {"reverse-KL": "#D55E00", "forward-KL": "#0072B2"}
LABELS = {"reverse-KL": "reverse-KL (mean-field) $q$", "forward-KL": "forward-KL (moment-matched) $q$"}


def _sweep(model, x, proposal, ks, budget, min_repeats, control_variate, generator):
    """For each K: mean of single estimates, their 10/90% quantiles, and the gap with its s.e.

    At least `min_repeats` single estimates per K, drawn in chunks of about 2^21 weights so
    that memory stays small at the largest K. `control_variate` is passed on to
    `iwae_gap_given_evidence`: it must be False when the weights have infinite variance.
    """
    log_evidence = model.log_marginal(x).item()
    rows = []
    for k in ks:
        repeats = max(min_repeats, budget // k)
        chunk = max(1, 2**21 // k)
        log_w = torch.cat([
            log_importance_weights(lambda z: model.log_joint(x, z), proposal, k, min(chunk, repeats - start), generator)
            for start in range(0, repeats, chunk)
        ])  # (repeats, K)
        single = log_likelihood_estimates(log_w).numpy()
        gap, gap_se = iwae_gap_given_evidence(log_w, log_evidence, control_variate=control_variate)
        rows.append((single.mean(), *np.quantile(single, [0.1, 0.9]), gap, gap_se))
    return np.array(rows)


def bound_sweeps(seed=0, quick=False):
    """Everything the figure shows; also used to quote the table of the text.

    Returns ks, log p(x), and for each proposal name (kl, chi2, rows), rows as in `_sweep`.
    """
    generator = torch.Generator().manual_seed(seed)
    model, x, proposals = worked_example()
    post_mean, post_cov = model.posterior(x)
    ks = 2 ** np.arange(0, 9 if quick else 15)
    budget = 20_000 if quick else 2_000_000
    # The reverse-KL weights have infinite variance, so the spread of log p_hat_K is wide at
    # large K too: 1,000 estimates keep the standard error of the gap there near 0.002 nats.
    min_repeats = 200 if quick else 1_000
    sweeps = {}
    for name, q in proposals.items():
        kl = kl_full_normals(q.mean, q.cov, post_mean, post_cov).item()
        chi2 = chi_square_divergence_gaussians(post_mean, post_cov, q.mean, q.cov)
        # The control variate r - 1 only helps when the weights have finite variance.
        sweeps[name] = (kl, chi2, _sweep(model, x, q, ks, budget, min_repeats, math.isfinite(chi2), generator))
    return ks, model.log_marginal(x).item(), sweeps


def make(path, seed=0, quick=False):
    torch.set_num_threads(1)
    ks, log_evidence, sweeps = bound_sweeps(seed, quick)

    fig, (ax_bound, ax_gap) = plt.subplots(1, 2, figsize=(9.0, 3.6), dpi=100)
    for name, (kl, chi2, rows) in sweeps.items():
        colour = COLOURS[name]
        ax_bound.fill_between(ks, rows[:, 1], rows[:, 2], color=colour, alpha=0.18, linewidth=0)
        ax_bound.plot(ks, rows[:, 0], "o-", color=colour, markersize=3.5, label=LABELS[name])
        ax_gap.errorbar(ks, rows[:, 3], yerr=2 * rows[:, 4], fmt="o-", color=colour, markersize=3.5,
                        capsize=2, label=f"{name}: KL = {kl:.2f}, $\\chi^2$ = " + ("$\\infty$" if math.isinf(chi2) else f"{chi2:.2f}"))
        if math.isfinite(chi2):
            ax_gap.plot(ks, delta_method_gap(chi2, ks), "--", color=colour, linewidth=1.2,
                        label=f"$\\chi^2/(2K)$ for {name}")
    ax_bound.axhline(log_evidence, color="black", linewidth=1.2, label=f"exact $\\log p(x)$ = {log_evidence:.3f}")
    ax_bound.set_xscale("log", base=2)
    ax_bound.set_ylim(log_evidence - 1.9, log_evidence + 0.35)
    ax_bound.set_xlabel("number of importance samples $K$")
    ax_bound.set_ylabel("nats")
    ax_bound.legend(fontsize=8, loc="lower right", frameon=False)
    ax_bound.set_title("(a) $\\mathcal{L}_K$; band: 10-90% of single estimates", loc="left", fontsize=9)

    ax_gap.set_xscale("log", base=2)
    ax_gap.set_yscale("log")
    ax_gap.set_xlabel("number of importance samples $K$")
    ax_gap.set_ylabel("$\\log p(x) - \\mathcal{L}_K$ (nats)")
    ax_gap.legend(fontsize=7.5, loc="lower left", frameon=False)
    ax_gap.set_title("(b) the gap on log-log axes, $\\pm$2 s.e.", loc="left", fontsize=9)
    for ax in (ax_bound, ax_gap):
        ax.tick_params(labelsize=8)
        ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)

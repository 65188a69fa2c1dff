"""Active units of VAEs trained on scikit-learn's digits with a KL weight beta.

Six VAEs (16 latent units, 64 hidden units, 250 epochs) differ only in beta. Top: the number
of active units (Burda et al.'s A_u > 0.01) and the rate E_x KL(q(z|x) || p(z)) against beta.
Bottom: every unit of every model as a point (activity A_u, its KL); units fall into two
clusters, and the threshold sits in the gap between them. The dashed line is the bound
KL_u >= A_u / 2 derived in the text.
"""
import matplotlib.pyplot as plt
import numpy as np

from vaeriants.collapse import ACTIVITY_THRESHOLD, beta_sweep, count_active_units
from vaeriants.data import digits

OUTPUT = "assets/figures/ch5-active-units.svg"
BETAS = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0)
# Okabe-Ito palette, ordered from light to dark so that larger beta reads as darker.
COLOURS = ("#56B4E9", "#009E73", "#E69F00", "#0072B2", "#D55E00", "#000000")
FLOOR = 1e-5  # plotting floor for units that are exactly collapsed (log axes)


def make(path, seed=0, quick=False):
    images, _ = digits()
    betas = BETAS[::5] if quick else BETAS  # quick: beta = 0.1 and 4 only, one epoch each
    results = beta_sweep(images, betas, latent_dim=16, hidden_dim=64, epochs=1 if quick else 250, seed=seed)

    counts = [count_active_units(r["activity"]) for r in results]
    rates = [float(r["kl"].sum()) for r in results]
    fig, (ax_count, ax_units) = plt.subplots(2, 1, figsize=(6.4, 6.2), dpi=100)  # stacked: the page is 640 px wide
    ax_count.plot(betas, counts, color="#0072B2", marker="o", lw=2.0, label="active units (of 16)")
    ax_count.set_xscale("log")
    ax_count.set_xticks(betas, [f"{b:g}" for b in betas])
    ax_count.set_xlabel(r"KL weight $\beta$")
    ax_count.set_ylabel("active units", color="#0072B2")
    ax_count.set_ylim(-0.5, 16.5)
    ax_count.set_yticks(range(0, 17, 4))
    ax_rate = ax_count.twinx()
    ax_rate.plot(betas, rates, color="#D55E00", marker="s", lw=2.0, ls="--", label="rate (nats)")
    ax_rate.set_ylabel(r"rate $\mathbb{E}_x D_{\mathrm{KL}}(q(z\mid x)\,\Vert\,p(z))$ (nats)", color="#D55E00")
    ax_rate.set_ylim(bottom=0)
    lines = ax_count.get_lines() + ax_rate.get_lines()
    ax_count.legend(lines, [line.get_label() for line in lines], fontsize=9, frameon=False, loc="upper right")

    for r, colour in zip(results, COLOURS if not quick else COLOURS[::5]):
        activity = np.maximum(r["activity"].numpy(), FLOOR)
        kl = np.maximum(r["kl"].numpy(), FLOOR)
        ax_units.scatter(activity, kl, s=18, color=colour, alpha=0.85, lw=0, label=rf"$\beta = {r['beta']:g}$")
    grid = np.logspace(np.log10(FLOOR), 1, 50)
    ax_units.plot(grid, grid / 2, color="#7f7f7f", lw=1.0, ls="--", label=r"$A_u/2$")
    ax_units.axvline(ACTIVITY_THRESHOLD, color="#7f7f7f", lw=1.0, ls=":")
    ax_units.text(ACTIVITY_THRESHOLD * 1.2, 2 * FLOOR, "threshold $10^{-2}$", fontsize=9, color="#7f7f7f")
    ax_units.set_xscale("log")
    ax_units.set_yscale("log")
    ax_units.set_xlim(FLOOR / 2, 5)
    ax_units.set_ylim(FLOOR / 2, 10)
    ax_units.set_xlabel(r"activity $A_u = \mathrm{Var}_x\,\mathbb{E}_{q}[z_u]$")
    ax_units.set_ylabel(r"unit KL $\mathbb{E}_x D_{\mathrm{KL}}(q(z_u\mid x)\,\Vert\,p(z_u))$")
    ax_units.legend(fontsize=8.5, frameon=False, loc="upper left", ncol=2)
    for ax in (ax_count, ax_units):
        ax.spines["top"].set_visible(False)
    ax_units.spines["right"].set_visible(False)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return {"betas": list(betas), "active_units": counts, "rates": rates}

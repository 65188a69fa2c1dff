"""Forward and reverse KL fits of a Gaussian to the bimodal target 0.3 N(-2, 0.6^2) + 0.7 N(2, 0.6^2).

Top: the target and the three fits (the forward-KL optimum matches the target's mean and
variance; the reverse-KL divergence has one local optimum per mode). Bottom: the profile of
each divergence as a function of the mean of q, minimized over its variance, which shows why
the reverse fit depends on where it starts and the forward fit does not.
"""
import math

import matplotlib.pyplot as plt
import numpy as np
import torch

from vaeriants.divergences import (DTYPE, bimodal_example, fit_gaussian, forward_kl, grid,
                                   log_normal_1d, reverse_kl)

OUTPUT = "assets/figures/ch5-kl-bimodal.svg"
# Okabe-Ito colours, distinguishable with the common forms of colour blindness.
GREY, BLUE, ORANGE, VERMILLION = "#7f7f7f", "#0072B2", "#E69F00", "#D55E00"


def divergence_profiles(target, means, logvars, z):
    """For each mean of q, the smallest forward and reverse KL over a grid of log-variances."""
    forward, reverse = [], []
    log_p = target.log_prob(z)  # (Z,)
    p = log_p.exp()
    for m in means:
        log_q = log_normal_1d(z[None, :], torch.tensor(m, dtype=DTYPE), logvars[:, None])  # (V, Z)
        forward.append(float(torch.trapezoid(p * (log_p - log_q), z, dim=-1).min()))
        reverse.append(float(torch.trapezoid(log_q.exp() * (log_q - log_p), z, dim=-1).min()))
    return np.array(forward), np.array(reverse)


def make(path, seed=0, quick=False):
    del seed  # the figure is deterministic: quadrature, no sampling
    target = bimodal_example()
    fwd = fit_gaussian(forward_kl, target, init_mean=-3.0, init_std=0.5)
    rev_light = fit_gaussian(reverse_kl, target, init_mean=-1.5, init_std=0.5)
    rev_heavy = fit_gaussian(reverse_kl, target, init_mean=1.5, init_std=0.5)

    z_plot = torch.linspace(-6.0, 7.0, 1301, dtype=DTYPE)
    normal = lambda m, v: log_normal_1d(z_plot, torch.tensor(m, dtype=DTYPE), torch.tensor(math.log(v), dtype=DTYPE)).exp().numpy()  # noqa: E731

    fig, (ax_fit, ax_profile) = plt.subplots(2, 1, figsize=(6.4, 5.8), dpi=100)  # stacked: the page is 640 px wide
    zp = z_plot.numpy()
    ax_fit.fill_between(zp, target.log_prob(z_plot).exp().numpy(), color=GREY, alpha=0.35, lw=0, label="target $p$")
    ax_fit.plot(zp, normal(fwd[0], fwd[1]), color=BLUE, lw=2.0, label=f"forward KL: mean {fwd[0]:.2f}, var {fwd[1]:.2f}")
    ax_fit.plot(zp, normal(rev_heavy[0], rev_heavy[1]), color=VERMILLION, lw=2.0,
                label=f"reverse KL: mean {rev_heavy[0]:.2f}, var {rev_heavy[1]:.2f}")
    ax_fit.plot(zp, normal(rev_light[0], rev_light[1]), color=ORANGE, lw=2.0, ls="--",
                label=f"reverse KL: mean {rev_light[0]:.2f}, var {rev_light[1]:.2f}")
    ax_fit.set_xlabel("$z$")
    ax_fit.set_ylabel("density")
    ax_fit.set_ylim(0, 1.12)
    ax_fit.legend(fontsize=8.5, frameon=False, loc="upper left")

    means = np.linspace(-4.0, 4.5, 69 if quick else 171)
    logvars = torch.linspace(math.log(0.05), math.log(12.0), 40 if quick else 120, dtype=DTYPE)
    z = grid(-14.0, 14.0, 2801)
    forward_profile, reverse_profile = divergence_profiles(target, means, logvars, z)
    ax_profile.plot(means, forward_profile, color=BLUE, lw=2.0, label=r"$\min_{\sigma^2} D_{\mathrm{KL}}(p\,\Vert\,q)$")
    ax_profile.plot(means, reverse_profile, color=VERMILLION, lw=2.0, label=r"$\min_{\sigma^2} D_{\mathrm{KL}}(q\,\Vert\,p)$")
    for value in (-math.log(0.7), -math.log(0.3)):  # KL of each component to p is at most -log weight
        ax_profile.axhline(value, color=GREY, lw=1.0, ls=":")
    ax_profile.text(-4.0, -math.log(0.7) + 0.08, r"$-\log 0.7$", ha="left", fontsize=9, color=GREY)
    ax_profile.text(-4.0, -math.log(0.3) + 0.08, r"$-\log 0.3$", ha="left", fontsize=9, color=GREY)
    ax_profile.set_xlabel(r"mean $\mu$ of $q$")
    ax_profile.set_ylabel("divergence (nats)")
    ax_profile.set_ylim(0, 4.0)
    ax_profile.legend(fontsize=9, frameon=False, loc="upper center")
    for ax in (ax_fit, ax_profile):
        ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)

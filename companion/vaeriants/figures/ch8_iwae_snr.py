"""Signal-to-noise ratio of IWAE gradients against the number of importance samples K.

On the linear-Gaussian running example with a q that is not the posterior: the SNR
|E g| / std(g) of the standard (reparameterized) IWAE gradient for the decoder parameter
theta and for the encoder mean, and of the doubly reparameterized (DReG) encoder gradient.
Averaged over the five coordinates; dashed lines show the slopes K^(1/2) and K^(-1/2).

Both encoder estimators are unbiased for the same gradient, so |E g| is estimated once, from
the DReG draws (the less noisy of the two); a sample mean of the IWAE draws would put a floor
of about 1/sqrt(n) under the small SNRs at large K.
"""
import matplotlib.pyplot as plt
import numpy as np
import torch

from vaeriants import gradients as G

OUTPUT = "assets/figures/ch8-iwae-snr.svg"


def snr_curves(ks, n, seed):
    model = G.chapter_linear_gaussian()
    mean, log_std = G.iwae_example_q(model)
    d = mean.shape[-1]
    generator = torch.Generator().manual_seed(seed)
    curves = {"decoder, IWAE": [], "encoder mean, IWAE": [], "encoder mean, DReG": []}
    for K in ks:
        decoder, encoder = G.iwae_gradients(model, mean, log_std, K, n, generator, "iwae")
        _, encoder_dreg = G.iwae_gradients(model, mean, log_std, K, n, generator, "dreg")
        curves["decoder, IWAE"].append(G.signal_to_noise(decoder).mean().item())
        signal = encoder_dreg[:, :d].mean(0).abs()  # (d,), shared by both encoder estimators
        curves["encoder mean, IWAE"].append((signal / encoder[:, :d].std(0)).mean().item())
        curves["encoder mean, DReG"].append((signal / encoder_dreg[:, :d].std(0)).mean().item())
    return curves


def make(path, seed=0, quick=False):
    torch.set_num_threads(1)
    ks = np.array([1, 3, 10, 30, 100, 300, 1000]) if not quick else np.array([1, 4, 16])
    curves = snr_curves(ks, n=1000 if not quick else 200, seed=seed)
    styles = {
        "decoder, IWAE": dict(color="#0072B2", marker="o"),
        "encoder mean, IWAE": dict(color="#D55E00", marker="s"),
        "encoder mean, DReG": dict(color="#009E73", marker="^"),
    }
    # At the text column's width (640 pt; the site shows one point per CSS pixel), labels 11-13 pt.
    with plt.rc_context({"font.size": 12, "axes.labelsize": 13, "xtick.labelsize": 11, "ytick.labelsize": 11}):
        fig, ax = plt.subplots(figsize=(8.9, 5.6), dpi=100)
        for name, values in curves.items():
            ax.plot(ks, values, lw=2, ms=7, label=name, **styles[name])
        # Reference slopes anchored at the largest K.
        for name, power in [("decoder, IWAE", 0.5), ("encoder mean, IWAE", -0.5)]:
            anchor = curves[name][-1]
            ax.plot(ks, anchor * (ks / ks[-1]) ** power, ls="--", lw=1.2, color=styles[name]["color"], alpha=0.7)
        ax.text(ks[-2], curves["decoder, IWAE"][-2] * 1.5, "$\\propto K^{1/2}$", ha="right", fontsize=12)
        ax.text(ks[-2], curves["encoder mean, IWAE"][-2] * 0.6, "$\\propto K^{-1/2}$", ha="right", va="top", fontsize=12)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("number of importance samples $K$")
        ax.set_ylabel("signal-to-noise ratio $|\\mathbb{E}\\,g| \\,/\\, \\mathrm{std}(g)$")
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=12, frameon=False, loc="upper left")
        fig.tight_layout()
        fig.savefig(path)
        plt.close(fig)

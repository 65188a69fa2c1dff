"""Chapter 7: units for discrete data, dequantization, the Frechet distance behind FID, and
the numbers reported for a VAE (rate, distortion, the K-sample bound, active units)."""
import math
import pathlib
import re

import numpy as np
import pytest
import torch
from scipy import stats

from vaeriants.distributions import kl_diag_normal_standard_normal, kl_diag_normals, log_bernoulli, log_normal_diag
from vaeriants.evaluation import (
    active_units,
    bits_per_dim,
    dequantized_log_likelihood,
    frechet_distance,
    frechet_distance_from_samples,
    nll_in_integer_units,
    vae_report,
)
from vaeriants.vae import VAE, VAEConfig

# ---------------------------------------------------------------------------------------
# Bits per dimension and the change of scale
# ---------------------------------------------------------------------------------------


def test_bits_per_dim_divides_by_d_log_2():
    assert bits_per_dim(3072 * math.log(2.0) * 3.0, 3072) == pytest.approx(3.0)
    # The worked example of the text: 7,000 nats for a 32x32x3 image is 3.29 bits/dim.
    assert bits_per_dim(7000.0, 3072) == pytest.approx(3.29, abs=5e-3)
    # D log 256 for D = 3072: the offset between the [0, 1) and the [0, 256) scales.
    assert nll_in_integer_units(0.0, 3072) == pytest.approx(17034.8, abs=0.05)
    assert bits_per_dim(nll_in_integer_units(0.0, 3072), 3072) == pytest.approx(8.0)


def test_log_256_change_of_scale_matches_the_density_of_the_rescaled_variable():
    # y = v / 256 with y ~ N(0.4, 0.05^2 I) in 3 dimensions means v ~ N(102.4, 12.8^2 I).
    generator = torch.Generator().manual_seed(0)
    v = 102.4 + 12.8 * torch.randn(10, 3, generator=generator, dtype=torch.float64)
    nll_v = -log_normal_diag(v, torch.full_like(v, 102.4), torch.full_like(v, 2 * math.log(12.8)))
    nll_y = -log_normal_diag(v / 256, torch.full_like(v, 0.4), torch.full_like(v, 2 * math.log(0.05)))
    assert torch.allclose(nll_v, nll_in_integer_units(nll_y, 3))


# ---------------------------------------------------------------------------------------
# Uniform dequantization on a toy discrete model: pixels 0..255 from a Gaussian density
# ---------------------------------------------------------------------------------------

MU, SIGMA = 100.3, 20.0
PIXELS = torch.arange(256, dtype=torch.float64)


def gaussian_log_density(v):
    return torch.as_tensor(stats.norm.logpdf(v.numpy(), MU, SIGMA)).sum(-1)


def discrete_log_probability(x):
    """log P(x) = log of the mass the density puts on [x, x + 1): a proper pmf on integers.

    Above the mean the difference of survival functions avoids cancellation between two
    numbers close to 1."""
    upper = x > MU
    below = stats.norm.cdf(x + 1, MU, SIGMA) - stats.norm.cdf(x, MU, SIGMA)
    above = stats.norm.sf(x, MU, SIGMA) - stats.norm.sf(x + 1, MU, SIGMA)
    return np.log(np.where(upper, above, below))


def test_induced_discrete_model_is_a_probability_distribution():
    total = np.exp(discrete_log_probability(PIXELS.numpy())).sum()
    assert total <= 1.0 and total == pytest.approx(1.0, abs=1e-3)  # the mass outside [0, 256) is lost


def test_dequantized_log_likelihood_lower_bounds_the_discrete_log_likelihood():
    x = PIXELS.unsqueeze(-1)  # 256 one-dimensional data points
    num_samples = 4000
    estimate = dequantized_log_likelihood(gaussian_log_density, x, num_samples, torch.Generator().manual_seed(1))
    # Closed form of E_u[log N(x + u; mu, sigma^2)] for u ~ U[0, 1): E[(x + u - mu)^2] = d^2 + d + 1/3.
    d = PIXELS - MU
    exact = -0.5 * math.log(2 * math.pi * SIGMA**2) - (d**2 + d + 1.0 / 3.0) / (2 * SIGMA**2)
    # Monte Carlo s.e.: log p(x + u) is nearly linear in u with slope -(d + 1/2) / sigma^2.
    se = ((d.abs() + 1.0) / SIGMA**2) * math.sqrt(1.0 / 12.0) / math.sqrt(num_samples)
    assert ((estimate - exact).abs() < 4 * se).all()
    gap = torch.as_tensor(discrete_log_probability(PIXELS.numpy())) - exact
    assert (gap >= 0).all()  # Jensen: E_u log p(x + u) <= log int p(x + u) du = log P(x)
    # ...and tight when the density barely changes across a unit cube: a second-order
    # expansion around x + 1/2 gives gap = (x + 1/2 - mu)^2 / (24 sigma^4), under 0.01 nats here.
    predicted = (d + 0.5) ** 2 / (24 * SIGMA**4)
    assert gap.max() < 0.01
    far = (d + 0.5).abs() > 20  # where the prediction is not itself a tiny number
    assert torch.allclose(gap[far], predicted[far], rtol=0.05)


def test_a_spike_on_raw_integers_has_unbounded_density_but_not_after_dequantization():
    # A narrow Gaussian on the integer 5: its density at 5 exceeds 1 (log-density > 0), and
    # shrinking sigma makes it as large as we like. Dequantized, log P(5) <= 0 always, and the
    # dequantized objective punishes the spike.
    for sigma in [0.1, 0.01, 0.001]:
        log_density_at_5 = stats.norm.logpdf(5.0, 5.0, sigma)
        assert log_density_at_5 == pytest.approx(-0.5 * math.log(2 * math.pi) - math.log(sigma))
        assert log_density_at_5 > 0
        x = torch.tensor([[5.0]], dtype=torch.float64)
        dequantized = dequantized_log_likelihood(
            lambda v, s=sigma: torch.as_tensor(stats.norm.logpdf(v.numpy(), 5.0, s)).sum(-1), x, 2000, torch.Generator().manual_seed(2))
        assert dequantized.item() < 0
        assert math.log(stats.norm.cdf(6.0, 5.0, sigma) - stats.norm.cdf(5.0, 5.0, sigma)) <= 0


# ---------------------------------------------------------------------------------------
# Likelihood and samples can disagree (Theis et al.): a 1% good, 99% noise mixture
# ---------------------------------------------------------------------------------------


def test_mixing_in_99_percent_noise_costs_at_most_log_100_nats():
    generator = torch.Generator().manual_seed(3)
    d = 64
    x = torch.randn(1000, d, generator=generator, dtype=torch.float64)  # data from the "good" model N(0, I)
    log_good = log_normal_diag(x, torch.zeros_like(x), torch.zeros_like(x))
    log_noise = log_normal_diag(x, torch.zeros_like(x), torch.full_like(x, math.log(25.0)))  # N(0, 25 I)
    log_mixture = torch.logaddexp(math.log(0.01) + log_good, math.log(0.99) + log_noise)
    loss = log_good - log_mixture
    assert (loss <= math.log(100.0) + 1e-12).all()
    assert loss.mean().item() > 0.99 * math.log(100.0)  # the noise adds nothing here: the bound is attained
    # Per dimension of a 32x32x3 image the cost is tiny: 0.0022 bits.
    assert bits_per_dim(math.log(100.0), 3072) == pytest.approx(0.00216, abs=1e-5)


def test_an_invisible_noise_level_error_costs_hundreds_of_nats():
    # Believing the pixel noise has twice its true standard deviation costs
    # KL(N(0, s^2) || N(0, 4 s^2)) = log 2 + 1/8 - 1/2 = 0.318 nats per pixel, about 980 nats
    # for 3072 pixels: some 200 times the log 100 of the 99%-noise mixture.
    zero = torch.zeros(1, 3072, dtype=torch.float64)
    kl = kl_diag_normals(zero, zero + math.log(0.3**2), zero, zero + math.log(0.6**2)).item()
    assert kl / 3072 == pytest.approx(math.log(2.0) + 0.125 - 0.5, rel=1e-12)
    assert kl / 3072 == pytest.approx(0.318, abs=5e-4)
    assert kl == pytest.approx(977.0, abs=1.0)
    assert kl / math.log(100.0) > 200


# ---------------------------------------------------------------------------------------
# The Frechet distance behind FID
# ---------------------------------------------------------------------------------------


def test_frechet_distance_is_the_gaussian_wasserstein_formula():
    rng = np.random.default_rng(4)
    m1, m2 = rng.normal(size=5), rng.normal(size=5)
    v1, v2 = rng.uniform(0.5, 2.0, size=5), rng.uniform(0.5, 2.0, size=5)
    # Commuting (diagonal) covariances: tr(C1 + C2 - 2 (C1 C2)^{1/2}) = sum (sqrt v1 - sqrt v2)^2.
    expected = np.sum((m1 - m2) ** 2) + np.sum((np.sqrt(v1) - np.sqrt(v2)) ** 2)
    assert frechet_distance(m1, np.diag(v1), m2, np.diag(v2)) == pytest.approx(expected, rel=1e-10)
    a = rng.normal(size=(5, 5))
    cov = a @ a.T + np.eye(5)
    assert frechet_distance(m1, cov, m1, cov) == pytest.approx(0.0, abs=1e-8)


def test_fid_from_finite_samples_is_biased_up_by_order_one_over_n():
    # Two samples of the SAME distribution N(0, I_16): the true distance is 0, but the
    # estimate is positive; its mean part alone has expectation 2 tr(Sigma) / n = 32 / n.
    rng = np.random.default_rng(5)
    d, reps = 16, 40
    means = {}
    for n in [250, 1000]:
        values = [frechet_distance_from_samples(rng.normal(size=(n, d)), rng.normal(size=(n, d))) for _ in range(reps)]
        means[n] = (np.mean(values), np.std(values) / math.sqrt(reps))
        assert means[n][0] > 2 * d / n  # the covariance part adds to the mean part
    ratio = means[250][0] / means[1000][0]
    assert ratio == pytest.approx(4.0, rel=0.2)  # four times the samples, a quarter of the bias


# ---------------------------------------------------------------------------------------
# Rate, distortion, the K-sample bound and active units of a VAE
# ---------------------------------------------------------------------------------------


def test_active_units_counts_units_whose_mean_moves_with_x():
    torch.manual_seed(6)
    model = VAE(VAEConfig(latent_dim=6))
    with torch.no_grad():
        model.encoder.mean.weight[:3] = 0.0  # units 0-2 ignore x: collapsed
        model.encoder.mean.weight[3:] *= 20.0  # units 3-5 clearly depend on x
    x = (torch.rand(500, 64, generator=torch.Generator().manual_seed(7)) < 0.3).float()
    mean, _ = model.encoder(x)
    activity, count = active_units(mean.detach())
    assert torch.allclose(activity[:3], torch.zeros(3))
    assert (activity[3:] > 1e-2).all() and count == 3


def test_vae_report_is_exact_when_the_decoder_ignores_z():
    # If the decoder's last layer has zero weights, p(x | z) = Bern(x; sigmoid(b)) for every z,
    # so p(x) = Bern(x; sigmoid(b)) exactly, the distortion is -log p(x), the rate is
    # KL(q || N(0, I)) in closed form, and the K-sample bound tends to log p(x).
    torch.manual_seed(8)
    model = VAE(VAEConfig(latent_dim=4))
    with torch.no_grad():
        model.decoder.net[-1].weight.zero_()
        model.decoder.net[-1].bias.copy_(torch.linspace(-2, 2, 64))
        model.encoder.logvar.weight.zero_()
        model.encoder.logvar.bias.fill_(-0.3)  # q narrower than the prior (but not by half): a gap
    x = (torch.rand(50, 64, generator=torch.Generator().manual_seed(9)) < 0.4).float()
    log_px = log_bernoulli(x, model.decoder.net[-1].bias.expand_as(x)).mean().item()
    mean, logvar = model.encoder(x)
    rate = kl_diag_normal_standard_normal(mean, logvar).mean().item()
    small = vae_report(model, x, num_samples=1, generator=torch.Generator().manual_seed(10))
    large = vae_report(model, x, num_samples=300, generator=torch.Generator().manual_seed(11))
    assert small["distortion"] == pytest.approx(-log_px, rel=1e-5)
    assert small["rate"] == pytest.approx(rate, rel=1e-5)
    assert small["elbo"] == pytest.approx(log_px - rate, rel=1e-5)
    assert large["iwae"] > small["elbo"] + 0.9 * rate  # most of the gap (= the rate here) is closed
    assert large["iwae"] <= log_px + 1e-3
    assert large["bits_per_dim"] == pytest.approx(-large["iwae"] / (64 * math.log(2.0)))


# ---------------------------------------------------------------------------------------
# The worked report of the text quotes the figure
# ---------------------------------------------------------------------------------------

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_worked_report_quotes_the_numbers_printed_in_its_figure():
    # The numbers of the digits report come from one seeded run of
    # vaeriants/figures/ch7_digits_vae_report.py (training is too slow to repeat here). The
    # figure prints them, and a matplotlib SVG keeps each text as a comment: the text must
    # quote those, and they must add up.
    from vaeriants.figures.ch7_digits_vae_report import LATENT_DIM, OUTPUT

    svg = (REPO_ROOT / OUTPUT).read_text()
    text = (REPO_ROOT / "chapters" / "07-evaluation.md").read_text()
    text = text[text.index("{#worked-report}"):text.index("{#key-points}")]
    active, units = map(int, re.search(r"\(a\) (\d+) of (\d+) units active", svg).groups())
    bound, bpd = map(float, re.search(r"held-out \$\\mathcal\{L\}_\{1024\}\$ = (-[\d.]+) nats = ([\d.]+) bits/dim", svg).groups())
    elbo, distortion, rate = map(float, re.search(r"held-out ELBO (-[\d.]+) = -\(D ([\d.]+) \+ R ([\d.]+)\)", svg).groups())
    assert units == LATENT_DIM == 16
    assert f"the ELBO is $${elbo:.2f}$$ nats, with distortion $$D = {distortion:.2f}$$ and rate $$R = {rate:.2f}$$" in text
    assert f"$$\\ELBO_{{1024}} = {bound:.2f}$$ nats, that is $${-bound:.2f}/(64\\log 2) = {bpd:.3f}$$ bits" in text
    assert f"{active} of the {units} units pass the activity threshold" in text
    assert re.search(rf"units carry [\d.]+ of the {rate:.2f} nats", text)
    # ...and add up, to the rounding of two decimals.
    assert elbo == pytest.approx(-(distortion + rate), abs=0.011)
    assert bits_per_dim(-bound, 64) == pytest.approx(bpd, abs=6e-4)
    gap = float(re.search(r"the ([\d.]+) nats between it and the ELBO", text).group(1))
    assert gap == pytest.approx(bound - elbo, abs=0.011)

"""Chapter 3: the claims of the information-theoretic view of the ELBO, computed.

Discrete models are exact up to float64 rounding, so their identities are checked to 1e-10.
Monte Carlo checks use fixed seeds and tolerances of five standard errors.
"""
import math

import pytest
import torch

from vaeriants.information import (
    GaussianSource,
    average_rate,
    binarized_digits,
    bits_back_code_lengths,
    discrete_terms,
    empirical_entropy,
    exact_posterior,
    gaussian_decoder_beta_loss,
    gaussian_source_monte_carlo,
    gaussian_source_terms,
    gaussian_source_with_standard_prior,
    infovae_objective,
    marginal_kl_decomposition,
    matched_discrete_model,
    matched_gaussian_source,
    random_discrete_model,
    rate_split_monte_carlo,
    rate_split_quadrature_1d,
    rate_with_prior_quadrature_1d,
    switch_mixture,
    DiscreteModel,
    vae_rate_distortion,
)
from vaeriants.distributions import log_bernoulli
from vaeriants.vae import VAEConfig, train_vae

EXACT = 1e-10


def discrete_models(count=20, sharpness=(1.0, 3.0)):
    """Random discrete models of several sizes and peakiness, with fixed seeds."""
    generator = torch.Generator().manual_seed(3)
    sizes = [(2, 2), (5, 3), (8, 8), (12, 4), (3, 10)]
    return [random_discrete_model(*sizes[i % len(sizes)], generator, sharpness=sharpness[i % 2]) for i in range(count)]


# --- ELBO = -(D + R) and the two variational bounds on the mutual information ---------------


@pytest.mark.parametrize("model", discrete_models(), ids=lambda m: f"K{len(m.data)}M{len(m.prior)}")
def test_average_elbo_is_minus_distortion_plus_rate(model):
    t = discrete_terms(model)
    assert abs(t["elbo"] + t["distortion"] + t["rate"]) < EXACT


@pytest.mark.parametrize("model", discrete_models(), ids=lambda m: f"K{len(m.data)}M{len(m.prior)}")
def test_entropy_minus_distortion_le_information_le_rate(model):
    t = discrete_terms(model)
    assert t["entropy"] - t["distortion"] <= t["mutual_information"] + EXACT
    assert t["mutual_information"] <= t["rate"] + EXACT


@pytest.mark.parametrize("model", discrete_models(), ids=lambda m: f"K{len(m.data)}M{len(m.prior)}")
def test_gaps_of_the_bounds_are_the_two_kls(model):
    """R - I = KL(q(z)||p(z)) and I - (H - D) = E_q(z) KL(q(x|z)||p(x|z))."""
    t = discrete_terms(model)
    assert abs(t["rate"] - t["mutual_information"] - t["marginal_kl"]) < EXACT
    assert abs(t["mutual_information"] - (t["entropy"] - t["distortion"]) - t["decoder_gap"]) < EXACT


@pytest.mark.parametrize("model", discrete_models(), ids=lambda m: f"K{len(m.data)}M{len(m.prior)}")
def test_total_gap_is_the_joint_kl_split_two_ways(model):
    """D + R - H = KL(q(x,z)||p(x,z)) = KL(p_D||p) + E KL(q(z|x)||p(z|x)) = sum of the two gaps."""
    t = discrete_terms(model)
    total = t["distortion"] + t["rate"] - t["entropy"]
    assert abs(total - t["joint_kl"]) < EXACT
    assert abs(t["joint_kl"] - t["data_kl"] - t["posterior_kl"]) < EXACT
    assert abs(t["joint_kl"] - t["marginal_kl"] - t["decoder_gap"]) < EXACT
    assert abs(t["log_evidence"] + t["entropy"] + t["data_kl"]) < EXACT


@pytest.mark.parametrize("model", discrete_models(), ids=lambda m: f"K{len(m.data)}M{len(m.prior)}")
def test_matched_prior_and_decoder_make_both_bounds_tight(model):
    t = discrete_terms(matched_discrete_model(model))
    assert abs(t["rate"] - t["mutual_information"]) < EXACT
    assert abs(t["entropy"] - t["distortion"] - t["mutual_information"]) < EXACT
    assert abs(t["elbo"] + t["entropy"]) < EXACT  # the ELBO reaches its ceiling -H


def test_bounds_are_strict_for_a_mismatched_model():
    """The bounds can fail to be tight: a test that would pass for R = I always is no test."""
    t = discrete_terms(discrete_models(1)[0])
    assert t["rate"] - t["mutual_information"] > 1e-3
    assert t["mutual_information"] - (t["entropy"] - t["distortion"]) > 1e-3


def test_a_switch_mixes_rate_and_distortion_linearly():
    """The convexity argument for frontiers: a data-independent switch averages (R, D)."""
    generator = torch.Generator().manual_seed(11)
    first = random_discrete_model(6, 3, generator, sharpness=3.0)
    second = random_discrete_model(6, 5, generator)
    second = DiscreteModel(first.data, second.encoder, second.prior, second.decoder)  # same data
    a, b = discrete_terms(first), discrete_terms(second)
    for weight in (0.2, 0.5, 0.9):
        mixed = discrete_terms(switch_mixture(first, second, weight))
        for name in ("rate", "distortion"):
            assert abs(mixed[name] - (weight * a[name] + (1 - weight) * b[name])) < EXACT


def test_beta_optima_order_rates_and_bound_chord_slopes():
    """Exact minimizers of D + beta R over a family: rate never rises with beta, and the chord
    between the optima for beta1 < beta2 has a slope in [-beta2, -beta1], convex frontier or not."""
    generator = torch.Generator().manual_seed(21)
    data = random_discrete_model(5, 4, generator).data
    family = []
    for i in range(400):  # a finite family: random encoders, priors and decoders on the same data
        m = random_discrete_model(5, 4, generator, sharpness=(1.0, 2.0, 4.0, 8.0)[i % 4])
        t = discrete_terms(DiscreteModel(data, m.encoder, m.prior, m.decoder))
        family.append((t["rate"].item(), t["distortion"].item()))
    betas = [0.1, 0.3, 0.6, 1.0, 1.5, 2.5, 5.0]
    optima = [min(family, key=lambda rd: rd[1] + beta * rd[0]) for beta in betas]
    assert len(set(optima)) >= 4  # the optima really move along the family
    for (b1, (r_a, d_a)), (b2, (r_b, d_b)) in zip(zip(betas, optima), zip(betas[1:], optima[1:])):
        assert r_b <= r_a
        if r_b < r_a:
            ratio = (d_b - d_a) / (r_a - r_b)  # minus the chord's slope
            assert b1 - 1e-12 <= ratio <= b2 + 1e-12


# --- The linear-Gaussian source --------------------------------------------------------------


@pytest.mark.parametrize("params", [(4.0, 0.7, 0.5, 1.3, 0.9, 2.0), (1.0, 2.0, 0.1, 1.0, 0.3, 0.2), (9.0, 0.1, 1.0, 0.5, 3.0, 5.0)])
def test_gaussian_source_closed_forms_match_monte_carlo(params):
    model = GaussianSource(*params)
    exact = gaussian_source_terms(model)
    estimates = gaussian_source_monte_carlo(model, 200_000, torch.Generator().manual_seed(0))
    for name, (estimate, standard_error) in estimates.items():
        assert abs(estimate - exact[name]) < 5 * standard_error + 1e-12, name


@pytest.mark.parametrize("params", [(4.0, 0.7, 0.5, 1.3, 0.9, 2.0), (1.0, 2.0, 0.1, 1.0, 0.3, 0.2), (9.0, 0.1, 1.0, 0.5, 3.0, 5.0)])
def test_gaussian_source_bounds(params):
    t = gaussian_source_terms(GaussianSource(*params))
    assert t["entropy"] - t["distortion"] < t["mutual_information"] < t["rate"]


def test_matched_linear_gaussian_models_lie_on_the_boundary_at_every_rate():
    """With the matched prior and decoder, D = H - R exactly: the ELBO is -H whatever the rate."""
    rates = []
    for enc_var in [100.0, 4.0, 1.0, 0.25, 0.01, 1e-4]:
        t = gaussian_source_terms(matched_gaussian_source(4.0, 1.0, enc_var))
        assert abs(t["rate"] - t["mutual_information"]) < EXACT
        assert abs(t["distortion"] + t["rate"] - t["entropy"]) < EXACT
        rates.append(t["rate"])
    assert rates == sorted(rates) and rates[-1] - rates[0] > 5.0  # the rates really differ


@pytest.mark.parametrize("enc_var, rate, distortion", [(0.5, 0.347, 1.766), (0.01, 2.303, -0.190)])
def test_gaussian_source_worked_example(enc_var, rate, distortion):
    """The chapter's numbers: s2 = 4, q(z) = N(0, 1) exactly, I = R and D = H - R."""
    t = gaussian_source_terms(gaussian_source_with_standard_prior(4.0, enc_var))
    assert abs(t["entropy"] - 2.112) < 5e-4
    assert abs(t["rate"] - rate) < 5e-4 and abs(t["distortion"] - distortion) < 5e-4
    assert abs(t["marginal_kl"]) < EXACT and abs(t["rate"] - t["mutual_information"]) < EXACT
    assert abs(t["distortion"] + t["rate"] - t["entropy"]) < EXACT


def test_beta_vae_on_the_matched_line_goes_to_a_corner():
    """On the line D = H - R, D + beta R = H + (beta - 1) R: beta > 1 prefers R -> 0, beta < 1 larger R."""
    models = [matched_gaussian_source(4.0, 1.0, e) for e in [100.0, 4.0, 1.0, 0.25, 0.01]]
    terms = [gaussian_source_terms(m) for m in models]
    for beta, best in [(2.0, 0), (0.5, len(models) - 1)]:
        objective = [t["distortion"] + beta * t["rate"] for t in terms]
        assert min(range(len(objective)), key=objective.__getitem__) == best


# --- ELBO surgery with a finite-mixture aggregate posterior -----------------------------------

MEANS_1D = torch.tensor([-1.5, -0.3, 0.2, 1.1, 2.0], dtype=torch.float64)
VARIANCES_1D = torch.tensor([0.3, 0.1, 0.5, 0.2, 0.05], dtype=torch.float64)


def test_surgery_identity_by_quadrature():
    """(1/N) sum_n KL(q(z|x_n)||p(z)) = I(n; z) + KL(q(z)||p(z)), each side computed separately."""
    split = rate_split_quadrature_1d(MEANS_1D, VARIANCES_1D)
    rate = average_rate(MEANS_1D[:, None], VARIANCES_1D.log()[:, None]).item()  # closed form
    assert abs(rate - split["mutual_information"] - split["marginal_kl"]) < 1e-8
    assert 0 < split["mutual_information"] < math.log(len(MEANS_1D))
    assert split["marginal_kl"] > 0


def test_monte_carlo_rate_split_matches_quadrature():
    """The estimator used for the trained VAEs agrees with quadrature in one dimension."""
    exact = rate_split_quadrature_1d(MEANS_1D, VARIANCES_1D)
    estimates = rate_split_monte_carlo(MEANS_1D[:, None], VARIANCES_1D.log()[:, None], 20_000, torch.Generator().manual_seed(0))
    for name, (estimate, standard_error) in estimates.items():
        assert abs(estimate - exact[name]) < 5 * standard_error, name


@pytest.mark.parametrize("std", [1.0, 0.3, 0.1, 0.02])
def test_index_code_information_is_at_most_log_n(std):
    means = torch.linspace(-2.0, 2.0, 5, dtype=torch.float64)
    split = rate_split_quadrature_1d(means, torch.full_like(means, std**2))
    assert split["mutual_information"] <= math.log(5) + 1e-9
    if std == 0.02:  # 50 standard deviations apart: the code identifies the index
        assert split["mutual_information"] > math.log(5) - 1e-6


@pytest.mark.parametrize("model", discrete_models(6), ids=lambda m: f"K{len(m.data)}M{len(m.prior)}")
def test_information_is_at_most_log_n_for_a_uniform_data_set(model):
    uniform = DiscreteModel(torch.full_like(model.data, 1 / len(model.data)), model.encoder, model.prior, model.decoder)
    assert discrete_terms(uniform)["mutual_information"] <= math.log(len(model.data)) + EXACT


def test_index_code_information_equals_data_information_with_duplicates():
    """I(n; z) = I(x; z) when some images repeat, and both are at most H < log N."""
    generator = torch.Generator().manual_seed(8)
    base = random_discrete_model(4, 3, generator, sharpness=3.0)
    image_of = torch.tensor([0, 0, 0, 1, 2, 2, 3])  # seven indices, four distinct images
    num = len(image_of)
    counts = torch.bincount(image_of, minlength=4).double()
    images = DiscreteModel(counts / num, base.encoder, base.prior, base.decoder)
    decoder_n = base.decoder[:, image_of] / base.decoder[:, image_of].sum(1, keepdim=True)  # p(n|z), (M, N)
    indices = DiscreteModel(torch.full((num,), 1 / num, dtype=torch.float64), base.encoder[image_of], base.prior, decoder_n)
    t_x, t_n = discrete_terms(images), discrete_terms(indices)
    assert abs(t_n["mutual_information"] - t_x["mutual_information"]) < EXACT
    assert abs(t_n["rate"] - t_x["rate"]) < EXACT
    assert t_x["mutual_information"] <= t_x["entropy"] + EXACT
    assert t_x["entropy"] < math.log(num) - 0.1  # the duplicates make H the sharper bound


def test_aggregate_posterior_is_the_optimal_prior_1d():
    """For a fixed encoder no prior gives a lower rate than q(z), where the rate equals I."""
    split = rate_split_quadrature_1d(MEANS_1D, VARIANCES_1D)

    def log_aggregate(z):  # (G,)
        log_components = -0.5 * (math.log(2 * math.pi) + VARIANCES_1D.log()[:, None] + (z[None] - MEANS_1D[:, None]) ** 2 / VARIANCES_1D[:, None])
        return torch.logsumexp(log_components, 0) - math.log(len(MEANS_1D))

    best = rate_with_prior_quadrature_1d(MEANS_1D, VARIANCES_1D, log_aggregate)
    assert abs(best - split["mutual_information"]) < 1e-8
    mean, var = MEANS_1D.mean(), (VARIANCES_1D + MEANS_1D**2).mean() - MEANS_1D.mean() ** 2  # moment-matched Gaussian
    for m, v in [(0.0, 1.0), (mean, var), (0.3, 2.0), (-0.5, 0.5)]:
        rate = rate_with_prior_quadrature_1d(MEANS_1D, VARIANCES_1D, lambda z: -0.5 * (math.log(2 * math.pi * v) + (z - m) ** 2 / v))
        assert rate > best + 1e-3


@pytest.mark.parametrize("model", discrete_models(6), ids=lambda m: f"K{len(m.data)}M{len(m.prior)}")
def test_aggregate_posterior_is_the_optimal_prior_discrete(model):
    best = discrete_terms(matched_discrete_model(model))["rate"]
    generator = torch.Generator().manual_seed(1)
    for _ in range(20):
        other = random_discrete_model(len(model.data), len(model.prior), generator)
        trial = DiscreteModel(model.data, model.encoder, other.prior, model.decoder)
        assert discrete_terms(trial)["rate"] >= best - EXACT


def test_total_correlation_decomposition():
    """KL(q(z)||p1 p2) = TC + sum_j KL(q(z_j)||p_j) for a factorized prior (Chen et al.)."""
    generator = torch.Generator().manual_seed(5)
    q = torch.rand(4, 3, generator=generator, dtype=torch.float64)
    q = q / q.sum()
    p1 = torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=torch.float64)
    p2 = torch.tensor([0.5, 0.25, 0.25], dtype=torch.float64)
    parts = marginal_kl_decomposition(q, p1, p2)
    assert abs(parts["marginal_kl"] - parts["total_correlation"] - parts["dimensionwise_kl"]) < EXACT
    assert parts["total_correlation"] > 0


# --- Bits-back coding ------------------------------------------------------------------------


@pytest.mark.parametrize("model", discrete_models(6), ids=lambda m: f"K{len(m.data)}M{len(m.prior)}")
def test_bits_back_code_length(model):
    """Net length = -ELBO(x); with the exact posterior it is -log p(x); any other q pays KL(q||posterior)."""
    lengths = bits_back_code_lengths(model)
    t = discrete_terms(model)
    assert abs((model.data * lengths["net"]).sum() + t["elbo"]) < EXACT
    posterior = DiscreteModel(model.data, exact_posterior(model), model.prior, model.decoder)
    exact = bits_back_code_lengths(posterior)
    log_p_x = torch.log((model.prior[None, :] * model.decoder.T).sum(1))
    assert torch.allclose(exact["net"], -log_p_x, atol=EXACT, rtol=0)
    posterior_kl = (model.encoder * (model.encoder.log() - exact_posterior(model).log())).sum(1)
    assert torch.allclose(lengths["net"] - exact["net"], posterior_kl, atol=EXACT, rtol=0)  # excess = KL to posterior
    assert torch.all(exact["without_refund"] > exact["net"])  # without the refund it is longer still


# --- beta, decoder variance and InfoVAE ------------------------------------------------------


def test_beta_is_a_rescaled_decoder_variance():
    """grad of D + beta R with noise variance s2 = beta * grad of D + R with variance beta s2."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(16, 5, generator=generator, dtype=torch.float64)
    eps = torch.randn(16, 2, generator=generator, dtype=torch.float64)
    params = [torch.randn(*s, generator=generator, dtype=torch.float64, requires_grad=True) for s in [(5, 2), (5, 2), (2, 5)]]

    def loss(noise_var, beta):
        enc_w, logvar_w, dec_w = params
        mean, logvar = x @ enc_w, 0.1 * (x @ logvar_w)
        z = mean + (0.5 * logvar).exp() * eps
        return gaussian_decoder_beta_loss(x, z @ dec_w, mean, logvar, noise_var, beta)

    for beta, noise_var in [(4.0, 0.5), (0.25, 2.0)]:
        grads_beta = torch.autograd.grad(loss(noise_var, beta), params)
        grads_elbo = torch.autograd.grad(loss(beta * noise_var, 1.0), params)
        for g_beta, g_elbo in zip(grads_beta, grads_elbo):
            assert torch.allclose(g_beta, beta * g_elbo, atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("alpha, lam", [(0.0, 1.0), (1.0, 1.0), (0.5, 10.0), (-1.0, 3.0), (0.9, 0.2)])
def test_infovae_objective_is_its_trainable_form_plus_entropy(alpha, lam):
    for model in discrete_models(5):
        defining, trainable = infovae_objective(model, alpha, lam)
        assert abs(defining - trainable - discrete_terms(model)["entropy"]) < EXACT


def test_infovae_with_alpha_0_lambda_1_is_the_elbo():
    model = discrete_models(1)[0]
    _, trainable = infovae_objective(model, 0.0, 1.0)
    assert abs(trainable - discrete_terms(model)["elbo"]) < EXACT


@pytest.mark.parametrize("alpha, lam", [(0.0, 1.0), (-0.5, 2.0), (-2.0, 3.0), (0.0, 5.0)])
def test_infovae_objective_minus_entropy_is_below_the_elbo(alpha, lam):
    """alpha <= 0 and alpha + lambda >= 1: the trainable form stays below the ELBO."""
    for model in discrete_models(10):
        _, trainable = infovae_objective(model, alpha, lam)
        assert trainable <= discrete_terms(model)["elbo"] + EXACT


def test_infovae_objective_with_alpha_above_0_exceeds_the_elbo():
    """alpha > 0 rewards rate: the objective is then above the ELBO, so not a bound."""
    for model in discrete_models(10):
        _, trainable = infovae_objective(model, 0.5, 0.6)
        assert trainable > discrete_terms(model)["elbo"]


# --- Trained VAEs on the digits --------------------------------------------------------------


def test_empirical_entropy_of_the_binarized_digits_is_at_most_log_n():
    data = binarized_digits()
    entropy = empirical_entropy(data)
    assert set(data.unique().tolist()) == {0.0, 1.0}
    assert 0.99 * math.log(len(data)) < entropy <= math.log(len(data))  # few duplicate images


def test_code_ignoring_decoder_distortion_is_the_sum_of_pixel_entropies():
    """The collapsed end of the digits frontier: D = sum_j h(mean of pixel j) = 24.42 nats."""
    data = binarized_digits().double()
    means = data.mean(0).clamp(1e-12, 1 - 1e-12)  # 13 pixels are never (or always) on
    logits = (means.log() - (1 - means).log()).expand_as(data)  # the same Bernoulli for every z
    distortion = -log_bernoulli(data, logits).mean().item()
    pixel_entropies = -(means * means.log() + (1 - means) * (1 - means).log()).sum().item()
    assert abs(distortion - pixel_entropies) < 1e-6
    assert abs(distortion - 24.42) < 0.005


def test_larger_beta_trades_rate_for_distortion_on_the_digits():
    """Two short runs: beta = 4 ends at a lower rate and a higher distortion than beta = 0.25."""
    data = binarized_digits()[:600]
    terms = {}
    for beta in (0.25, 4.0):
        cfg = VAEConfig(latent_dim=4, hidden_dim=32, epochs=15, beta=beta)
        model, _ = train_vae(data, cfg, seed=0)
        terms[beta] = vae_rate_distortion(model, data, 2, torch.Generator().manual_seed(0))
    low, high = terms[0.25], terms[4.0]
    assert high["rate"][0] < low["rate"][0]
    assert high["distortion"][0] > low["distortion"][0] + 5 * (high["distortion"][1] + low["distortion"][1])
    for t in terms.values():  # the bounds hold for the trained models too
        entropy = empirical_entropy(data)
        assert entropy - t["distortion"][0] <= t["mutual_information"][0] + 5 * t["mutual_information"][1]
        assert t["mutual_information"][0] <= min(t["rate"][0], math.log(len(data))) + 5 * t["mutual_information"][1]

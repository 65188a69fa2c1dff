"""Chapter 8: discrete latents: Gumbel-max, Gumbel-softmax (Concrete), REBAR, RELAX."""
import math

import pytest
import torch

from vaeriants import gradients as G

N = 20000
LOGIT, TARGET = 0.3, 0.45  # the one-bit example of the text: f(b) = (b - 0.45)^2


def _seeded(seed):
    return torch.Generator().manual_seed(seed)


def _max_z(samples, exact):
    return ((samples.mean(0) - exact) / G.standard_error(samples)).abs().max().item()


def _one_bit_exact():
    theta = 1 / (1 + math.exp(-LOGIT))
    return theta * (1 - theta) * ((1 - TARGET) ** 2 - TARGET**2)


def test_enumerated_gradient_matches_the_closed_form():
    f, logits = G.chapter_bernoulli_problem()
    targets = torch.linspace(0.1, 0.45, 10, dtype=torch.float64)
    theta = torch.sigmoid(logits)
    assert torch.allclose(G.exact_bernoulli_gradient(f, logits), theta * (1 - theta) * (1 - 2 * targets))


def test_gumbel_max_samples_the_categorical():
    probs = torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=torch.float64)
    n = 200_000
    counts = torch.bincount(G.gumbel_max_sample(probs.log(), n, _seeded(0)), minlength=4).double()
    se = torch.sqrt(probs * (1 - probs) / n)
    assert ((counts / n - probs).abs() / se).max().item() < 4.5


def test_binary_concrete_approaches_the_hard_sample_as_temperature_falls():
    """Share of relaxed samples within 0.05 of the bit H(logit + L): exactly
    P(|logit + L| > temperature * logit(0.95)), which tends to 1 as the temperature falls."""
    noise = G._logit(G._uniform(N, 1, _seeded(1), torch.float64))
    hard = (LOGIT + noise > 0).double()
    sigmoid = lambda v: 1 / (1 + math.exp(-v))  # noqa: E731
    shares = []
    for temperature in (1.0, 0.1, 0.01):
        relaxed = G.binary_concrete(torch.tensor([LOGIT], dtype=torch.float64), noise, temperature)
        share = ((relaxed - hard).abs() < 0.05).double().mean().item()
        cut = temperature * math.log(0.95 / 0.05)
        expected = 1 - (sigmoid(cut - LOGIT) - sigmoid(-cut - LOGIT))
        assert abs(share - expected) < 4.5 * math.sqrt(expected * (1 - expected) / N)
        shares.append(share)
    assert shares[0] < shares[1] < shares[2] and shares[2] > 0.98


def test_gumbel_softmax_estimates_the_relaxed_gradient():
    f = G.squared_distance_objective(torch.tensor([TARGET], dtype=torch.float64))
    f_prime = lambda y: 2 * (y - TARGET)  # noqa: E731
    for temperature in (1.0, 0.5):
        relaxed_mean, _ = G.binary_concrete_gradient_moments(f_prime, LOGIT, temperature)
        samples = G.gumbel_softmax_gradient(f, torch.tensor([LOGIT], dtype=torch.float64), temperature, N, _seeded(2))
        assert _max_z(samples, torch.tensor([relaxed_mean])) < 4.5
        assert abs(relaxed_mean - _one_bit_exact()) > 0.05 * _one_bit_exact()  # biased for the bit


def test_gumbel_softmax_bias_is_order_temperature_and_variance_order_one_over_temperature():
    """eq:8-gs-bias-variance: bias ~ lambda s'(a)(2 s(a) - 1) int w f'(s(w)) s'(w) dw and
    lambda Var -> s'(a) int (f'(s(w)) s'(w))^2 dw, with s the sigmoid."""
    f_prime = lambda y: 2 * (y - TARGET)  # noqa: E731
    theta = 1 / (1 + math.exp(-LOGIT))
    predicted_slope = theta * (1 - theta) * (2 * theta - 1)  # bias / temperature as temperature -> 0
    w = torch.linspace(-60.0, 60.0, 200_001, dtype=torch.float64)
    slope = f_prime(torch.sigmoid(w)) * torch.sigmoid(w) * torch.sigmoid(-w)
    predicted_variance_constant = theta * (1 - theta) * torch.trapezoid(slope**2, w).item()
    moments = {t: G.binary_concrete_gradient_moments(f_prime, LOGIT, t) for t in (0.1, 0.02, 0.01)}
    bias = {t: m[0] - _one_bit_exact() for t, m in moments.items()}
    variance = {t: m[1] - m[0] ** 2 for t, m in moments.items()}
    assert abs(bias[0.01]) < abs(bias[0.02]) < abs(bias[0.1])
    # The next term of the expansion is O(lambda^2): at lambda = 0.01 it is below 1% of the first.
    assert bias[0.01] / 0.01 == pytest.approx(predicted_slope, rel=0.01)
    assert 0.02 * variance[0.02] == pytest.approx(0.01 * variance[0.01], rel=0.02)
    assert 0.01 * variance[0.01] == pytest.approx(predicted_variance_constant, rel=0.01)
    # The quadrature agrees with Monte Carlo draws of the estimator.
    f = G.squared_distance_objective(torch.tensor([TARGET], dtype=torch.float64))
    samples = G.gumbel_softmax_gradient(f, torch.tensor([LOGIT], dtype=torch.float64), 0.1, 100_000, _seeded(3))
    assert samples.var().item() == pytest.approx(variance[0.1], rel=0.05)


@pytest.mark.parametrize("logit", [LOGIT, -1.2])
def test_the_bias_integral_is_one_for_every_target(logit):
    """For f(y) = (y - t)^2 the integral in the bias of eq:8-gs-bias-variance is 1, whatever t: the bias is
    lambda s'(a)(2 s(a) - 1) to first order. The next term is O(lambda^2) and, relative to the
    first, large when s(a) is near 1/2, so the slope bias / lambda is extrapolated to lambda = 0
    from lambda = 0.01 and 0.005 (Richardson: 2 slope(lambda / 2) - slope(lambda))."""
    theta = 1 / (1 + math.exp(-logit))
    predicted = theta * (1 - theta) * (2 * theta - 1)
    for target in (0.0, 0.3, 0.45, 0.9):
        exact = theta * (1 - theta) * (1 - 2 * target)
        slope = {}
        for temperature in (0.01, 0.005):
            mean, _ = G.binary_concrete_gradient_moments(lambda y, t=target: 2 * (y - t), logit, temperature)
            slope[temperature] = (mean - exact) / temperature
        assert slope[0.005] == pytest.approx(predicted, rel=0.03)
        assert 2 * slope[0.005] - slope[0.01] == pytest.approx(predicted, rel=0.002)


def test_one_bit_bias_at_temperature_one_half():
    """The text: at lambda = 0.5 the bias is 0.007, 30% of the exact gradient 0.0244."""
    mean, _ = G.binary_concrete_gradient_moments(lambda y: 2 * (y - TARGET), LOGIT, 0.5)
    bias = mean - _one_bit_exact()
    assert _one_bit_exact() == pytest.approx(0.0244, abs=5e-5)
    assert bias == pytest.approx(0.007, abs=5e-4)
    assert 0.28 < bias / _one_bit_exact() < 0.32


def test_ten_bits_lowering_the_temperature_trades_bias_for_variance():
    """Figure 8.1b: from lambda = 1 to 0.1 the squared bias falls nearly fifty-fold and the
    variance grows about twenty-five-fold (both exact, by quadrature, coordinate by coordinate)."""
    f, logits = G.chapter_bernoulli_problem()
    targets = G.chapter_bernoulli_targets()
    exact = G.exact_bernoulli_gradient(f, logits)
    bias2, variance = {}, {}
    for temperature in (1.0, 0.1):
        mean = G.gumbel_softmax_expected_gradient(targets, logits, temperature)
        bias2[temperature] = ((mean - exact) ** 2).sum().item()
        moments = [G.binary_concrete_gradient_moments(lambda y, t=t: 2 * (y - t), a, temperature)
                   for t, a in zip(targets.tolist(), logits.tolist())]
        variance[temperature] = sum(m2 - m1**2 for m1, m2 in moments)
        # The quadrature is the mean of the Monte Carlo estimator.
        samples = G.gumbel_softmax_gradient(f, logits, temperature, N, _seeded(11))
        assert _max_z(samples, mean) < 4.5
        assert G.total_variance(samples).item() == pytest.approx(variance[temperature], rel=0.05)
    assert 42 < bias2[1.0] / bias2[0.1] < 52
    assert 23 < variance[0.1] / variance[1.0] < 28


def test_rebar_and_relax_are_unbiased():
    f, logits = G.chapter_bernoulli_problem()
    exact = G.exact_bernoulli_gradient(f, logits)
    for temperature in (0.1, 1.0):
        g, h, score = G.rebar_terms(f, logits, temperature, N, _seeded(4))
        assert _max_z(g - h, exact) < 4.5  # eta = 1
        assert _max_z(h, torch.zeros(10)) < 4.5
        assert _max_z(g - 0.3 * h - 0.8 * score, exact) < 4.5
    torch.manual_seed(5)
    untrained = G.RelaxSurrogate(f, 10)
    torch.nn.init.normal_(untrained.residual[-1].weight)  # some arbitrary, non-zero surrogate
    samples = G.relax_gradient(f, logits, untrained, N, _seeded(6)).detach()
    assert _max_z(samples, exact) < 4.5


def test_for_one_bit_rebar_control_variate_is_on_average_the_baseline_f_of_one_half():
    """E[h | b] = f(1/2) (b - theta) (derived for small temperatures), so eta* h barely helps
    when f(1/2) is small: with t = 0.45, f(1/2) = 0.0025."""
    logits = torch.tensor([LOGIT], dtype=torch.float64)
    theta = torch.sigmoid(logits).item()
    for target in (0.2, TARGET):
        f = G.squared_distance_objective(torch.tensor([target], dtype=torch.float64))
        g, h, score = G.rebar_terms(f, logits, 0.1, 200_000, _seeded(10))
        for bit, s_b in [(True, 1 - theta), (False, -theta)]:
            rows = (score[:, 0] > 0) == bit
            predicted = (0.5 - target) ** 2 * s_b
            se = h[rows, 0].std().item() / math.sqrt(rows.sum().item())
            assert abs(h[rows, 0].mean().item() - predicted) < 4.5 * se
    eta = G.optimal_coefficient(g, h)
    assert (g - eta * h).var().item() > 0.99 * g.var().item()


def test_a_single_bit_needs_only_a_constant_baseline():
    f = G.squared_distance_objective(torch.tensor([TARGET], dtype=torch.float64))
    logits = torch.tensor([LOGIT], dtype=torch.float64)
    baseline = G.bernoulli_optimal_baseline(f, logits, 1000, _seeded(7))
    samples = G.bernoulli_score_function(f, logits, 1000, _seeded(8), baseline)
    assert samples.var().item() < 1e-20


def test_variance_ordering_on_ten_bits():
    f, logits = G.chapter_bernoulli_problem()
    exact = G.exact_bernoulli_gradient(f, logits)
    generator = _seeded(9)
    v = {}
    v["score"] = G.total_variance(G.bernoulli_score_function(f, logits, N, generator))
    baseline = G.bernoulli_optimal_baseline(f, logits, N, generator)
    v["score, baseline"] = G.total_variance(G.bernoulli_score_function(f, logits, N, generator, baseline))
    g, h, score = G.rebar_terms(f, logits, 0.5, N, generator)
    eta = G.optimal_coefficient(g, h)
    both = G.optimal_coefficients(g, torch.stack([h, score], dim=-1))
    g, h, score = G.rebar_terms(f, logits, 0.5, N, generator)
    v["rebar"] = G.total_variance(g - eta * h)
    v["rebar, baseline"] = G.total_variance(g - both[:, 0] * h - both[:, 1] * score)
    surrogate = G.train_relax_surrogate(f, logits, 300, 256, generator)
    relax = G.relax_gradient(f, logits, surrogate, N, generator).detach()
    assert _max_z(relax, exact) < 4.5
    v["relax"] = G.total_variance(relax)
    assert v["score"] > 10 * v["score, baseline"]
    assert 0.7 < v["rebar"] / v["score, baseline"] < 1.3
    assert v["rebar, baseline"] < 0.6 * v["score, baseline"]
    assert v["relax"] < v["rebar, baseline"]

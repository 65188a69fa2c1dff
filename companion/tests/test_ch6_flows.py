"""Chapter 6, normalizing flows: log-determinants, invertibility and normalization.

Everything runs in float64, so that analytic log-determinants can be compared with
autograd's Jacobians to ~1e-10 and grid integrals are limited by the grid, not by rounding.
"""
import math

import pytest
import torch

from vaeriants import flows as fl

F64 = torch.float64


def _randomize(module, scale, seed):
    """Move every parameter away from its (near-identity) initial value."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(scale * torch.randn(p.shape, generator=generator))
    return module


def _autograd_log_abs_det(f, x):
    """log|det J_f(x)| for each row of x, from autograd's full Jacobian."""
    jacobians = torch.stack([torch.autograd.functional.jacobian(lambda v: f(v[None])[0][0], xi) for xi in x])
    return torch.linalg.slogdet(jacobians)[1], jacobians


LAYERS = {
    "cholesky": lambda: fl.AffineCholesky(3),
    "planar": lambda: fl.PlanarFlow(3, init_scale=1.0, generator=torch.Generator().manual_seed(3)),
    "affine_autoregressive": lambda: fl.AffineAutoregressive(3, hidden=16),
    "sigmoidal_autoregressive": lambda: fl.SigmoidalAutoregressive(3, hidden=16, n_sigmoids=4),
}


def _random_layer_and_inputs(name, layer_seed, n):
    """A layer of LAYERS with random weights (so no test passes by a zero initialization) and n
    random inputs, both seeded."""
    torch.manual_seed(0)
    layer = _randomize(LAYERS[name]().double(), 0.5, seed=layer_seed)
    x = torch.randn(n, 3, generator=torch.Generator().manual_seed(layer_seed + 1), dtype=F64)
    return layer, x


@pytest.mark.parametrize("name", LAYERS)
def test_log_det_matches_autograd_jacobian(name):
    layer, x = _random_layer_and_inputs(name, layer_seed=1, n=20)
    _, log_det = layer(x)
    expected, _ = _autograd_log_abs_det(layer, x)
    assert torch.allclose(log_det, expected, atol=1e-10)


@pytest.mark.parametrize("name", ["affine_autoregressive", "sigmoidal_autoregressive"])
def test_autoregressive_jacobian_is_triangular_with_positive_diagonal(name):
    layer, x = _random_layer_and_inputs(name, layer_seed=4, n=20)
    _, jacobians = _autograd_log_abs_det(layer, x)
    upper = torch.triu(jacobians, diagonal=1)
    assert upper.abs().max() == 0.0  # y_i never depends on x_j, j > i
    assert (torch.diagonal(jacobians, dim1=-2, dim2=-1) > 0).all()  # each y_i increases in x_i


def test_stacked_flow_log_det_matches_autograd():
    flow = _randomize(fl.autoregressive_flow(3, 3, hidden=16, seed=0).double(), 0.3, seed=6)
    x = torch.randn(10, 3, generator=torch.Generator().manual_seed(7), dtype=F64)
    _, log_det = flow.transform(x)
    expected, _ = _autograd_log_abs_det(flow.transform, x)
    assert torch.allclose(log_det, expected, atol=1e-10)


@pytest.mark.parametrize("name", LAYERS)
def test_inverse_undoes_forward(name):
    layer, x = _random_layer_and_inputs(name, layer_seed=8, n=50)
    y, _ = layer(x)
    assert torch.allclose(layer.inverse(y), x, atol=1e-8)


def test_cholesky_layer_is_an_affine_autoregressive_layer():
    """With mu_i affine in z_<i and sigma_i constant, an autoregressive layer is z -> mu + L z:
    its Jacobian is the same lower-triangular L with a positive diagonal at every point, and
    N(0, I) pushed through it has covariance L L^T."""
    layer = _randomize(fl.AffineCholesky(3).double(), 0.5, seed=17)
    L = layer.cholesky_factor()
    x = torch.randn(5, 3, generator=torch.Generator().manual_seed(18), dtype=F64)
    _, jacobians = _autograd_log_abs_det(layer, x)
    assert torch.allclose(jacobians, L.expand(5, 3, 3), atol=1e-12)
    assert torch.equal(torch.triu(L, diagonal=1), torch.zeros_like(L))
    assert (torch.diagonal(L) > 0).all()
    flow = fl.FlowDistribution(3, [layer])
    with torch.no_grad():
        samples, _ = flow.sample(200000, generator=torch.Generator().manual_seed(19))
    # Sample covariance of 200,000 draws: entries of L L^T here are O(1), their MC error ~0.01.
    assert torch.allclose(torch.cov(samples.T), L @ L.T, atol=0.05)


# ----------------------------------------------------------------------------- planar invertibility


def test_planar_constraint_holds_for_any_free_parameters():
    """w^T u_hat > -1 whatever u and w are, hence det = 1 + h' w^T u_hat > 0 everywhere."""
    generator = torch.Generator().manual_seed(10)
    for _ in range(200):
        layer = fl.PlanarFlow(2, init_scale=3.0, generator=generator).double()
        with torch.no_grad():
            layer.b.fill_(float(torch.randn((), generator=generator)))
        assert float(layer.w @ layer.u_hat()) > -1.0
        z = 4.0 * torch.randn(500, 2, generator=generator, dtype=F64)
        pre = z @ layer.w + layer.b
        det = 1.0 + (1.0 - torch.tanh(pre) ** 2) * (layer.w @ layer.u_hat())
        assert (det > 0).all()


def test_planar_worked_example():
    """w = (1, 0), u = (-2, 0), b = 0: the text's numbers, with and without the constraint."""
    layer = fl.PlanarFlow(2).double()
    with torch.no_grad():
        layer.w.copy_(torch.tensor([1.0, 0.0]))
        layer.u.copy_(torch.tensor([-2.0, 0.0]))
        layer.b.zero_()
    u_hat = layer.u_hat()
    assert float(u_hat[0]) == pytest.approx(-1.0 + math.log1p(math.exp(-2.0)), abs=1e-12)  # -0.8731
    _, log_det = layer(torch.zeros(1, 2, dtype=F64))
    assert float(log_det.exp()) == pytest.approx(math.log1p(math.exp(-2.0)), abs=1e-12)  # 0.1269

    # Unconstrained, y_1 = z_1 - 2 tanh(z_1) has zeros at 0 and at +-1.915: the map folds,
    # and two different points land on the origin.
    raw = fl.PlanarFlow(2, enforce_invertibility=False).double()
    raw.load_state_dict(layer.state_dict())
    lo, hi = torch.tensor(1.0, dtype=F64), torch.tensor(3.0, dtype=F64)
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if mid - 2 * torch.tanh(mid) < 0 else (lo, mid)
    second_root = torch.stack([0.5 * (lo + hi), torch.tensor(0.0, dtype=F64)])[None]
    image_a, _ = raw(torch.zeros(1, 2, dtype=F64))
    image_b, _ = raw(second_root)
    assert float(second_root[0, 0]) == pytest.approx(1.915, abs=1e-3)
    assert torch.allclose(image_a, image_b, atol=1e-10)
    assert float(1.0 + (raw.w @ raw.u)) == pytest.approx(-1.0)  # det at 0 is negative


# ----------------------------------------------------------------------------- normalization


def _grid_integral(log_density, limit, n):
    points, cell = fl.grid_2d(limit, n)
    with torch.no_grad():
        return float(log_density(points).exp().sum() * cell)


FLOWS_2D = {
    "cholesky": lambda: _randomize(fl.gaussian_flow(2).double(), 0.3, seed=11),
    "planar": lambda: _randomize(fl.planar_flow(2, 8, seed=0).double(), 0.5, seed=12),
    "affine_autoregressive": lambda: _randomize(fl.autoregressive_flow(2, 3, hidden=16, seed=0).double(), 0.1, seed=13),
    "sigmoidal_autoregressive": lambda: _randomize(
        fl.autoregressive_flow(2, 2, fl.SigmoidalAutoregressive, hidden=16, n_sigmoids=4, seed=0).double(), 0.2, seed=14),
}


@pytest.mark.parametrize("name", FLOWS_2D)
def test_flow_density_integrates_to_one(name):
    """The change-of-variables density integrates to 1; without the log-det it does not.

    Tolerance 1e-4: the grid (spacing 0.1 on [-7, 7]^2) integrates these smooth densities
    to ~1e-5, and none of 20,000 samples leaves the box, so the mass outside it is small.
    """
    flow = FLOWS_2D[name]()
    with torch.no_grad():
        samples, _ = flow.sample(20000, generator=torch.Generator().manual_seed(15))
    assert not (samples.abs() > 7.0).any()
    assert _grid_integral(flow.log_prob, 7.0, 141) == pytest.approx(1.0, abs=1e-4)

    def without_log_det(y):  # the base density at f^{-1}(y), volume change ignored
        return fl.log_standard_normal(flow.inverse(y))

    assert abs(_grid_integral(without_log_det, 7.0, 141) - 1.0) > 0.02


def test_sample_log_density_equals_log_prob_of_the_sample():
    """What the ELBO uses (log q of a draw) equals the density evaluated by inversion."""
    flow = FLOWS_2D["sigmoidal_autoregressive"]()
    with torch.no_grad():
        y, log_q = flow.sample(200, generator=torch.Generator().manual_seed(16))
        assert torch.allclose(flow.log_prob(y), log_q, atol=1e-7)


# ----------------------------------------------------------------------------- fitting claims


def test_banana_normalizer_matches_the_grid():
    assert fl.log_normalizer_on_grid(fl.banana_log_density, 12.0, 801) == pytest.approx(
        fl.banana_log_normalizer(), abs=1e-4)


def test_flow_beats_the_best_gaussian_on_the_banana():
    """The figure's claim in miniature: a short reverse-KL fit of an autoregressive flow
    ends far below the KL that a full-covariance Gaussian reaches on the banana."""
    log_z = fl.banana_log_normalizer()
    results = {}
    for name, flow in [("gaussian", fl.gaussian_flow(2)), ("flow", fl.autoregressive_flow(2, 4, hidden=32, seed=0))]:
        fl.fit_reverse_kl(flow, fl.banana_log_density, steps=400, batch_size=128, seed=0)
        with torch.no_grad():
            elbo = fl.reverse_kl_elbo(flow, fl.banana_log_density, 20000, torch.Generator().manual_seed(1))
        results[name] = log_z - float(elbo)
    # The MC standard error of each KL estimate from 20,000 draws is below 0.01 nats.
    assert results["gaussian"] > 0.5
    assert results["flow"] < 0.5 * results["gaussian"]


def test_reverse_kl_gaussian_stalls_at_the_symmetric_point_of_the_two_arcs():
    """The figure's Gaussian is the best of several starts because of this: started at the
    origin, the centre of symmetry of the two arcs, the mean gets no systematic gradient and
    the fit stays a broad blob with a large KL; started off-centre it settles on one arc,
    with a KL near log 2 (the price of missing one of two equal, separated modes)."""
    log_z = fl.log_normalizer_on_grid(fl.two_arcs_log_density, 6.0, 601)
    kl = {}
    for name, mean_scale in [("centred", 0.0), ("off-centre", 1.0)]:
        flow = fl.gaussian_flow(2, seed=0, mean_scale=mean_scale)
        fl.fit_reverse_kl(flow, fl.two_arcs_log_density, steps=1000, batch_size=128, seed=0)
        with torch.no_grad():
            elbo = fl.reverse_kl_elbo(flow, fl.two_arcs_log_density, 20000, torch.Generator().manual_seed(1))
        kl[name] = log_z - float(elbo)
    assert kl["centred"] > 2.5
    assert math.log(2) < kl["off-centre"] < 1.2

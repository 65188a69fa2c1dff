"""Chapter 2: stochastic VI on a Bayesian Gaussian mixture (global means, local assignments)."""
import torch

from vaeriants.vi import (DTYPE, GaussianMixture, cavi_mixture, initial_means, isotropic_log_normalizer,
                          mean_to_natural, mixture_data, natural_to_mean, robbins_monro_steps, svi_mixture)

MEANS = [[-4.0, 0.0], [0.0, 3.0], [4.0, -1.0]]


def small_model(num_points=3000, seed=0):
    g = torch.Generator().manual_seed(seed)
    return GaussianMixture(mixture_data(num_points, MEANS, g), 3, prior_var=25.0), g


def test_natural_gradient_is_the_cavi_target_minus_the_current_parameter():
    # grad_lam L = Hess A(lam) (E[eta_g] - lam), and the Fisher information of q(beta | lam) is
    # Hess A(lam), so F^{-1} grad_lam L = E[eta_g] - lam. Checked with autograd for any phi.
    model, g = small_model()
    phi = torch.distributions.Dirichlet(torch.ones(3, dtype=DTYPE)).sample((model.n,))
    m, s2 = initial_means(model, g)
    lam = mean_to_natural(m, s2).requires_grad_(True)
    model.elbo(*natural_to_mean(lam), phi).backward()
    fisher = torch.autograd.functional.hessian(lambda l: isotropic_log_normalizer(l).sum(), lam.detach())
    target = model.natural_target(phi)
    for k in range(3):
        natural_gradient = torch.linalg.solve(fisher[k, :, k, :], lam.grad[k])
        assert torch.allclose(natural_gradient, target[k] - lam.detach()[k], rtol=1e-8, atol=1e-8)
        # ...while the ordinary gradient points elsewhere: the geometry matters.
        cosine = torch.nn.functional.cosine_similarity(lam.grad[k], target[k] - lam.detach()[k], dim=0)
        assert cosine < 0.999


def test_a_unit_natural_gradient_step_is_the_cavi_update():
    model, g = small_model()
    m, s2 = initial_means(model, g)
    phi = model.local_step(m, s2)
    lam = mean_to_natural(m, s2)
    stepped = lam + 1.0 * (model.natural_target(phi) - lam)
    cavi_m, cavi_s2, _ = cavi_mixture(model, m, s2, 1)
    m1, s21 = natural_to_mean(stepped)
    assert torch.allclose(m1, cavi_m) and torch.allclose(s21, cavi_s2)


def test_minibatch_intermediate_parameters_are_unbiased():
    # Averaged over every minibatch of one point, lam_hat = prior + N * stats(x_i) is the full target.
    model, g = small_model(num_points=500)
    m, s2 = initial_means(model, g)
    phi = model.local_step(m, s2)  # (N, K)
    per_point = torch.stack([model.natural_target(phi[i:i + 1], model.x[i:i + 1], scale=model.n)
                             for i in range(model.n)])
    assert torch.allclose(per_point.mean(0), model.natural_target(phi), rtol=1e-10, atol=1e-10)


def test_robbins_monro_steps_satisfy_both_conditions_for_kappa_in_range():
    steps = robbins_monro_steps(1_000_000, delay=1.0, forget=0.75)
    partial = torch.cumsum(steps, 0)
    assert partial[-1] > 2 * partial[9_999]  # the sum keeps growing (like t^(1/4))
    squares = torch.cumsum(steps**2, 0)
    assert squares[-1] - squares[99_999] < 0.01  # the sum of squares has converged


def test_svi_reaches_the_cavi_optimum():
    model, g = small_model(num_points=5000, seed=1)
    m0, s20 = initial_means(model, g)
    _, _, elbos = cavi_mixture(model, m0, s20, 30)
    best = float(elbos.max()) / model.n
    steps = robbins_monro_steps(3000, delay=1.0, forget=1.0)
    m, s2, _ = svi_mixture(model, m0, s20, 10, steps, torch.Generator().manual_seed(2))
    svi = float(model.elbo_at_optimal_phi(m, s2)) / model.n
    assert best - 1e-3 < svi <= best + 1e-9

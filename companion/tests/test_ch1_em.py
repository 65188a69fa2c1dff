"""Chapter 1 (Background): every identity, bound and number of the text, checked numerically.

Deterministic checks use tolerances of rounding error in float64 (relative 1e-9 or so) or of
central finite differences (error O(h^2) with h = 1e-5, about 1e-6 relative); Monte Carlo
checks use four standard errors estimated from the same samples.
"""
import numpy as np
import pytest
import torch
from scipy.special import softmax

from vaeriants import em
from vaeriants import factor_analysis as fa
from vaeriants.distributions import LOG_2PI, kl_full_normals, log_bernoulli
from vaeriants.figures import ch1_em_gmm as figure

SEEDS = range(6)


@pytest.fixture(scope="module")
def mixture_data():
    return figure.make_data(seed=0)  # (450, 2), the figure's data set


def random_params(x, n_components, seed):
    """Random but sensible mixture parameters: data points as means, random SPD covariances."""
    rng = np.random.default_rng(seed)
    init = em.random_init(x, n_components, seed)
    a = rng.standard_normal((n_components, 2, 2))
    covs = np.einsum("kij,klj->kil", a, a) + 0.3 * np.eye(2)
    return em.GMMParams(rng.dirichlet(np.ones(n_components)), init.means, covs)


def tolerance(value):
    return 1e-9 * max(1.0, abs(value))


# ----------------------------------------------------------------------------------------------
# Section "Latent variable models": marginal by integration, posterior by Bayes' rule
# ----------------------------------------------------------------------------------------------

def test_marginal_likelihood_is_the_prior_average_of_the_likelihood():
    """p(x) = int p(x|z) p(z) dz: a Monte Carlo average over prior draws matches N(b, WW^T + Psi)."""
    params = fa.random_params(d=4, m=2, seed=0)
    x = fa.sample(1, params, seed=1)  # (1, 4)
    rng = np.random.default_rng(2)
    z = rng.standard_normal((200_000, 2))
    mean = z @ params.loadings.T + params.offset  # (S, d)
    log_lik = -0.5 * (LOG_2PI + np.log(params.noise) + (x - mean) ** 2 / params.noise).sum(1)
    ratio = np.exp(log_lik - fa.log_likelihood(x, params))  # p(x|z) / p(x), mean 1 if exact
    assert abs(ratio.mean() - 1.0) < 4.0 * ratio.std() / np.sqrt(ratio.size)


def test_posterior_by_bayes_rule_matches_closed_form():
    """Weighting prior draws by p(x|z) (Bayes' rule) gives the closed-form posterior mean."""
    params = fa.random_params(d=4, m=2, seed=3)
    x = fa.sample(1, params, seed=4)
    post_mean, post_cov = fa.posterior(x, params)
    rng = np.random.default_rng(5)
    z = rng.standard_normal((400_000, 2))
    mean = z @ params.loadings.T + params.offset
    log_w = -0.5 * ((x - mean) ** 2 / params.noise).sum(1)
    w = np.exp(log_w - log_w.max())
    w /= w.sum()
    estimate = w @ z  # self-normalized importance sampling with the prior as proposal
    # Its standard error is about sqrt(Var_post(z) / ESS), ESS the effective sample size.
    ess = 1.0 / (w**2).sum()
    assert np.all(np.abs(estimate - post_mean[0]) < 4.0 * np.sqrt(np.diag(post_cov) / ess))


@pytest.mark.parametrize("seed", SEEDS)
def test_fa_posterior_is_gaussian_conditioning_and_narrower_than_the_prior(seed):
    """(1.8) equals conditioning the joint Gaussian of (z, x) on x; and I - G is PSD.

    (z, x) is Gaussian with Cov[z] = I, Cov[x, z] = W, Cov[x] = C = WW^T + Psi, so
    p(z | x) = N(W^T C^{-1} (x - b), I - W^T C^{-1} W): the textbook formula, derived
    differently from the completed square of the text. Both are exact; rounding tolerance.
    """
    params = fa.random_params(d=5, m=3, seed=seed)
    x = fa.sample(7, params, seed=seed + 1)
    post_means, post_cov = fa.posterior(x, params)
    gain = np.linalg.solve(params.marginal_cov, params.loadings).T  # W^T C^{-1}, (m, d)
    np.testing.assert_allclose(post_means, (x - params.offset) @ gain.T, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(post_cov, np.eye(3) - gain @ params.loadings, rtol=1e-9, atol=1e-12)
    assert np.all(np.linalg.eigvalsh(np.eye(3) - post_cov) > -1e-12)  # G <= I
    assert np.all(np.linalg.eigvalsh(post_cov) < 1.0)


def test_latent_symmetries_leave_the_marginal_unchanged(mixture_data):
    """W -> WR (R orthogonal) leaves the FA marginal unchanged; so does relabelling a mixture."""
    params = fa.random_params(d=6, m=3, seed=0)
    x = fa.sample(50, params, seed=1)
    rotation, _ = np.linalg.qr(np.random.default_rng(2).standard_normal((3, 3)))
    rotated = fa.FAParams(params.loadings @ rotation, params.offset, params.noise)
    assert not np.allclose(rotated.loadings, params.loadings)  # a real change of loadings
    log_lik = fa.log_likelihood(x, params)
    assert abs(fa.log_likelihood(x, rotated) - log_lik) < tolerance(log_lik)

    gmm = random_params(mixture_data, 3, seed=0)
    order = np.array([2, 0, 1])
    relabelled = em.GMMParams(gmm.weights[order], gmm.means[order], gmm.covs[order])
    log_lik = em.log_likelihood(mixture_data, gmm)
    assert abs(em.log_likelihood(mixture_data, relabelled) - log_lik) < tolerance(log_lik)


# ----------------------------------------------------------------------------------------------
# Section "Maximum likelihood principle recap"
# ----------------------------------------------------------------------------------------------

def test_expected_log_likelihood_is_minus_entropy_minus_kl():
    """E_{p_D} log p_theta(x) = -H(p_D) - KL(p_D || p_theta), with p_D and p_theta Gaussians."""
    mean_d, cov_d = np.array([1.0, -0.5]), np.array([[1.0, 0.6], [0.6, 0.8]])
    model = em.GMMParams(np.ones(1), np.array([[0.3, 0.4]]), np.array([[[2.0, -0.3], [-0.3, 0.5]]]))
    samples = np.random.default_rng(0).multivariate_normal(mean_d, cov_d, size=200_000)
    log_p = em.log_gaussian(samples, model.means[0], model.covs[0])  # (S,)
    entropy = 0.5 * (2 * (1.0 + LOG_2PI) + np.linalg.slogdet(cov_d)[1])
    kl = kl_full_normals(*(torch.tensor(a) for a in (mean_d, cov_d, model.means[0], model.covs[0]))).item()
    assert abs(log_p.mean() - (-entropy - kl)) < 4.0 * log_p.std() / np.sqrt(log_p.size)


def test_cross_entropy_identity_is_exact_for_discrete_data():
    """(1.10) exactly, and each step of (1.11), with p_D the empirical pmf of binary data.

    Model: independent Bernoulli coordinates (the decoder family of the text, with z dropped).
    The average of log p_theta over the data equals -H(p_D) - KL(p_D || p_theta) to rounding;
    the sum of p_theta over the support of p_D is below one, so the last step of (1.11) is strict.
    """
    rng = np.random.default_rng(0)
    data = (rng.random((40, 3)) < np.array([0.2, 0.5, 0.7])).astype(float)  # (N, d), 8 possible values
    logits = torch.tensor([0.3, -0.4, 1.1], dtype=torch.float64)
    log_p = log_bernoulli(torch.tensor(data), logits).numpy()  # (N,)
    values, counts = np.unique(data, axis=0, return_counts=True)
    p_d = counts / counts.sum()
    log_p_values = log_bernoulli(torch.tensor(values), logits).numpy()
    entropy = -(p_d * np.log(p_d)).sum()
    kl = (p_d * (np.log(p_d) - log_p_values)).sum()
    assert abs(log_p.mean() - (-entropy - kl)) < 1e-12
    jensen = np.log((p_d * np.exp(log_p_values) / p_d).sum())  # log E_{p_D}[p_theta / p_D]
    assert -kl <= jensen <= 0.0
    assert len(values) < 8 and jensen < 0.0  # 6 of the 8 values occur: the last step is strict
    assert kl > 0.0


def test_gaussian_average_log_likelihood_and_its_maximum(mixture_data):
    """(1.12) equals the direct average of log N(x; mu, Sigma), and (m, S) maximizes it."""
    x = mixture_data
    m, S = x.mean(0), np.cov(x.T, bias=True)

    def closed_form(mu, cov):  # (1.12)
        prec = np.linalg.inv(cov)
        return (-0.5 * np.linalg.slogdet(cov)[1] - 0.5 * np.trace(prec @ S)
                - 0.5 * (m - mu) @ prec @ (m - mu) - 0.5 * x.shape[1] * LOG_2PI)

    rng = np.random.default_rng(0)
    for _ in range(5):
        mu = rng.standard_normal(2)
        a = rng.standard_normal((2, 2))
        cov = a @ a.T + 0.5 * np.eye(2)
        direct = em.log_gaussian(x, mu, cov).mean()
        assert abs(closed_form(mu, cov) - direct) < tolerance(direct)
    fit = em.m_step(x, np.ones((x.shape[0], 1)))  # one component: the unweighted fit
    np.testing.assert_allclose(fit.means[0], m, rtol=1e-12)
    np.testing.assert_allclose(fit.covs[0], S, rtol=1e-10)
    best = closed_form(m, S)
    for _ in range(20):
        a = 0.1 * rng.standard_normal((2, 2))
        assert closed_form(m + 0.1 * rng.standard_normal(2), S + a @ a.T - 0.05 * np.eye(2) * rng.random()) < best


def test_fisher_identity_mixture(mixture_data):
    """The gradient of log p(x) equals the posterior average of the complete-data gradient."""
    x = mixture_data
    params = random_params(x, 3, seed=1)
    h = 1e-5
    numeric = np.zeros_like(params.means)
    for k in range(3):
        for j in range(2):
            shifted = []
            for sign in (1.0, -1.0):
                means = params.means.copy()
                means[k, j] += sign * h
                shifted.append(em.log_likelihood(x, em.GMMParams(params.weights, means, params.covs)))
            numeric[k, j] = (shifted[0] - shifted[1]) / (2 * h)
    np.testing.assert_allclose(em.fisher_gradient_means(x, params), numeric, rtol=1e-6, atol=1e-5)

    logits = np.log(params.weights)
    numeric = np.zeros(3)
    for k in range(3):
        shifted = []
        for sign in (1.0, -1.0):
            a = logits.copy()
            a[k] += sign * h
            shifted.append(em.log_likelihood(x, em.GMMParams(softmax(a), params.means, params.covs)))
        numeric[k] = (shifted[0] - shifted[1]) / (2 * h)
    np.testing.assert_allclose(em.fisher_gradient_logits(x, params), numeric, rtol=1e-6, atol=1e-5)


def test_fisher_identity_factor_analysis():
    """Same identity with a continuous latent: loadings W and log noise variances of FA."""
    x = fa.sample(300, fa.random_params(5, 2, seed=0), seed=1)
    params = fa.random_params(5, 2, seed=3)
    h = 1e-5

    def log_lik(loadings, log_noise):
        return fa.log_likelihood(x, fa.FAParams(loadings, params.offset, np.exp(log_noise)))

    numeric_w = np.zeros_like(params.loadings)
    for idx in np.ndindex(*params.loadings.shape):
        step = np.zeros_like(params.loadings)
        step[idx] = h
        log_noise = np.log(params.noise)
        numeric_w[idx] = (log_lik(params.loadings + step, log_noise) - log_lik(params.loadings - step, log_noise)) / (2 * h)
    numeric_psi = np.zeros(5)
    for j in range(5):
        step = np.zeros(5)
        step[j] = h
        log_noise = np.log(params.noise)
        numeric_psi[j] = (log_lik(params.loadings, log_noise + step) - log_lik(params.loadings, log_noise - step)) / (2 * h)
    np.testing.assert_allclose(fa.fisher_gradient_loadings(x, params), numeric_w, rtol=1e-6, atol=1e-4)
    np.testing.assert_allclose(fa.fisher_gradient_log_noise(x, params), numeric_psi, rtol=1e-6, atol=1e-4)


# ----------------------------------------------------------------------------------------------
# Section "The EM algorithm": free energy, monotonicity, the M-step, the worked example
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", SEEDS)
def test_free_energy_equals_log_likelihood_after_e_step(mixture_data, seed):
    params = random_params(mixture_data, 3, seed)
    resp = em.e_step(mixture_data, params)
    log_lik = em.log_likelihood(mixture_data, params)
    assert abs(em.free_energy(mixture_data, resp, params) - log_lik) < tolerance(log_lik)


@pytest.mark.parametrize("seed", SEEDS)
def test_free_energy_gap_is_the_posterior_kl(mixture_data, seed):
    """F(q, theta) = log p(x) - sum_n KL(q_n || p(z|x_n)) <= log p(x) for an arbitrary q."""
    params = random_params(mixture_data, 3, seed)
    q = np.random.default_rng(seed).dirichlet(np.ones(3), size=mixture_data.shape[0])  # (N, K)
    log_lik = em.log_likelihood(mixture_data, params)
    gap = em.posterior_kl(mixture_data, q, params)
    assert gap > 0.0
    assert abs(em.free_energy(mixture_data, q, params) - (log_lik - gap)) < tolerance(log_lik)


@pytest.mark.parametrize("n_components", [2, 3, 5])
@pytest.mark.parametrize("seed", SEEDS)
def test_em_never_decreases_the_log_likelihood(mixture_data, seed, n_components):
    history = em.run_em(mixture_data, em.random_init(mixture_data, n_components, seed), n_iter=60)
    steps = np.diff(history.log_likelihoods)
    assert np.all(steps >= -tolerance(history.log_likelihoods[0]))
    assert history.log_likelihoods[-1] > history.log_likelihoods[0]


@pytest.mark.parametrize("seed", SEEDS)
def test_m_step_maximizes_the_expected_complete_log_likelihood(mixture_data, seed):
    """The closed-form updates beat every nearby parameter value on Q (r held fixed)."""
    x = mixture_data
    resp = em.e_step(x, random_params(x, 3, seed))
    best = em.m_step(x, resp)
    q_best = em.expected_complete_log_likelihood(x, resp, best)
    rng = np.random.default_rng(100 + seed)
    for _ in range(20):
        a = 0.05 * rng.standard_normal((3, 2, 2))
        covs = best.covs + np.einsum("kij,klj->kil", a, a) - 0.5 * np.einsum("kij,klj->kil", a, a).mean(0)
        covs = 0.5 * (covs + np.transpose(covs, (0, 2, 1)))
        if np.any(np.linalg.eigvalsh(covs) <= 0):
            continue
        other = em.GMMParams(
            softmax(np.log(best.weights) + 0.05 * rng.standard_normal(3)),
            best.means + 0.05 * rng.standard_normal((3, 2)),
            covs,
        )
        assert em.expected_complete_log_likelihood(x, resp, other) < q_best


def test_worked_example_numbers():
    """The one-dimensional example of the text: responsibilities, one M-step, log-likelihoods."""
    x, init = em.WORKED_EXAMPLE_DATA, em.WORKED_EXAMPLE_INIT
    resp = em.e_step(x, init)
    # With equal weights and unit variances, r_n1 = sigmoid(-2 x_n).
    np.testing.assert_allclose(resp[:, 0], 1.0 / (1.0 + np.exp(2.0 * x[:, 0])), rtol=1e-12)
    np.testing.assert_allclose(resp[:, 0], [0.982, 0.881, 0.119, 0.002], atol=5e-4)
    np.testing.assert_allclose(resp.sum(0), [1.984, 2.016], atol=5e-4)
    new = em.m_step(x, resp)
    np.testing.assert_allclose(new.weights, [0.496, 0.504], atol=5e-4)
    np.testing.assert_allclose(new.means[:, 0], [-1.370, 1.845], atol=5e-4)
    # The displayed sum with the table's rounded responsibilities gives -1.371.
    r1 = np.round(resp[:, 0], 3)
    assert round(float(r1 @ x[:, 0] / np.round(resp[:, 0].sum(), 3)), 3) == -1.371
    np.testing.assert_allclose(new.covs[:, 0, 0], [0.618, 1.583], atol=5e-4)
    assert abs(em.free_energy(x, resp, init) - (-8.674)) < 5e-4
    history = em.run_em(x, init, n_iter=200, tol=1e-12)
    log_liks = np.round(history.log_likelihoods, 3)
    np.testing.assert_array_equal(log_liks[:4], [-8.674, -7.423, -7.090, -7.053])
    # "reaches -7.051 at the fifth iteration" (and stays there)
    assert log_liks[4] != -7.051 and np.all(log_liks[5:] == -7.051)

    def rounded(params):
        return np.round(np.concatenate([params.weights, params.means[:, 0], params.covs[:, 0, 0]]), 3)

    # "by the eighth the parameters have stopped changing in the third decimal, at ..."
    final = rounded(history.params[-1])
    np.testing.assert_array_equal(final, [0.497, 0.503, -1.503, 1.982, 0.250, 1.049])
    assert all(np.array_equal(rounded(p), final) for p in history.params[8:])
    assert not np.array_equal(rounded(history.params[7]), final)


def test_hard_assignments_in_the_small_variance_limit(mixture_data):
    """With every covariance eps I and eps -> 0, responsibilities become nearest-mean (k-means)."""
    x = mixture_data
    means = em.random_init(x, 3, 0).means
    params = em.GMMParams(np.full(3, 1.0 / 3.0), means, np.repeat(1e-4 * np.eye(2)[None], 3, axis=0))
    resp = em.e_step(x, params)
    nearest = np.argmin(((x[:, None, :] - means[None]) ** 2).sum(-1), axis=1)
    assert np.array_equal(resp.argmax(1), nearest)
    assert np.all(resp.max(1) > 1.0 - 1e-6)


def test_mixture_likelihood_is_unbounded(mixture_data):
    """A component shrinking onto one data point sends log p(x) to +infinity: no global maximum.

    One component covers the data, the other sits on x_0 with covariance s I. As s -> 0 every
    other term tends to a constant and the term of x_0 grows like -(d/2) log s, so each factor
    of 100 in s adds (d/2) log 100 = log 100 nats (d = 2), without bound.
    """
    x = mixture_data
    broad = (x.mean(0), np.cov(x.T, bias=True))
    log_liks = []
    for s in 10.0 ** -np.arange(6, 16, 2):
        params = em.GMMParams(np.array([0.5, 0.5]), np.stack([broad[0], x[0]]), np.stack([broad[1], s * np.eye(2)]))
        log_liks.append(em.log_likelihood(x, params))
    np.testing.assert_allclose(np.diff(log_liks), np.log(100.0), rtol=1e-6)


def test_em_fixed_point_is_a_stationary_point(mixture_data):
    """At convergence the Fisher gradient (= gradient of Q at theta_old) vanishes."""
    x = mixture_data
    history = em.run_em(x, em.random_init(x, 3, 0), n_iter=500, tol=1e-11)
    params = history.params[-1]
    grad_scale = np.abs(em.fisher_gradient_means(x, random_params(x, 3, 0))).max()
    assert np.abs(em.fisher_gradient_means(x, params)).max() < 1e-4 * grad_scale
    assert np.abs(em.fisher_gradient_logits(x, params)).max() < 1e-4 * x.shape[0]


def test_figure_claims(mixture_data):
    """Figure 1.1: monotone curve, a plateau, then a climb past the generating parameters."""
    x = mixture_data
    history = em.run_em(x, figure.poor_init(x), n_iter=figure.N_ITER)
    per_point = np.array(history.log_likelihoods) / x.shape[0]
    assert np.all(np.diff(per_point) >= -1e-12)
    assert per_point[20] - per_point[8] < 0.05  # the plateau
    assert per_point[30] - per_point[20] > 0.4  # the climb
    assert abs(per_point[0] - (-4.37)) < 5e-3 and abs(per_point[-1] - (-3.35)) < 5e-3  # alt text
    true = em.GMMParams(figure.TRUE_WEIGHTS, figure.TRUE_MEANS, figure.TRUE_COVS)
    assert per_point[-1] > em.log_likelihood(x, true) / x.shape[0]


# ----------------------------------------------------------------------------------------------
# Variants (Neal and Hinton) and EM with a continuous latent
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", SEEDS)
def test_generalized_em_never_decreases_the_log_likelihood(mixture_data, seed):
    history = em.run_generalized_em(mixture_data, em.random_init(mixture_data, 3, seed), step=0.3, n_iter=40)
    assert np.all(np.diff(history.log_likelihoods) >= -tolerance(history.log_likelihoods[0]))


@pytest.mark.parametrize("step", [0.1, 0.3, 0.7])
@pytest.mark.parametrize("seed", SEEDS)
def test_damped_m_step_satisfies_the_concavity_bound(mixture_data, seed, step):
    """(1.25): Q(mixed) >= (1 - s) Q(old) + s Q(best) >= Q(old), and Q(mixed) < Q(best) for s < 1."""
    x = mixture_data
    old = random_params(x, 3, seed)
    resp = em.e_step(x, old)
    q_old = em.expected_complete_log_likelihood(x, resp, old)
    q_best = em.expected_complete_log_likelihood(x, resp, em.m_step(x, resp))
    q_mixed = em.expected_complete_log_likelihood(x, resp, em.damped_m_step(x, resp, old, step))
    assert q_mixed >= (1.0 - step) * q_old + step * q_best - tolerance(q_old)
    assert q_old < q_mixed < q_best


@pytest.mark.parametrize("seed", SEEDS)
def test_incremental_em_never_decreases_the_free_energy(mixture_data, seed):
    _, free_energies = em.run_incremental_em(mixture_data, em.random_init(mixture_data, 3, seed),
                                             block_size=10, n_sweeps=3, seed=seed)
    assert np.all(np.diff(free_energies) >= -tolerance(free_energies[0]))


@pytest.mark.parametrize("seed", range(5))
def test_incremental_em_is_faster_per_pass_on_the_figure_data(mixture_data, seed):
    """Three sweeps with blocks of 10 points beat three batch iterations from the same start."""
    init = em.random_init(mixture_data, 3, seed)
    params, _ = em.run_incremental_em(mixture_data, init, block_size=10, n_sweeps=3, seed=seed)
    batch = em.run_em(mixture_data, init, n_iter=3)
    assert em.log_likelihood(mixture_data, params) > batch.log_likelihoods[-1]


@pytest.mark.parametrize("isotropic", [False, True], ids=["factor-analysis", "ppca"])
@pytest.mark.parametrize("seed", SEEDS)
def test_factor_analysis_em_never_decreases_the_log_likelihood(seed, isotropic):
    x = fa.sample(300, fa.random_params(6, 2, seed=seed), seed=seed + 10)
    _, log_liks = fa.run_em(x, fa.random_params(6, 2, seed=seed + 20, noise_scale=1.0), n_iter=80,
                            isotropic=isotropic)
    assert np.all(np.diff(log_liks) >= -tolerance(log_liks[0]))
    assert log_liks[-1] > log_liks[0]


@pytest.mark.parametrize("isotropic", [False, True], ids=["factor-analysis", "ppca"])
@pytest.mark.parametrize("seed", range(3))
def test_factor_analysis_em_fixed_point_is_a_stationary_point(seed, isotropic):
    """Where the updates (1.26) stop moving, the gradient of log p(x) vanishes.

    This fails for wrong updates: without G in the second bracket ("hard" EM) the noise
    collapses instead. For pPCA the free noise parameter is the shared sigma^2, so its gradient
    is the sum of the per-coordinate ones.
    """
    x = fa.sample(300, fa.random_params(6, 2, seed=seed), seed=seed + 10)
    init = fa.random_params(6, 2, seed=seed + 20, noise_scale=1.0)
    params, log_liks = fa.run_em(x, init, n_iter=2000, isotropic=isotropic)
    scale = np.abs(fa.fisher_gradient_loadings(x, fa.FAParams(init.loadings, x.mean(0), init.noise))).max()
    assert np.abs(fa.fisher_gradient_loadings(x, params)).max() < 1e-4 * scale
    noise_grad = fa.fisher_gradient_log_noise(x, params)
    if isotropic:
        assert abs(noise_grad.sum()) < 1e-4 * scale
    else:
        assert np.abs(noise_grad).max() < 1e-4 * scale

"""Chapter 6, priors: the aggregate posterior is the optimal prior; VampPrior and flow priors."""
import math

import pytest
import torch

from vaeriants import flows as fl
from vaeriants import priors as pr
from vaeriants.data import digits
from vaeriants.vae import VAEConfig, train_vae

N_DATA = 300


@pytest.fixture(scope="module")
def small_vae():
    """A small digits VAE with a 2-D latent space trained on 300 images (analytic-KL ELBO),
    rewrapped so that its prior can be swapped."""
    images, _ = digits()
    data = images[torch.randperm(len(images), generator=torch.Generator().manual_seed(0))[:N_DATA]]
    cfg = VAEConfig(latent_dim=2, hidden_dim=64, epochs=150, batch_size=50, learning_rate=3e-3)
    trained, _ = train_vae(data, cfg, seed=0)
    model = pr.VAEWithPrior(cfg, lambda encoder: pr.StandardNormalPrior(2))
    model.encoder.load_state_dict(trained.encoder.state_dict())
    model.decoder.load_state_dict(trained.decoder.state_dict())
    with torch.no_grad():
        means, logvars = model.encoder(data)
    return model, data, means, logvars


def _average_elbo(model, prior, data, n_samples, seed):
    """The model's average ELBO with `prior` swapped in; the same z draws for every prior."""
    model.prior = prior
    torch.manual_seed(seed)  # common random numbers: only log p(z) differs between priors
    with torch.no_grad():
        return float(model.elbo(data.repeat(n_samples, 1)).mean())


def test_aggregate_posterior_maximizes_the_average_elbo(small_vae):
    """For a fixed encoder and decoder, swapping in q(z) beats every other prior, and the
    margin is KL(q(z) || p(z)), estimated independently from draws of q(z) itself."""
    model, data, means, logvars = small_vae
    aggregate = pr.AggregatePosterior(means, logvars)
    moment_matched = pr.MixturePrior(2, 1)
    with torch.no_grad():
        z = aggregate.sample(50000, generator=torch.Generator().manual_seed(1))
        moment_matched.means.copy_(z.mean(0, keepdim=True))
        moment_matched.logvars.copy_(z.var(0, keepdim=True).log())
    alternatives = {
        "standard normal": pr.StandardNormalPrior(2),
        "moment-matched Gaussian": moment_matched,
        "random 5-component mixture": pr.MixturePrior(2, 5, seed=2),
        "VampPrior on 10 training images": pr.VampPrior(model.encoder, data[:10]),
    }
    best = _average_elbo(model, aggregate, data, 100, seed=3)
    for name, prior in alternatives.items():
        margin = best - _average_elbo(model, prior, data, 100, seed=3)
        with torch.no_grad():
            z = aggregate.sample(20000, generator=torch.Generator().manual_seed(4))
            terms = aggregate.log_prob(z) - prior.log_prob(z)
        kl, standard_error = float(terms.mean()), float(terms.std()) / math.sqrt(len(terms))
        assert margin > 0, name
        # The margin is itself a KL estimate from 30,000 draws, so its MC error is at most
        # about that of the 20,000-draw estimate: 5 combined standard errors.
        assert margin == pytest.approx(kl, abs=5 * 2 * standard_error), name


def test_fitting_a_prior_by_the_elbo_is_fitting_it_to_the_aggregate_posterior(small_vae):
    """Gradient ascent on the average ELBO over the prior's parameters alone lowers
    KL(q(z) || p) toward zero: the prior is being fitted, by maximum likelihood, to q(z)."""
    model, data, means, logvars = small_vae
    prior = pr.MixturePrior(2, 8, spread=2.0, seed=5)

    def kl_to_prior():
        return pr.marginal_kl_to_prior(means, logvars, prior, 50000, torch.Generator().manual_seed(7))

    before = kl_to_prior()
    optimizer = torch.optim.Adam(prior.parameters(), lr=0.05)
    for _ in range(300):
        model.prior = prior
        loss = -model.elbo(data).mean()  # only the prior's parameters are stepped
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    after = kl_to_prior()
    assert before > 1.0
    assert after < 0.1 * before
    assert after > -0.01  # a KL; its MC error here is below 0.01


def test_vampprior_on_the_training_inputs_is_the_aggregate_posterior(small_vae):
    model, data, means, logvars = small_vae
    vamp = pr.VampPrior(model.encoder, data)
    z = 2.0 * torch.randn(500, 2, generator=torch.Generator().manual_seed(8))
    with torch.no_grad():
        assert torch.allclose(vamp.log_prob(z), pr.aggregate_posterior_log_prob(z, means, logvars), atol=1e-5)


def test_vampprior_density_integrates_to_one(small_vae):
    model, data, means, logvars = small_vae
    vamp = pr.VampPrior(model.encoder, data[:10])
    with torch.no_grad():
        component_means, component_logvars = vamp.components()
    # The grid (spacing 0.025) must resolve the narrowest component and contain them all.
    assert float((0.5 * component_logvars).exp().min()) > 0.1
    assert float(component_means.abs().max()) < 4.0
    points, cell = fl.grid_2d(8.0, 641)
    with torch.no_grad():
        total = float(vamp.log_prob(points.float()).double().exp().sum() * cell)
    assert total == pytest.approx(1.0, abs=1e-3)


# ----------------------------------------------------------------------------- flow priors


def test_flow_prior_integrates_to_one():
    flow = fl.autoregressive_flow(2, 3, hidden=16, seed=0).double()
    with torch.no_grad():
        for p in flow.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=torch.Generator().manual_seed(9)))
    prior = pr.FlowPrior(flow)
    points, cell = fl.grid_2d(9.0, 361)
    with torch.no_grad():
        assert float(prior.log_prob(points).exp().sum() * cell) == pytest.approx(1.0, abs=1e-3)


def test_flow_prior_kl_equals_flow_posterior_kl():
    """KL(q || g^{-1}_# N(0, I)) = KL(g_# q || N(0, I)) point by point (Chen et al., 2017):
    an autoregressive-flow prior is the same objective as a flow on the posterior."""
    g = fl.autoregressive_flow(2, 2, hidden=16, seed=1).double()
    with torch.no_grad():
        for p in g.parameters():
            p.add_(0.2 * torch.randn(p.shape, generator=torch.Generator().manual_seed(10)))
    gaussian = fl.gaussian_flow(2).double()
    with torch.no_grad():
        gaussian.layers[0].mu.copy_(torch.tensor([0.5, -1.0]))
        gaussian.layers[0].log_diag.copy_(torch.tensor([-0.3, 0.2]))
        gaussian.layers[0].off_diag.copy_(torch.tensor([[0.0, 0.0], [0.4, 0.0]]))
        z, log_q = gaussian.sample(1000, generator=torch.Generator().manual_seed(11))
        log_ratio_prior_side = log_q - pr.FlowPrior(g).log_prob(z)
        # The same q pushed through g: a flow posterior, evaluated by inverting both layers.
        pushed = fl.FlowDistribution(2, list(gaussian.layers) + list(g.layers))
        eps, _ = g.transform(z)
        log_ratio_posterior_side = pushed.log_prob(eps) - fl.log_standard_normal(eps)
    assert torch.allclose(log_ratio_prior_side, log_ratio_posterior_side, atol=1e-8)
    assert float(log_ratio_prior_side.mean()) > 0.1  # a genuine, nonzero KL

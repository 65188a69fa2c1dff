"""Chapter 8: gradients of the importance-weighted bound: IWAE, DReG, the SNR result."""
import pytest
import torch

from vaeriants import gradients as G


@pytest.fixture(scope="module")
def problem():
    model = G.chapter_linear_gaussian()
    mean, log_std = G.iwae_example_q(model)
    return model, mean, log_std


def _seeded(seed):
    return torch.Generator().manual_seed(seed)


def test_with_one_sample_iwae_is_the_pathwise_elbo_gradient_and_dreg_is_stl(problem):
    model, mean, log_std = problem
    _, iwae = G.iwae_gradients(model, mean, log_std, 1, 500, _seeded(0), "iwae")
    _, dreg = G.iwae_gradients(model, mean, log_std, 1, 500, _seeded(0), "dreg")
    assert torch.allclose(iwae, G.elbo_pathwise(model, mean, log_std, 500, _seeded(0)), atol=1e-10)
    assert torch.allclose(dreg, G.elbo_sticking_the_landing(model, mean, log_std, 500, _seeded(0)), atol=1e-10)


def _difference_in_se(a, b):
    se = torch.sqrt(G.standard_error(a) ** 2 + G.standard_error(b) ** 2)
    return ((a.mean(0) - b.mean(0)).abs() / se).max().item()


def test_dreg_is_unbiased_and_iwae_stl_is_biased(problem):
    model, mean, log_std = problem
    K, n = 8, 20000
    decoder, iwae = G.iwae_gradients(model, mean, log_std, K, n, _seeded(1), "iwae")
    decoder_dreg, dreg = G.iwae_gradients(model, mean, log_std, K, n, _seeded(2), "dreg")
    _, stl = G.iwae_gradients(model, mean, log_std, K, n, _seeded(3), "stl")
    assert _difference_in_se(iwae, dreg) < 4.5
    assert _difference_in_se(decoder, decoder_dreg) < 4.5
    assert _difference_in_se(stl, dreg) > 20
    # And DReG is the less noisy of the two unbiased encoder estimators.
    assert G.total_variance(dreg) < 0.5 * G.total_variance(iwae)


def test_signal_to_noise_ratios_scale_with_k(problem):
    """Encoder SNR ~ K^(-1/2) for IWAE; decoder SNR ~ K^(1/2); DReG's encoder SNR grows."""
    model, mean, log_std = problem
    d, n = mean.shape[-1], 1500
    snr = {}
    for K in (16, 256):
        decoder, iwae = G.iwae_gradients(model, mean, log_std, K, n, _seeded(K), "iwae")
        _, dreg = G.iwae_gradients(model, mean, log_std, K, n, _seeded(K + 1), "dreg")
        signal = dreg[:, :d].mean(0).abs()  # the expectation shared by both encoder estimators
        snr[K] = {
            "encoder, iwae": (signal / iwae[:, :d].std(0)).mean().item(),
            "encoder, dreg": (signal / dreg[:, :d].std(0)).mean().item(),
            "decoder": G.signal_to_noise(decoder).mean().item(),
        }
    ratio = {key: snr[256][key] / snr[16][key] for key in snr[16]}
    assert 0.15 < ratio["encoder, iwae"] < 0.35  # (256 / 16)^(-1/2) = 0.25
    assert 3.0 < ratio["decoder"] < 5.5  # (256 / 16)^(1/2) = 4
    assert ratio["encoder, dreg"] > 1.5


def test_expected_encoder_gradient_shrinks_like_one_over_k(problem):
    model, mean, log_std = problem
    d = mean.shape[-1]
    scaled = []
    for K in (64, 256):
        _, dreg = G.iwae_gradients(model, mean, log_std, K, 3000, _seeded(10 + K), "dreg")
        scaled.append(K * dreg[:, :d].mean(0))
    assert torch.allclose(scaled[0], scaled[1], rtol=0.15)

"""Chapter 4's PyTorch listing is the companion's `vaeriants/vae.py`, verbatim, and it runs.

Every other Python block of the chapter must also be a verbatim excerpt of a companion module,
so that no code the reader sees is untested.
"""
import contextlib
import io
import pathlib
import re
import types

import pytest
import torch

from vaeriants import vae

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
CHAPTER = REPO_ROOT / "chapters" / "04-autoencoders.md"
VAE_SOURCE = pathlib.Path(vae.__file__).read_text()


def python_blocks():
    """The bodies of the chapter's ```python fenced blocks, in order."""
    return re.findall(r"^```python\n(.*?)^```$", CHAPTER.read_text(), flags=re.S | re.M)


def test_listing_is_vae_py_verbatim():
    assert VAE_SOURCE in python_blocks(), "chapter 4's listing differs from companion/vaeriants/vae.py"


def test_every_python_block_is_companion_code():
    sources = "\n".join(p.read_text() for p in (REPO_ROOT / "companion" / "vaeriants").rglob("*.py"))
    for block in python_blocks():
        assert block in sources, f"a Python block of chapter 4 is in no companion module:\n{block[:200]}"


def test_listing_survives_liquid():
    # Liquid runs before kramdown: "{{" or "{%" in the listing would break the page.
    assert "{{" not in VAE_SOURCE and "{%" not in VAE_SOURCE


def test_listing_from_the_chapter_runs():
    listing = next(block for block in python_blocks() if block == VAE_SOURCE)
    module = types.ModuleType("chapter4_listing")
    exec(compile(listing, str(CHAPTER), "exec"), module.__dict__)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        model = module.main(epochs=1)
    printed = out.getvalue()
    assert "ELBO per image: train" in printed
    assert printed.count("\n\n") >= 3  # three sampled digits drawn as text
    assert sum(p.numel() for p in model.parameters()) > 0


def test_warm_up_rises_linearly_to_beta():
    cfg = vae.VAEConfig(beta=1.0, warmup_epochs=10)
    weights = [vae.kl_weight_at(epoch, cfg) for epoch in range(15)]
    assert weights[:10] == pytest.approx([0.1 * (e + 1) for e in range(10)])
    assert weights[10:] == [1.0] * 5
    assert vae.kl_weight_at(0, vae.VAEConfig(beta=0.5)) == 0.5  # no warm-up: the weight is beta


def test_training_raises_the_elbo():
    train, test = vae.digits_split()
    torch.manual_seed(0)
    before = vae.average_elbo(vae.VAE(vae.VAEConfig()), test)
    model, losses = vae.train_vae(train, vae.VAEConfig(epochs=3), seed=0)
    assert losses[-1] < losses[0]
    assert vae.average_elbo(model, test) > before + 10.0


def test_ancestral_sampling_draws_z_from_the_prior_then_x_from_the_decoder():
    model = vae.VAE(vae.VAEConfig())
    z, mean, x = model.sample(4000, torch.Generator().manual_seed(0))
    # z ~ N(0, I): sample mean within 5 standard errors of 0, covariance near I.
    assert (z.mean(0).abs() < 5 / 4000**0.5).all()
    assert torch.allclose(torch.cov(z.T), torch.eye(2), atol=0.1)
    with torch.no_grad():
        assert torch.allclose(mean, torch.sigmoid(model.decoder(z)))
    assert set(x.unique().tolist()) <= {0.0, 1.0}  # x is a draw from the Bernoulli likelihood

"""Every figure script runs, writes its file, and every figure is shown by some page."""
import pathlib
import re

import matplotlib
import pytest

matplotlib.use("Agg")

from vaeriants.figures import figure_modules  # noqa: E402

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
MODULES = figure_modules()


def _published_sources():
    pages = list(REPO_ROOT.glob("chapters/*.md")) + list(REPO_ROOT.glob("*.md")) + list(REPO_ROOT.glob("_posts/*.md"))
    return "\n".join(p.read_text() for p in pages if p.name != "README.md")


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_script_writes_its_figure(module, tmp_path):
    assert module.OUTPUT.startswith("assets/figures/"), "figures live under assets/figures/"
    path = tmp_path / pathlib.Path(module.OUTPUT).name
    module.make(path, seed=0, quick=True)
    assert path.is_file() and path.stat().st_size > 1000


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_figure_is_committed_and_shown(module):
    assert (REPO_ROOT / module.OUTPUT).is_file(), f"run `python -m vaeriants.figures --only {module.__name__.rsplit('.', 1)[-1]}`"
    assert "/" + module.OUTPUT in _published_sources(), f"{module.OUTPUT} is made but no page shows it"


def test_every_shown_figure_has_a_script():
    outputs = {"/" + m.OUTPUT for m in MODULES}
    shown = set(re.findall(r"/assets/figures/[\w./-]+", _published_sources()))
    assert shown <= outputs, f"figures with no script: {sorted(shown - outputs)}"

"""Each kind of fault fails the site checks with a message naming the file and the item.

Every test builds a small copy of the site (the real layouts, plugins, data and check code,
a one-chapter contents and a two-entry bibliography), puts one fault into it, runs
`rake check_site[DIR]` and reads the message.
"""
import os
import pathlib
import shutil
import subprocess
import textwrap

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
COPIED = ["_config.yml", "_layouts", "_includes", "_plugins", "_sass", "assets/css", "assets/js", "assets/favicon.svg", "lib", "script", "_data/macros.json",
          "notation.md", "bibliography.md", "news.html"]

BIBLIOGRAPHY = textwrap.dedent("""\
    @inproceedings{kingma2014aevb,
      author    = {Kingma, Diederik P. and Welling, Max},
      title     = {Auto-Encoding Variational {Bayes}},
      booktitle = {International Conference on Learning Representations (ICLR)},
      year      = {2014}}

    @article{neal2001ais,
      author  = {Neal, Radford M.},
      title   = {Annealed Importance Sampling},
      journal = {Statistics and Computing},
      year    = {2001}}
    """)

CHAPTER = textwrap.dedent("""\
    ---
    layout: chapter
    chapter: 1
    title: "A test chapter"
    summary: "A chapter for the fault tests."
    ---

    The bound of {% cite kingma2014aevb %} and the sampler of {% cite neal2001ais %}; both {% cite kingma2014aevb neal2001ais %}.

    ## A section {#a-section}

    $$
    \\begin{equation}
    \\log p_\\theta(x) \\ge \\ELBO(\\theta, \\phi; x)
    \\label{eq:1-bound}
    \\end{equation}
    $$

    Equation $$\\eqref{eq:1-bound}$$ holds with $$\\KL(q \\Vert p) \\ge 0$$, as [the home page](../index.html) says.

    {% include figure.html src="/assets/figures/test.png" alt="A test figure" caption="A caption." %}
    """)

INDEX = textwrap.dedent("""\
    ---
    layout: page
    title: "Home"
    ---

    See [the chapter](chapters/01-test.html#a-section).

    ## Contents {#contents}

    {% include contents.html %}
    """)

TOC = textwrap.dedent("""\
    - number: 1
      title: "A test chapter"
      url: /chapters/01-test.html
      sections:
        - title: "A section"
          id: a-section
    """)

# The smallest valid PNG: one transparent pixel.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


@pytest.fixture
def mini_site(tmp_path):
    root = tmp_path / "site"
    for name in COPIED:
        source, target = REPO / name, root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if source.is_dir() else shutil.copy)(source, target)
    (root / "node_modules").symlink_to(REPO / "node_modules")
    files = {
        "_data/toc.yml": TOC,
        "_bibliography/references.bib": BIBLIOGRAPHY,
        "chapters/01-test.md": CHAPTER,
        "index.md": INDEX,
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    (root / "assets/figures").mkdir(parents=True)
    (root / "assets/figures/test.png").write_bytes(PNG)
    return root


def check(site_dir):
    """Run the site checks on site_dir; returns (exit code, everything printed)."""
    env = dict(os.environ, BUNDLE_GEMFILE=str(REPO / "Gemfile"))
    result = subprocess.run(
        ["bundle", "exec", "rake", "-f", str(REPO / "Rakefile"), f"check_site[{site_dir}]"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )
    return result.returncode, result.stdout + result.stderr


def edit(site_dir, name, old, new):
    path = site_dir / name
    text = path.read_text()
    assert old in text, f"the fault test's anchor text is missing from {name}"
    path.write_text(text.replace(old, new, 1))


def test_the_clean_copy_passes(mini_site):
    code, output = check(mini_site)
    assert code == 0, output
    assert "Site checks passed" in output


def test_unknown_citation_key(mini_site):
    edit(mini_site, "chapters/01-test.md", "{% cite neal2001ais %}", "{% cite nosuchkey2020 %}")
    code, output = check(mini_site)
    assert code != 0
    assert "chapters/01-test.md:8: citation key 'nosuchkey2020'" in output


def test_malformed_bibtex_entry(mini_site):
    edit(mini_site, "_bibliography/references.bib", "journal = {Statistics and Computing},", "journal = {Statistics and Computing,")
    code, output = check(mini_site)
    assert code != 0
    assert "_bibliography/references.bib" in output and "neal2001ais" in output


def test_bibtex_entry_missing_a_required_field(mini_site):
    edit(mini_site, "_bibliography/references.bib", "  journal = {Statistics and Computing},\n", "")
    code, output = check(mini_site)
    assert code != 0
    assert "_bibliography/references.bib:7: @article{neal2001ais} lacks journal" in output


def test_bibtex_entry_cited_by_no_page(mini_site):
    path = mini_site / "_bibliography/references.bib"
    path.write_text(path.read_text() + "\n@misc{unused2020note,\n  author = {Nobody, A.}, title = {Never Cited}, year = {2020}}\n")
    code, output = check(mini_site)
    assert code != 0
    assert "_bibliography/references.bib:13: BibTeX entry 'unused2020note' is cited by no page" in output


def test_tex_error(mini_site):
    edit(mini_site, "chapters/01-test.md", "\\KL(q \\Vert p) \\ge 0", "\\KL(q \\Vert p) \\geq \\notamacro 0")
    code, output = check(mini_site)
    assert code != 0
    assert "chapters/01-test.html: TeX error: Undefined control sequence \\notamacro" in output


def test_undefined_eqref(mini_site):
    edit(mini_site, "chapters/01-test.md", "\\eqref{eq:1-bound}", "\\eqref{eq:1-nowhere}")
    code, output = check(mini_site)
    assert code != 0
    assert "chapters/01-test.html: undefined equation label: \\eqref{eq:1-nowhere}" in output


def test_pipe_inside_inline_math(mini_site):
    edit(mini_site, "chapters/01-test.md", "\\KL(q \\Vert p) \\ge 0", "p(z | x) \\ge 0")
    code, output = check(mini_site)
    assert code != 0
    assert "chapters/01-test.html: math left untypeset" in output


def test_broken_internal_link(mini_site):
    edit(mini_site, "chapters/01-test.md", "(../index.html)", "(../no-such-page.html)")
    code, output = check(mini_site)
    assert code != 0
    assert "chapters/01-test.html" in output and "no-such-page.html, which does not exist" in output


def test_broken_section_anchor(mini_site):
    edit(mini_site, "index.md", "#a-section", "#no-such-section")
    code, output = check(mini_site)
    assert code != 0
    assert "index.html" in output and "no-such-section" in output


def test_missing_image(mini_site):
    (mini_site / "assets/figures/test.png").unlink()
    code, output = check(mini_site)
    assert code != 0
    assert "chapters/01-test.html" in output and "/assets/figures/test.png" in output


def test_missing_alt_text(mini_site):
    edit(mini_site, "chapters/01-test.md", 'alt="A test figure" ', "")
    code, output = check(mini_site)
    assert code != 0
    assert "chapters/01-test.html" in output and "alt" in output

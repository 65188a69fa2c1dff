"""The byte order of typeset pages that lets them paint and parse quickly (lib/parse-order.mjs):
glyphs before the math that draws them, and parser yield points that change nothing else."""
import re

import pytest
from site_helpers import SITE, page_path

GLYPH_CACHE = '<svg style="display: none;" id="MJX-SVG-global-cache">'
GLYPH_USE = re.compile(r'<use\b[^>]*?\shref="#(MJX-[^"]+)"')
FIRST_BLOCKS = 12  # the first section's blocks that _sass/_chapter.scss always lays out


def _pages_with_math():
    return sorted(p for p in SITE.rglob("*.html") if "<mjx-container" in p.read_text())


def test_there_are_typeset_pages(site):
    assert len(_pages_with_math()) >= 9, "the chapters, the home page and the notation page hold math"


@pytest.mark.parametrize("path", _pages_with_math(), ids=lambda p: str(p.relative_to(SITE)))
def test_glyphs_are_defined_before_the_math_that_draws_them(path):
    page = path.read_text()
    cache = page.find(GLYPH_CACHE)
    first_use = GLYPH_USE.search(page)
    assert cache >= 0, f"{path}: no glyph cache"
    assert first_use and cache < first_use.start(), (
        f"{path}: the glyph cache comes after the first equation, which stays blank until the "
        "whole page is parsed; lib/parse-order.mjs glyphCacheFirst should move it")
    end = page.index("</svg>", cache)
    defined = set(re.findall(r'<path id="(MJX-[^"]+)"', page[cache:end]))
    used = set(GLYPH_USE.findall(page))
    assert used <= defined, f"{path}: glyphs used but not in the cache: {sorted(used - defined)[:5]}"


def test_long_chapters_have_parser_yield_points_between_blocks(toc, soup_of):
    for chapter in toc:
        soup = soup_of(chapter["url"])
        scripts = soup.select("script.parser-yield")
        assert scripts, f"{chapter['url']}: no parser yield points (lib/parse-order.mjs)"
        for script in scripts:
            assert script.string == "0" and not script.attrs.keys() - {"class"}, f"{chapter['url']}: {script}"
            assert "section-flow" in script.parent.get("class", []), f"{chapter['url']}: a yield point outside a section body"
        first = soup.select_one(".section-flow-first")
        leading = [child.name for child in first.find_all(recursive=False)][:FIRST_BLOCKS]
        assert "script" not in leading, (
            f"{chapter['url']}: a yield point among the first section's first {FIRST_BLOCKS} blocks "
            "would push a block out of the ones always laid out (_sass/_chapter.scss)")


def test_the_print_edition_leaves_the_yield_points_out():
    page = page_path("/print.html").read_text()
    assert "parser-yield" not in page
    assert page.find(GLYPH_CACHE) < GLYPH_USE.search(page).start()

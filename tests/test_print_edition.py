"""The print edition (/print.html, assembled by _plugins/print_edition.rb from the built pages)
holds the whole monograph in order, with ids unique and every link working on the page.

html-proofer leaves this page out (its anchor checks take minutes on 8 MB; see the Rakefile),
so its links, anchors and images are checked here, with regular expressions: the page is
generated, and parsing it takes longer than reading it this way.
"""
import re

import pytest
from site_helpers import SITE, page_path

ID = re.compile(r'\sid="([^"]*)"')
HREF = re.compile(r'\shref="([^"]*)"')


@pytest.fixture(scope="module")
def page():
    path = SITE / "print.html"
    if not path.is_file():
        pytest.fail("no _site/print.html: run `bundle exec rake build`")
    return path.read_text()


@pytest.fixture(scope="module")
def ids(page):
    return ID.findall(page)


def _ids_of(url, cache={}):
    if url not in cache:
        cache[url] = set(ID.findall(page_path(url).read_text()))
    return cache[url]


def test_ids_are_unique(ids):
    seen, repeated = set(), set()
    for name in ids:
        (repeated if name in seen else seen).add(name)
    assert not repeated, f"ids used twice on the print page: {sorted(repeated)[:10]}"


def test_every_in_page_link_has_its_target(page, ids):
    known = set(ids)
    broken = sorted({href for href in HREF.findall(page) if href.startswith("#") and href[1:] not in known})
    assert not broken, f"{len(broken)} in-page links without a target: {broken[:10]}"


def test_links_to_other_pages_are_site_absolute_and_resolve(page):
    problems = []
    for href in set(HREF.findall(page)):
        if href.startswith("#") or re.match(r"[a-z][a-z0-9+.-]*:", href):
            continue
        if not href.startswith("/"):
            problems.append(f"relative link {href}")
            continue
        path, _, fragment = href.partition("#")
        if path.startswith("/chapters/"):
            problems.append(f"link to a chapter page instead of its part of this page: {href}")
        elif path == "/vaeriants.pdf":
            continue  # made after the build by `rake pdf`
        elif not page_path(path).is_file():
            problems.append(f"link to a missing page: {href}")
        elif fragment and fragment not in _ids_of(path):
            problems.append(f"link to a missing anchor: {href}")
    assert not problems, "\n".join(sorted(problems))


def test_images_exist_and_have_alt_text(page):
    images = re.findall(r"<img\b[^>]*>", page)
    assert len(images) >= 10, f"only {len(images)} figures on the print page"
    for image in images:
        src = re.search(r'\ssrc="([^"]*)"', image).group(1)
        assert src.startswith("/") and (SITE / src.lstrip("/")).is_file(), f"missing image {src}"
        assert re.search(r'\salt="[^"]+"', image), f"no alt text: {image[:200]}"
        assert 'loading="lazy"' not in image, f"a lazy image may be missing from the PDF: {src}"


def test_parts_come_in_reading_order(page, toc):
    marks = ['id="contents"', 'class="print-introduction"']
    marks += [f'id="chapter-{chapter["number"]}"' for chapter in toc] + ['id="bibliography"']
    positions = [page.find(mark) for mark in marks]
    assert -1 not in positions, f"parts missing: {[m for m, p in zip(marks, positions) if p == -1]}"
    assert positions == sorted(positions), f"parts out of order: {marks}"


def test_each_chapter_keeps_its_sections_equations_and_references(page, ids, toc):
    known = set(ids)
    for chapter in toc:
        n = chapter["number"]
        source = _ids_of(chapter["url"])
        for section in chapter.get("sections") or []:
            assert f"c{n}-{section['id']}" in known, f"chapter {n}: section {section['id']} missing"
        equations = {name for name in source if name.startswith(f"eq-{n}-")}
        missing = sorted(name for name in equations if f"c{n}-{name}" not in known)
        assert not missing, f"chapter {n}: equations missing from the print page: {missing[:5]}"
        assert f"c{n}-references" in known, f"chapter {n}: its reference list is missing"


def test_math_is_typeset_once_and_glyphs_defined_once(page, ids, toc):
    count = page.count("<mjx-container")
    expected = sum(page_path(chapter["url"]).read_text().count("<mjx-container") for chapter in toc)
    assert expected <= count <= expected + 20, f"{count} typeset expressions; the chapters have {expected}"
    text = re.sub(r"<(script|style|code|pre|svg|mjx-assistive-mml)\b.*?</\1>", "", page, flags=re.S)
    assert not re.search(r"\\\(|\\\[|\$\$", text), "TeX left untypeset on the print page"
    assert page.count('id="MJX-SVG-global-cache"') == 1
    used = set(re.findall(r'<use\b[^>]*?\s(?:xlink:)?href="#([^"]+)"', page))
    assert len(used) > 50, "the typeset math draws its glyphs from the font cache"
    assert used <= set(ids), f"glyphs used but not defined: {sorted(used - set(ids))[:5]}"


DISPLAY = re.compile(r'<mjx-container[^>]*\sdisplay="true"[^>]*>')


def test_every_displayed_equation_is_there_and_fits_the_column(page, toc):
    expected = sum(len(DISPLAY.findall(page_path(chapter["url"]).read_text())) for chapter in toc)
    displays = DISPLAY.findall(page)
    assert len(displays) >= expected, f"{len(displays)} displayed equations; the chapters have {expected}"
    # Paper cannot scroll: the assembly shrinks a display wider than the column (zoom).
    widths = [float(w) for w in re.findall(r'<mjx-container[^>]*\sdisplay="true"[^>]*><svg[^>]*?(?:\swidth="|min-width:\s*)([\d.]+)ex', page)]
    wide = [w for w in widths if w > 60]
    assert wide, "no displayed equation is wider than 60ex: the check below would test nothing"
    assert sum("zoom:" in d for d in displays) == len(wide), "every display wider than 60ex is shrunk to fit"


def test_is_left_out_of_search_sitemap_and_robots(page):
    assert '<meta name="robots" content="noindex">' in page
    assert "data-pagefind-body" not in page
    assert "print.html" not in (SITE / "sitemap.xml").read_text()
    assert "<script" not in page, "the print edition needs no script"
    for interactive in ['class="chapter-nav"', 'class="edit-link"', 'class="heading-anchor"', 'class="outline"', 'class="sidebar"']:
        assert interactive not in page, f"{interactive} has no use on paper"


def test_home_page_links_to_the_print_edition_and_the_pdf(soup_of):
    links = {a["href"] for a in soup_of("/").select("a[href]")}
    assert {"print.html", "vaeriants.pdf"} <= links or {"/print.html", "/vaeriants.pdf"} <= links, links

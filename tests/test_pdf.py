"""The PDF made from the print edition (`rake pdf`) holds the whole monograph, in order, with
an outline that lists every chapter, its sections and the bibliography, and working links."""
import html
import re

import pypdf
import pytest
from site_helpers import SITE


@pytest.fixture(scope="module")
def pdf():
    path = SITE / "vaeriants.pdf"
    if not path.is_file():
        pytest.fail("no _site/vaeriants.pdf: run `bundle exec rake pdf` (script/test does)")
    return pypdf.PdfReader(str(path))


def _plain(text):
    """Text as the outline holds it: markup and entities resolved, white space folded."""
    text = html.unescape(re.sub(r"<[^>]+>", "", text)).replace("\u2019", "'")
    return re.sub(r"\s+", " ", text).strip()


def _entries(reader, outline, depth=0):
    """(depth, title, page index) of every outline entry, in order."""
    for item in outline:
        if isinstance(item, list):
            yield from _entries(reader, item, depth + 1)
        else:
            yield depth, _plain(item.title), reader.get_destination_page_number(item)


@pytest.fixture(scope="module")
def outline(pdf):
    return list(_entries(pdf, pdf.outline))


def _chapter_title(chapter):
    return _plain(chapter.get("title_html") or chapter["title"])


def test_pdf_is_a4_with_a_few_pages_per_chapter(pdf, toc):
    pages = len(pdf.pages)
    assert 5 * len(toc) <= pages <= 60 * len(toc), f"{pages} pages for {len(toc)} chapters"
    width, height = float(pdf.pages[0].mediabox.width), float(pdf.pages[0].mediabox.height)
    assert (round(width), round(height)) == (596, 843), f"page size {width} x {height} pt is not A4"


def test_outline_lists_every_chapter_in_order_then_the_bibliography(outline, toc):
    top = [(title, page) for depth, title, page in outline if depth == 0]
    titles = [title for title, _ in top]
    expected = [_chapter_title(chapter) for chapter in toc] + ["Bibliography"]
    missing = [title for title in expected if title not in titles]
    assert not missing, f"not in the PDF outline: {missing}; its top entries: {titles}"
    pages = [dict(top)[title] for title in expected]
    assert pages == sorted(pages) and len(set(pages)) == len(pages), (
        f"chapters and bibliography should start on pages in reading order: {list(zip(expected, pages))}")
    assert all(b - a >= 3 for a, b in zip(pages, pages[1:])), f"a chapter shorter than 3 pages: {pages}"


def test_outline_lists_every_section_of_the_contents_under_its_chapter(outline, toc):
    chapters = {_chapter_title(chapter): chapter for chapter in toc}
    under = {}
    current = None
    for depth, title, _ in outline:
        if depth == 0:
            current = title
        elif current in chapters:
            under.setdefault(current, []).append(title)
    for title, chapter in chapters.items():
        sections = [_plain(section["title"]) for section in chapter.get("sections") or []]
        missing = [section for section in sections if section not in under.get(title, [])]
        assert not missing, f"chapter {chapter['number']}: sections missing from the PDF outline: {missing}"


def test_pdf_keeps_links_within_the_monograph_and_to_the_web(pdf):
    internal, external = 0, []
    for page in pdf.pages:
        for annotation in page.get("/Annots") or []:
            annotation = annotation.get_object()
            if annotation.get("/Subtype") != "/Link":
                continue
            action = annotation.get("/A")
            if action is not None and "/URI" in action:
                external.append(str(action["/URI"]))
            elif "/Dest" in annotation or (action is not None and "/D" in action):
                internal += 1
    # Citations, equation references and cross-references jump within the PDF.
    assert internal >= 500, f"only {internal} links within the PDF"
    assert any(uri.startswith("https://arxiv.org/") for uri in external), "no link to a paper"
    local = [uri for uri in external if re.match(r"https?://(127\.0\.0\.1|localhost)", uri)]
    assert not local, f"links to the server that made the PDF: {local[:5]}"


def test_pdf_holds_typeset_math_and_the_bibliography(pdf, outline):
    bibliography = next(page for depth, title, page in outline if depth == 0 and title == "Bibliography")
    text = pdf.pages[bibliography].extract_text()
    assert "Kingma" in text and "[1]" in text, f"the bibliography's first page reads: {text[:300]}"
    # Math is drawn (SVG paths, no text), so no TeX may be left in the text of a page full of it.
    chapter_2 = next(page for depth, title, page in outline if depth == 0 and title == "Variational inference")
    text = " ".join(pdf.pages[i].extract_text() for i in range(chapter_2, chapter_2 + 4))
    assert "evidence lower bound" in text
    tex = re.findall(r"\\[(\[]|\$\$|\\begin\{|\\mathbb", text)
    assert not tex, f"TeX left untypeset in chapter 2 of the PDF: {tex[:5]}"

"""The PDF made from the print edition holds the whole monograph, with an outline."""
import pypdf
import pytest
from site_helpers import SITE


@pytest.fixture(scope="module")
def pdf():
    path = SITE / "vaeriants.pdf"
    if not path.is_file():
        pytest.fail("no _site/vaeriants.pdf: run `bundle exec rake pdf` (script/test does)")
    return pypdf.PdfReader(str(path))


def _titles(outline):
    for item in outline:
        if isinstance(item, list):
            yield from _titles(item)
        else:
            yield item.title


def test_pdf_has_a_page_per_chapter_at_least(pdf, toc):
    assert len(pdf.pages) >= 3 * len(toc), f"only {len(pdf.pages)} pages for {len(toc)} chapters"


def test_pdf_outline_lists_every_chapter(pdf, toc):
    titles = " | ".join(_titles(pdf.outline))
    for chapter in toc:
        plain = chapter["title"].replace("D_KL(q‖p)", "")
        assert plain.strip() in titles, f"{chapter['title']!r} is not in the PDF outline: {titles[:500]}"
    assert "Bibliography" in titles


def test_pdf_keeps_links(pdf):
    annotations = [a.get_object() for page in pdf.pages for a in (page.get("/Annots") or [])]
    assert any(a.get("/Subtype") == "/Link" for a in annotations)

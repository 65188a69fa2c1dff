"""The reading aids that live in the built HTML: heading anchors, the edit link, the cite
block, the 404 page, the social-card metadata and the favicon. (What needs a browser, such as
previews, search and the outline's current section, is in tests/browser/.)"""
import re

import pytest
import yaml
from site_helpers import REPO, SITE, page_path

CONFIG = yaml.safe_load((REPO / "_config.yml").read_text())
PAGES = ["/", "/notation.html", "/bibliography.html", "/news.html"]


def test_every_section_heading_of_a_chapter_has_an_anchor_link(toc, soup_of):
    for chapter in toc:
        headings = soup_of(chapter["url"]).select(".page-body h2[id], .page-body h3[id]")
        assert len(headings) >= 3, f"{chapter['url']}: too few headings to test"
        for heading in headings:
            anchor = heading.select_one("a.heading-anchor")
            assert anchor is not None, f"{chapter['url']}: heading #{heading['id']} has no anchor link"
            assert anchor["href"] == f"#{heading['id']}"
            assert anchor.get("aria-label"), "the anchor link needs a name for screen readers"


def test_every_chapter_links_to_its_source_on_github(toc, soup_of):
    for chapter in toc:
        link = soup_of(chapter["url"]).select_one(".edit-link a")
        assert link is not None, f"{chapter['url']}: no 'edit this page' link"
        source = chapter["url"].lstrip("/").replace(".html", ".md")
        assert link["href"] == f"https://github.com/{CONFIG['repository']}/edit/{CONFIG['branch']}/{source}"
        assert (REPO / source).is_file(), f"the edit link points to {source}, which does not exist"


def test_home_page_has_a_cite_block_with_a_bibtex_entry(soup_of):
    block = soup_of("/").select_one(".cite-block")
    assert block is not None, "no 'Cite this monograph' block on the home page"
    text = block.get_text()
    assert re.search(r"@\w+\{\w+,", text), "the cite block holds no BibTeX entry"
    for field in ("title", "author", "year", "url"):
        assert re.search(rf"\b{field}\s*=", text), f"the BibTeX entry lacks {field}"
    assert CONFIG["url"] in text


def test_404_page_exists_and_leads_back(soup_of):
    assert (SITE / "404.html").is_file()
    page = soup_of("/404.html")
    assert "not found" in page.title.get_text().lower()
    hrefs = [a["href"] for a in page.select(".page-body a[href]")]
    assert any(href.endswith("#contents") for href in hrefs), "the 404 page should link to the contents"


@pytest.mark.parametrize("url", PAGES + ["/chapters/01-background.html", "/chapters/08-variance-reduction.html"])
def test_social_card_metadata_with_an_image(url, soup_of):
    head = soup_of(url).head
    values = {m.get("property") or m.get("name"): m.get("content") for m in head.select("meta[content]")}
    for key in ("og:title", "og:description", "og:url", "og:image", "twitter:card", "twitter:image", "description"):
        assert values.get(key), f"{url}: no {key}"
    image = values["og:image"]
    assert image.startswith(CONFIG["url"] + "/"), f"{url}: og:image must be absolute: {image}"
    assert (SITE / image[len(CONFIG["url"]) + 1:]).is_file(), f"{url}: og:image {image} is not in the site"
    assert values["twitter:card"] == "summary_large_image"


def test_a_chapter_is_described_by_its_own_summary(toc, soup_of):
    for chapter in toc:
        page = soup_of(chapter["url"])
        summary = page.select_one(".chapter-summary")
        description = page.head.select_one('meta[name="description"]')["content"]
        assert summary is not None, chapter["url"]
        same = summary.get_text().strip().replace("\u2019", "'") == description.replace("\u2019", "'")
        assert same, f"{chapter['url']}: description {description!r}"


@pytest.mark.parametrize("url", PAGES + ["/chapters/01-background.html"])
def test_favicon(url, soup_of):
    icon = soup_of(url).head.select_one('link[rel~="icon"]')
    assert icon is not None, f"{url}: no favicon"
    assert page_path(icon["href"]).is_file(), f"{url}: favicon {icon['href']} is not in the site"

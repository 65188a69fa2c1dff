"""Tests of the built site: contents, chapter links and the global citation numbering."""
import collections
import re

from bs4 import BeautifulSoup
from site_helpers import SITE, page_path, text_of


def _title_text(chapter):
    """The chapter's title as a reader sees it (title_html with its markup removed)."""
    html = chapter.get("title_html") or chapter["title"]
    return re.sub(r"\s+", " ", BeautifulSoup(html, "html.parser").get_text()).strip()


def _sections(entries):
    for entry in entries or []:
        yield entry
        yield from _sections(entry.get("sections"))


def test_every_contents_entry_points_to_a_page_with_that_title(toc, soup_of):
    for chapter in toc:
        assert page_path(chapter["url"]).is_file(), f"contents entry {chapter['title']!r}: no page at {chapter['url']}"
        soup = soup_of(chapter["url"])
        # Compared without white space: markup such as <sub> splits the heading's text.
        squeeze = lambda text: re.sub(r"\s+", "", text)  # noqa: E731
        assert squeeze(text_of(soup.select_one("h1"))) == squeeze(_title_text(chapter)), chapter["url"]
        for section in _sections(chapter.get("sections")):
            heading = soup.find(id=section["id"])
            assert heading is not None, f"{chapter['url']}: no section #{section['id']} ({section['title']!r})"


def test_home_page_lists_every_chapter_and_section(toc, soup_of):
    links = {a["href"] for a in soup_of("/").select("ol.contents a")}
    for chapter in toc:
        assert chapter["url"] in links
        for section in _sections(chapter.get("sections")):
            assert f"{chapter['url']}#{section['id']}" in links


def test_previous_and_next_links_form_one_chain(toc, soup_of):
    urls = [chapter["url"] for chapter in toc]
    for index, url in enumerate(urls):
        soup = soup_of(url)
        next_link = soup.select_one("a[rel=next]")
        previous_link = soup.select_one("a[rel=prev]")
        assert (next_link["href"] if next_link else None) == (urls[index + 1] if index + 1 < len(urls) else None), url
        assert (previous_link["href"] if previous_link else None) == (urls[index - 1] if index > 0 else None), url


def test_sidebar_marks_the_reader_s_chapter(toc, soup_of):
    for chapter in toc:
        current = soup_of(chapter["url"]).select_one(".sidebar a[aria-current=page]")
        assert current is not None and current["href"] == chapter["url"]


def _citations(soup):
    """(key, number) of every citation link on a page."""
    pairs = []
    for link in soup.select("a.citation"):
        numbers = re.findall(r"\d+", link.get_text())
        # The print edition prefixes the ids of each of its parts (#c2-key, #bib-key).
        key = re.sub(r"^(?:c\d+|home|bib)-", "", link["href"].lstrip("#"))
        pairs.append((key, int(numbers[0])))
    return pairs


def _reference_numbers(soup):
    """{key: number} of the reference list items on a page."""
    numbers = {}
    for item in soup.select("ol.bibliography li"):
        anchor = item.find(id=True)
        numbers[anchor["id"]] = int(re.search(r"\[(\d+)\]", item.get_text()).group(1))
    return numbers


def test_a_paper_has_the_same_number_on_every_page_and_in_the_bibliography(soup_of):
    bibliography = _reference_numbers(soup_of("/bibliography.html"))
    assert len(set(bibliography.values())) == len(bibliography), "two entries share a number"
    assert sorted(bibliography.values()) == list(range(1, len(bibliography) + 1))
    seen = collections.defaultdict(set)
    for path in SITE.rglob("*.html"):
        url = "/" + str(path.relative_to(SITE))
        for key, number in _citations(soup_of(url)):
            seen[key].add((number, url))
    assert seen, "no page cites anything"
    for key, uses in seen.items():
        numbers = {number for number, _ in uses}
        assert numbers == {bibliography[key]}, f"{key} is numbered {sorted(uses)}; bibliography says {bibliography[key]}"


def test_each_page_lists_exactly_the_references_it_cites(toc, soup_of):
    for url in ["/"] + [chapter["url"] for chapter in toc]:
        soup = soup_of(url)
        cited = dict(_citations(soup))
        listed = _reference_numbers(soup)
        assert listed == cited, f"{url}: reference list {listed} but citations {cited}"
        assert list(listed.values()) == sorted(listed.values()), f"{url}: references out of order"

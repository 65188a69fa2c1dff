"""Shared fixtures of the site tests: the repository, the built site and its contents."""
import pathlib
import re

import pytest
import yaml
from bs4 import BeautifulSoup

REPO = pathlib.Path(__file__).resolve().parents[1]
SITE = REPO / "_site"


def page_path(url):
    """The built file for a site URL such as /chapters/01-background.html or /."""
    path = SITE / url.lstrip("/")
    return path / "index.html" if url.endswith("/") else path


def text_of(node):
    """A node's visible text with white space folded (math's assistive text left out)."""
    for hidden in node.select("mjx-assistive-mml, svg"):
        hidden.decompose()
    return re.sub(r"\s+", " ", node.get_text(" ")).strip()


@pytest.fixture(scope="session")
def site():
    if not (SITE / "index.html").is_file():
        pytest.fail("no built site in _site: run `bundle exec rake build` (script/test does) first")
    return SITE


@pytest.fixture(scope="session")
def toc():
    return yaml.safe_load((REPO / "_data" / "toc.yml").read_text())


@pytest.fixture(scope="session")
def soup_of(site):
    cache = {}

    def load(url):
        if url not in cache:
            cache[url] = BeautifulSoup(page_path(url).read_text(), "html.parser")
        return cache[url]

    return load

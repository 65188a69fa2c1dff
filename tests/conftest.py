"""Fixtures of the site tests: the built site, its contents and its parsed pages."""
import pytest
import yaml
from bs4 import BeautifulSoup
from site_helpers import REPO, SITE, page_path


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

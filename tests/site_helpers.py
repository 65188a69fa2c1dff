"""Paths and parsing helpers shared by the tests of the built site."""
import pathlib
import re

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

"""The chapter notebooks: rendered executed on the site, downloadable, and a download runs.

Every notebook page of both languages shows outputs, gives its images alt text and links
a download with outputs (read from the page's facts: the page is loaded once, in
pagefacts.py); both languages' downloads hold the same code.  One download is run again
from scratch as a reader would (the build already executed every notebook once; running
each again here would only repeat that).
"""

from __future__ import annotations

import json
import urllib.request
from urllib.parse import urljoin

import nbformat
import pytest
from browsersite import LANGS, ROOT, page_path

from hooks.notebooks import execute

pytestmark = pytest.mark.browser
NOTEBOOKS = sorted(p.stem for p in (ROOT / "notebooks").glob("*.py"))
CASES = [(lang, f"notebooks/{name}") for name in NOTEBOOKS for lang in LANGS]
RERUN = ("en", "notebooks/practice")  # the download that is executed again


def _fetch(url: str) -> nbformat.NotebookNode:
    with urllib.request.urlopen(url, timeout=30) as response:
        assert response.status == 200, (url, response.status)
        return nbformat.reads(json.dumps(json.load(response)), as_version=4)


def _download(facts, base_url: str, lang: str, page: str) -> nbformat.NotebookNode:
    """The notebook the page's download link gives, after checking what the page shows."""
    shown = facts[f"{lang}/{page}"]["notebook"]
    assert shown, f"{lang}/{page} is not a rendered notebook"
    assert shown["outputs"] > 0, "the notebook page shows no outputs: was it executed?"
    for alt in shown["imageAlts"]:
        assert alt.strip() and "No description" not in alt, alt
    assert shown["download"], "the notebook page links no .ipynb download"
    return _fetch(urljoin(base_url + page_path(lang, page), shown["download"]))


@pytest.mark.parametrize(("lang", "page"), CASES)
def test_notebook_page_shows_outputs_and_offers_a_download(
    facts, base_url: str, lang: str, page: str
) -> None:
    nb = _download(facts, base_url, lang, page)
    assert nb.cells[0].cell_type == "markdown"
    assert [o for c in nb.cells for o in c.get("outputs", [])], f"{lang}: no outputs"
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            alt = output.get("metadata", {}).get("image/png", {}).get("alt")
            assert alt is None or (isinstance(alt, str) and alt.strip()), (lang, alt)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_both_languages_download_the_same_code(base_url: str, name: str) -> None:
    # The download the page links (checked above) is the file next to the page.
    code = {
        lang: [
            c.source
            for c in _fetch(
                f"{base_url}{page_path(lang, 'notebooks')}{name}.ipynb"
            ).cells
            if c.cell_type == "code"
        ]
        for lang in LANGS
    }
    assert code["zh"] and code["zh"] == code["en"], (
        "the two languages' notebooks run different code"
    )


@pytest.mark.parametrize(("lang", "page"), [RERUN])
def test_a_downloaded_notebook_runs_again_from_scratch(
    facts, base_url: str, lang: str, page: str
) -> None:
    nb = _download(facts, base_url, lang, page)
    shown = [o for c in nb.cells for o in c.get("outputs", [])]
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []  # run it again from scratch, as a reader would
    name = page.split("/", 1)[1]
    record = execute(nb, ROOT / "notebooks" / f"{name}.py", lang)
    assert record["torch"]
    rerun = [o for c in nb.cells for o in c.get("outputs", [])]
    assert len(rerun) == len(shown), (
        "the download ran with a different number of outputs"
    )

"""The chapter notebooks: rendered executed on the site, downloadable, and a download runs.

Every notebook page of both languages is checked for outputs, alt text and a download with
outputs; both languages' downloads hold the same code.  One download is run again from
scratch as a reader would (the build already executed every notebook once; running each
again here would only repeat that).
"""

from __future__ import annotations

import json

import nbformat
import pytest
from browsersite import LANGS, ROOT, page_path

from hooks.notebooks import execute

pytestmark = pytest.mark.browser
NOTEBOOKS = sorted(p.stem for p in (ROOT / "notebooks").glob("*.py"))
RERUN = ("en", "practice")  # the download that is executed again


def _download(context, lang: str, name: str) -> nbformat.NotebookNode:
    tab = context.new_page()
    tab.goto(page_path(lang, f"notebooks/{name}"))
    outputs = tab.locator(".jp-OutputArea-output")
    assert outputs.count() > 0, "the notebook page shows no outputs: was it executed?"
    images = tab.locator(".jp-OutputArea-output img")
    for i in range(images.count()):
        alt = images.nth(i).get_attribute("alt") or ""
        assert alt.strip() and "No description" not in alt, alt
    link = tab.locator("a[download]", has_text=".ipynb").first
    response = context.request.get(tab.url + link.get_attribute("href"))
    assert response.ok, response.status
    tab.close()
    return nbformat.reads(json.dumps(response.json()), as_version=4)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_pages_show_outputs_and_offer_the_same_code(
    context, name: str
) -> None:
    downloads = {lang: _download(context, lang, name) for lang in LANGS}
    code = {
        lang: [c.source for c in nb.cells if c.cell_type == "code"]
        for lang, nb in downloads.items()
    }
    assert code["zh"] == code["en"], "the two languages' notebooks run different code"
    for lang, nb in downloads.items():
        assert nb.cells[0].cell_type == "markdown"
        assert [o for c in nb.cells for o in c.get("outputs", [])], (
            f"{lang}: no outputs"
        )
        for cell in nb.cells:
            for output in cell.get("outputs", []):
                alt = output.get("metadata", {}).get("image/png", {}).get("alt")
                assert alt is None or (isinstance(alt, str) and alt.strip()), (
                    lang,
                    alt,
                )
    if name == RERUN[1]:
        nb = downloads[RERUN[0]]
        shown = [o for c in nb.cells for o in c.get("outputs", [])]
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs = []  # run it again from scratch, as a reader would
        record = execute(nb, ROOT / "notebooks" / f"{name}.py", RERUN[0])
        assert record["torch"]
        rerun = [o for c in nb.cells for o in c.get("outputs", [])]
        assert len(rerun) == len(shown), (
            "the download ran with a different number of outputs"
        )

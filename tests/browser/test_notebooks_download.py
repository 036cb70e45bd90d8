"""The chapter notebooks: rendered executed on the site, downloadable, and the download runs."""

from __future__ import annotations

import json
import sys

import nbformat
import pytest
from browsersite import LANGS, ROOT, page_path

sys.path.insert(0, str(ROOT / "hooks"))
from notebooks import execute  # noqa: E402

pytestmark = pytest.mark.browser
NOTEBOOKS = sorted(p.stem for p in (ROOT / "notebooks").glob("*.py"))


@pytest.mark.parametrize("name", NOTEBOOKS)
@pytest.mark.parametrize("lang", LANGS)
def test_notebook_page_shows_outputs_and_the_download_runs(context, lang: str,
                                                           name: str) -> None:
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
    nb = nbformat.reads(json.dumps(response.json()), as_version=4)
    shown = [o for c in nb.cells for o in c.get("outputs", [])]
    assert shown, "the downloadable notebook has no outputs"
    assert nb.cells[0].cell_type == "markdown"
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []  # run it again from scratch, as a reader would
    record = execute(nb, ROOT / "notebooks" / f"{name}.py", lang)
    assert record["torch"]
    rerun = [o for c in nb.cells for o in c.get("outputs", [])]
    assert len(rerun) == len(shown), "the download ran with a different number of outputs"

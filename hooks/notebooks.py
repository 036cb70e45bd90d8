"""MkDocs hook: chapter notebooks, executed at build time, one per language, downloadable.

Sources are jupytext percent scripts, ``notebooks/<chapter>.py``, one file for both
languages: a markdown cell marked ``# %% [markdown] lang="zh"`` (or ``"en"``) goes to that
language's notebook only, every other cell to both, so the two notebooks run the same code.
``--8<--`` include lines in code cells are expanded with pymdownx.snippets configured from
mkdocs.yml, so a downloaded notebook is self-contained and shows the package code byte for byte.

For each language build this hook

* prepends a code cell ``LANG = "<lang>"`` (figure alt text is chosen with it), executes the
  notebook with nbclient in a scratch directory and fails the build on an error, naming the
  source file, the cell and its line, or on an image output without alt text;
* renders it with mkdocs-jupyter's converter (``mkdocs_jupyter.convert.nb2html``) into a page
  ``notebooks/<chapter>/`` (``en/notebooks/<chapter>/``) and ships the executed ``.ipynb``
  beside it; the chapter page ``<chapter>.md`` gets a box linking to both.

Why not the mkdocs-jupyter plugin itself: with static-i18n's folder structure the plugin's
notebook files are replaced by static-i18n's, and the notebook would need to live under
``docs/<lang>/``; generated pages added after static-i18n keep the sources out of ``docs/``.
"""

from __future__ import annotations

import copy
import hashlib
import html
import json
import re
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import jupytext
import markdown
import nbformat
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files, InclusionLevel
from mkdocs.structure.pages import Page
from mkdocs.structure.toc import get_toc
from mkdocs.utils import get_relative_url

NOTEBOOK_DIR = "notebooks"
CELL_TIMEOUT_S = 300
LABELS = {
    "zh": {"box": "Notebook", "view": "查看本章示例的 notebook（含运行结果与图）",
           "download": "下载 .ipynb", "lead": "本页由", "executed": "在构建时执行生成",
           "record": "构建时执行：torch {torch}，设备 {device}，{date}（UTC）。"},
    "en": {"box": "Notebook", "view": "This chapter's example as a notebook (outputs and plots)",
           "download": "Download .ipynb", "lead": "This page was generated from",
           "executed": "executed during the build",
           "record": "Executed during the build with torch {torch} on {device}, {date} (UTC)."},
}
PLACEHOLDER = "<!-- notebook-body -->"
# Run after the notebook's cells in the same kernel: what the code really ran with.
RECORD_CELL = (
    "import json as _json, torch as _torch\n"
    "from snippets.device import pick_device as _pick\n"
    "print(_json.dumps({'torch': _torch.__version__, 'device': str(_pick('auto'))}))"
)

_executed: dict[str, tuple[nbformat.NotebookNode, dict]] = {}  # cache key -> (notebook, record)


class NotebookError(PluginError):
    """A notebook that cannot be built; the message names the source file and the cell."""


def _root(config: MkDocsConfig) -> Path:
    return Path(config.config_file_path).resolve().parent


def _i18n(config: MkDocsConfig):
    plugin = config.plugins.get("i18n")
    if plugin is None:
        raise PluginError("hooks/notebooks.py needs the mkdocs-static-i18n plugin (i18n)")
    return plugin


def sources(config: MkDocsConfig) -> list[Path]:
    folder = _root(config) / NOTEBOOK_DIR
    return sorted(folder.glob("*.py")) if folder.is_dir() else []


def _cell_lines(text: str) -> list[int]:
    """1-based line of each ``# %%`` cell marker of a percent script."""
    return [n for n, line in enumerate(text.splitlines(), 1) if line.startswith("# %%")]


def notebook_for(source: Path, lang: str, expand=None) -> nbformat.NotebookNode:
    """The ``lang`` notebook of a bilingual percent script (not executed).

    Each cell keeps ``metadata.source_line`` (its line in ``source``) for error messages.
    """
    text = source.read_text(encoding="utf-8")
    nb = jupytext.reads(text, fmt="py:percent")
    lines = _cell_lines(text)
    if len(lines) != len(nb.cells):
        lines = [0] * len(nb.cells)  # a script not starting with a cell marker
    cells = []
    for cell, line in zip(nb.cells, lines):
        cell_lang = cell.metadata.pop("lang", None)
        cell.metadata.pop("lines_to_next_cell", None)
        if cell_lang not in (None, "zh", "en"):
            raise NotebookError(f"{source}:{line}: unknown cell language {cell_lang!r}")
        if cell_lang not in (None, lang):
            continue
        if cell.cell_type == "code" and expand is not None and "--8<--" in cell.source:
            cell.source = expand(cell.source, f"{source}:{line}")
        cell.metadata["source_line"] = line
        cells.append(cell)
    lang_cell = nbformat.v4.new_code_cell(
        f'LANG = "{lang}"  # the language of this notebook\'s text (and figure alt text)'
    )
    lang_cell.metadata["source_line"] = 0
    first_code = next((i for i, c in enumerate(cells) if c.cell_type == "code"), len(cells))
    cells.insert(first_code, lang_cell)
    nb.cells = cells
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    nbformat.validator.normalize(nb)
    return nb


def _where(source: Path, nb: nbformat.NotebookNode, index: int) -> str:
    line = nb.cells[index].metadata.get("source_line", 0)
    return f"{source}:{line}" if line else f"{source} (generated LANG cell)"


def execute(nb: nbformat.NotebookNode, source: Path, lang: str,
            cwd: Path | None = None) -> dict:
    """Execute ``nb`` in place; return {'torch', 'device'} the kernel ran with.

    Raises NotebookError naming the notebook and the failing cell.
    """
    from jupyter_client import KernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    with tempfile.TemporaryDirectory(prefix="notebook-") as scratch:
        # IPC transport: a local kernel needs no TCP port (and warns about none).
        manager = KernelManager(kernel_name="python3", transport="ipc",
                                ip=str(Path(scratch) / "kernel"))
        # coalesce_streams: the kernel flushes stdout on a timer, so prints separated by
        # a computation arrive as one or several stream outputs depending on timing;
        # merged, a cell's outputs are the same on every run.
        client = NotebookClient(nb, km=manager, timeout=CELL_TIMEOUT_S,
                                coalesce_streams=True,
                                resources={"metadata": {"path": str(cwd or scratch)}})
        try:
            with client.setup_kernel():
                for index, cell in enumerate(nb.cells):
                    try:
                        client.execute_cell(cell, index)
                    except CellExecutionError as err:
                        summary = f"{err.ename}: {err.evalue}"
                        raise NotebookError(
                            f"{_where(source, nb, index)}: notebook cell {index + 1} ({lang}) "
                            f"failed: {summary}\n{cell.source}"
                        ) from None
                probe = nbformat.v4.new_code_cell(RECORD_CELL)
                nb.cells.append(probe)  # nbclient writes the executed cell back by index
                try:
                    client.execute_cell(probe, len(nb.cells) - 1)
                finally:
                    nb.cells.pop()
        finally:
            if manager.has_kernel:
                manager.shutdown_kernel(now=False)
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if "image/png" in output.get("data", {}):
                alt = output.get("metadata", {}).get("image/png", {}).get("alt", "")
                if not alt.strip():
                    raise NotebookError(
                        f"{_where(source, nb, index)}: notebook cell {index + 1} ({lang}) shows "
                        "an image without alt text; display it with "
                        "IPython.display.Image(png, metadata={'alt': ...})"
                    )
        cell.metadata.pop("execution", None)
        cell.metadata.pop("source_line", None)
    text = "".join(o.get("text", "") for o in probe.outputs if o.get("name") == "stdout")
    return json.loads(text.strip().splitlines()[-1])


def _expander(config: MkDocsConfig):
    md = markdown.Markdown(extensions=config.markdown_extensions,
                           extension_configs=config.mdx_configs)
    snippets = md.preprocessors["snippet"]

    def expand(code: str, where: str) -> str:
        try:
            return "\n".join(snippets.run(code.splitlines()))
        except Exception as err:
            raise NotebookError(f"{where}: include failed: {err}") from None

    return expand


def executed_notebook(source: Path, lang: str, config: MkDocsConfig):
    """The executed ``lang`` notebook of ``source`` and its run record (cached per build)."""
    nb = notebook_for(source, lang, _expander(config))
    key = hashlib.sha256(nbformat.writes(nb).encode() + lang.encode()).hexdigest()
    if key not in _executed:
        record = execute(nb, source, lang, cwd=None)
        record["date"] = datetime.now(timezone.utc).date().isoformat()
        _executed[key] = (nb, record)
    return copy.deepcopy(_executed[key][0]), dict(_executed[key][1])


def _i18n_file(file: File, lang: str, norm: str) -> File:
    """Give a generated file the attributes static-i18n's own files carry."""
    file.locale = lang
    file.localization = lang
    file.locale_alternate_of = lang
    file.norm_src_uri = norm
    file.alternates = {lang: file}
    return file


def _page_markdown(title: str, lang: str, name: str) -> str:
    labels = LABELS[lang]
    return (
        f"---\ntitle: {json.dumps(title, ensure_ascii=False)}\n---\n\n{PLACEHOLDER}\n\n"
        f"{labels['lead']} `notebooks/{name}.py` {labels['executed']}: "
        f'[{labels["download"]}]({name}.ipynb){{ download="{name}.ipynb" }}\n'
    )


def _title(nb: nbformat.NotebookNode, source: Path) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            found = re.search(r"^#\s+(.+?)\s*$", cell.source, re.MULTILINE)
            if found:
                return found.group(1)
    raise NotebookError(f"{source}: the notebook needs a '# Title' markdown cell")


_pages: dict[str, dict] = {}  # page src_uri -> {nb, record, source, name, lang}


@event_priority(-200)  # after static-i18n (-100) has chosen this language's files
def on_files(files: Files, config: MkDocsConfig) -> Files:
    plugin = _i18n(config)
    lang, default = plugin.current_language, plugin.default_language
    prefix = "" if lang == default else f"{lang}/"
    for source in sources(config):
        name = source.stem
        nb, record = executed_notebook(source, lang, config)
        page_uri = f"{lang}/{NOTEBOOK_DIR}/{name}.md"
        page = File.generated(config, page_uri,
                              content=_page_markdown(_title(nb, source), lang, name),
                              inclusion=InclusionLevel.NOT_IN_NAV)
        page.dest_uri = f"{prefix}{NOTEBOOK_DIR}/{name}/index.html"
        _i18n_file(page, lang, f"{NOTEBOOK_DIR}/{name}.md")
        for other in plugin.build_languages:
            if other != lang:
                twin = File.generated(config, f"{other}/{NOTEBOOK_DIR}/{name}.md", content="")
                other_prefix = "" if other == default else f"{other}/"
                twin.dest_uri = f"{other_prefix}{NOTEBOOK_DIR}/{name}/index.html"
                page.alternates[other] = twin
        ipynb = File.generated(config, f"{lang}/{NOTEBOOK_DIR}/{name}.ipynb",
                               content=nbformat.writes(nb).encode("utf-8"))
        ipynb.dest_uri = f"{prefix}{NOTEBOOK_DIR}/{name}.ipynb"
        _i18n_file(ipynb, lang, f"{NOTEBOOK_DIR}/{name}.ipynb")
        files.append(page)
        files.append(ipynb)
        _pages[page_uri] = {"nb": nb, "record": record, "source": source, "name": name,
                            "lang": lang, "ipynb": ipynb}
    return files


def _images_with_alt(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` whose PNG outputs are <img> tags carrying their alt text.

    nbconvert's HTML template ignores an output's ``alt`` metadata (and writes a placeholder
    alt); the downloadable notebook keeps the plain PNG output with its metadata.
    """
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            png = output.get("data", {}).get("image/png")
            if png is None:
                continue
            alt = output["metadata"]["image/png"]["alt"]
            data = png.replace("\n", "")
            output["data"] = {"text/html": f'<img alt="{html.escape(alt)}" '
                                           f'src="data:image/png;base64,{data}">'}
            output["metadata"] = {}
    return nb


def render(nb: nbformat.NotebookNode) -> tuple[str, list]:
    """HTML body of an executed notebook (mkdocs-jupyter's converter) and its TOC tokens."""
    from mkdocs_jupyter import convert
    from mkdocs_jupyter.plugin import _get_nb_toc_tokens

    with tempfile.TemporaryDirectory(prefix="notebook-html-") as tmp:
        path = Path(tmp) / "notebook.ipynb"
        nbformat.write(_images_with_alt(nb), path)
        body = convert.nb2html(str(path), execute=False, allow_errors=False,
                               include_requirejs=False, custom_mathjax_url="",
                               no_prompt=True)
        tokens, _ = _get_nb_toc_tokens(str(path), 3)
    body = re.sub(r"<script[^>]*mathjax[^>]*>\s*</script>", "", body, flags=re.IGNORECASE)
    return body, tokens


def on_page_content(content: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    info = _pages.get(page.file.src_uri)
    if info is not None:
        body, tokens = render(info["nb"])
        page.toc = get_toc(tokens)
        # The notebook's own '# Title' cell is the page's only h1.
        record = LABELS[info["lang"]]["record"].format(**info["record"])
        stamp = f'<p class="verified-stamp" data-source="notebook">{html.escape(record)}</p>'
        return content.replace(f"<p>{PLACEHOLDER}</p>", body).replace(PLACEHOLDER, body) + stamp
    # A chapter with a notebook: link to it from the chapter page.
    norm = getattr(page.file, "norm_src_uri", page.file.src_uri)
    lang = getattr(page.file, "locale", None)
    for source in sources(config):
        if norm == f"{source.stem}.md" and lang in LABELS:
            prefix = "" if lang == _i18n(config).default_language else f"{lang}/"
            view = get_relative_url(f"{prefix}{NOTEBOOK_DIR}/{source.stem}/", page.url)
            download = get_relative_url(f"{prefix}{NOTEBOOK_DIR}/{source.stem}.ipynb", page.url)
            labels = LABELS[lang]
            content += (
                '<div class="admonition example notebook-link">'
                f'<p class="admonition-title">{labels["box"]}</p>'
                f'<p><a href="{view}">{labels["view"]}</a> · '
                f'<a href="{download}" download>{labels["download"]}</a></p></div>'
            )
    return content

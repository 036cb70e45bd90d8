"""MkDocs hook: chapter notebooks, executed at build time once, cached, one page per language.

Sources are jupytext percent scripts, ``notebooks/<chapter>.py``, one file for both
languages: a markdown cell marked ``# %% [markdown] lang="zh"`` (or ``"en"``) goes to that
language's notebook only, every other cell to both.  Code cells carry no language, so both
notebooks run the same code: it is **executed once** and each language's markdown is spliced
around the same outputs.  A figure's alt text is given in both languages
(``Image(png, metadata={"alt": {"zh": ..., "en": ...}})``); each notebook keeps its own.
``--8<--`` include lines in code cells are expanded with the site's include expander
(``hooks/includes.py``), so a downloaded notebook is self-contained.

Execution results are cached on disk (``build/notebook-cache/``), keyed by the expanded
code cells, the digest of the ``snippets`` modules they reach (``hooks/fingerprint.py``),
the torch and Python versions.  Files of the repository the kernel opened while running
(a data file, the pages a corpus is made of) are recorded with their digests and checked
on every lookup: a changed key or a changed input re-executes, so a stale result is never
shown.  Stale notebooks are started before the figures are drawn and run side by side,
one worker process each (up to one per core), so a cold build waits for the longest, not
the sum.  A failing cell fails the build naming the source file, the cell and its line;
so does an image output without alt text in both languages.

Each language gets a page ``notebooks/<chapter>/`` (``en/notebooks/<chapter>/``) rendered
with mkdocs-jupyter's converter (through ``hooks/compat.py``), the executed ``.ipynb`` beside
it, and the chapter page a box linking to both.  The converter's ~580 KiB of CSS is written
once to ``assets/notebook-<hash>.css`` and linked, formulas in markdown cells are rendered
with the site's build-time KaTeX (``hooks/katex_math.py``), and headings get the same stable
ids as the site's own pages (``pymdownx.slugs``), Chinese ones included.

Why not the mkdocs-jupyter plugin itself: with static-i18n's folder structure the plugin's
notebook files are replaced by static-i18n's, and the notebook would need to live under
``docs/<lang>/``; generated pages added after static-i18n keep the sources out of ``docs/``.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import html
import importlib
import json
import multiprocessing
import os
import platform
import re
import sys
import tempfile
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import jupytext
import nbformat
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files, InclusionLevel
from mkdocs.structure.pages import Page
from mkdocs.structure.toc import get_toc
from mkdocs.utils import get_relative_url

ROOT = Path(__file__).resolve().parent.parent
if (
    str(ROOT) not in sys.path
):  # MkDocs loads hooks by file; the shared helpers are hooks.*
    sys.path.insert(0, str(ROOT))
from hooks import compat, includes  # noqa: E402
from hooks.fingerprint import code_digest  # noqa: E402

NOTEBOOK_DIR = "notebooks"
CACHE_DIR = Path("build") / "notebook-cache"  # under the project root
CACHE_FORMAT = 2  # bump when what a cache entry holds changes
CELL_TIMEOUT_S = 300
LANGS = ("zh", "en")
LABELS = {
    "zh": {
        "box": "Notebook",
        "view": "查看本章示例的 notebook（含运行结果与图）",
        "download": "下载 .ipynb",
        "lead": "本页由",
        "executed": "在构建时执行生成",
        "record": "构建时执行：torch {torch}，设备 {device}，{date}（UTC）。",
    },
    "en": {
        "box": "Notebook",
        "view": "This chapter's example as a notebook (outputs and plots)",
        "download": "Download .ipynb",
        "lead": "This page was generated from",
        "executed": "executed during the build",
        "record": "Executed during the build with torch {torch} on {device}, {date} (UTC).",
    },
}
PLACEHOLDER = "<!-- notebook-body -->"
# Run before the notebook's cells, hidden: record which repository files the code opens.
# Only the repository's own files count (not the virtualenv inside it, not bytecode):
# the record is printed back through the kernel's output, and a list of every file
# of every imported package made that one print take over a minute.
TRACK_CELL = (
    "import sys as _sys\n"
    "_READ = set()\n"
    "_SKIP = (_sys.prefix, {root!r} + '/build/', {root!r} + '/node_modules/')\n"
    "def _track(event, args, _root={root!r}):\n"
    "    if event == 'open' and isinstance(args[0], str) and args[0].startswith(_root)"
    " and not args[0].startswith(_SKIP) and '__pycache__' not in args[0]:\n"
    "        _READ.add(args[0])\n"
    "_sys.addaudithook(_track)"
)
# Run after the notebook's cells in the same kernel: what the code really ran with.
RECORD_CELL = (
    "import json as _json, torch as _torch\n"
    "from snippets.device import pick_device as _pick\n"
    "print(_json.dumps({'torch': _torch.__version__, 'device': str(_pick('auto')),"
    " 'read': sorted(_READ)}))"
)


class NotebookError(PluginError):
    """A notebook that cannot be built; the message names the source file and the cell."""


def _root(config: MkDocsConfig) -> Path:
    return Path(config.config_file_path).resolve().parent


def _i18n(config: MkDocsConfig):
    plugin = config.plugins.get("i18n")
    if plugin is None:
        raise PluginError(
            "hooks/notebooks.py needs the mkdocs-static-i18n plugin (i18n)"
        )
    compat.check_version("mkdocs-static-i18n")
    return plugin


def sources(root: Path) -> list[Path]:
    folder = Path(root) / NOTEBOOK_DIR
    return sorted(folder.glob("*.py")) if folder.is_dir() else []


def _cell_lines(text: str) -> list[int]:
    """1-based line of each ``# %%`` cell marker of a percent script."""
    return [n for n, line in enumerate(text.splitlines(), 1) if line.startswith("# %%")]


@functools.lru_cache(maxsize=16)
def _parsed(text: str) -> nbformat.NotebookNode:
    """jupytext's parse of a percent script (each build parsed every script 3 times)."""
    return jupytext.reads(text, fmt="py:percent")


def bilingual_cells(source: Path, expand=None) -> list[nbformat.NotebookNode]:
    """The cells of a bilingual percent script, each with ``metadata.lang`` (None: both)
    and ``metadata.source_line``; include lines of code cells expanded by ``expand``."""
    text = source.read_text(encoding="utf-8")
    nb = copy.deepcopy(_parsed(text))
    lines = _cell_lines(text)
    if len(lines) != len(nb.cells):
        lines = [0] * len(nb.cells)  # a script not starting with a cell marker
    cells = []
    for cell, line in zip(nb.cells, lines):
        lang = cell.metadata.pop("lang", None)
        cell.metadata.pop("lines_to_next_cell", None)
        if lang not in (None, *LANGS):
            raise NotebookError(f"{source}:{line}: unknown cell language {lang!r}")
        if cell.cell_type == "code" and lang is not None:
            raise NotebookError(
                f"{source}:{line}: a code cell has no language: both "
                "notebooks run the same code (put text in markdown cells)"
            )
        if cell.cell_type == "code" and expand is not None and "--8<--" in cell.source:
            cell.source = expand(cell.source, f"{source}:{line}")
        cell.metadata["lang"] = lang
        cell.metadata["source_line"] = line
        cells.append(cell)
    return cells


def _new_notebook(cells: list) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = cells
    nb.metadata = {
        "kernelspec": {
            "display_name": "Python 3",
            "language": "python",
            "name": "python3",
        },
        "language_info": {"name": "python"},
    }
    return nb


def notebook_for(source: Path, lang: str, expand=None) -> nbformat.NotebookNode:
    """The ``lang`` notebook of a bilingual percent script, not executed."""
    cells = [
        c for c in bilingual_cells(source, expand) if c.metadata["lang"] in (None, lang)
    ]
    for index, cell in enumerate(cells):
        del cell.metadata["lang"]
        # nbformat gives each new cell a random id: a stable one keeps the notebook's
        # bytes (the download, the converted-HTML cache key) the same from build to build.
        cell.id = f"{lang}-{index}"
    nb = _new_notebook(cells)
    nbformat.validator.normalize(nb)
    return nb


def _where(source: Path, cell) -> str:
    line = cell.metadata.get("source_line", 0)
    return f"{source}:{line}" if line else str(source)


def _alt_problem(alt, langs) -> str | None:
    if isinstance(alt, dict):
        missing = [lang for lang in langs if not str(alt.get(lang, "")).strip()]
        return f"no alt text in {missing}" if missing else None
    return None if isinstance(alt, str) and alt.strip() else "an image without alt text"


def execute(
    nb: nbformat.NotebookNode,
    source: Path,
    label: str = "",
    cwd: Path | None = None,
    root: Path = ROOT,
) -> dict:
    """Execute ``nb`` in place in a fresh kernel; return {'torch', 'device', 'read'}.

    ``read`` lists the files under ``root`` the code opened.  An image output needs alt text:
    a string, or ``{"zh": ..., "en": ...}``.

    Raises:
        NotebookError: naming the notebook, the failing cell and its source line.
    """
    from jupyter_client import KernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    suffix = f" ({label})" if label else ""
    langs = LANGS
    with tempfile.TemporaryDirectory(prefix="notebook-") as scratch:
        # IPC transport: a local kernel needs no TCP port (and warns about none).
        manager = KernelManager(
            kernel_name="python3", transport="ipc", ip=str(Path(scratch) / "kernel")
        )
        # coalesce_streams: the kernel flushes stdout on a timer, so prints separated by
        # a computation arrive as one or several stream outputs depending on timing;
        # merged, a cell's outputs are the same on every run.
        client = NotebookClient(
            nb,
            km=manager,
            timeout=CELL_TIMEOUT_S,
            coalesce_streams=True,
            resources={"metadata": {"path": str(cwd or scratch)}},
        )
        hidden = nbformat.v4.new_code_cell(TRACK_CELL.format(root=str(Path(root))))
        probe = nbformat.v4.new_code_cell(RECORD_CELL)
        try:
            with client.setup_kernel():
                nb.cells.insert(
                    0, hidden
                )  # nbclient writes executed cells back by index
                try:
                    client.execute_cell(hidden, 0)
                finally:
                    nb.cells.pop(0)
                for index, cell in enumerate(nb.cells):
                    try:
                        client.execute_cell(cell, index)
                    except CellExecutionError as err:
                        raise NotebookError(
                            f"{_where(source, cell)}: notebook cell {index + 1}{suffix} "
                            f"failed: {err.ename}: {err.evalue}\n{cell.source}"
                        ) from None
                nb.cells.append(probe)
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
                problem = _alt_problem(alt, langs)
                if problem:
                    raise NotebookError(
                        f"{_where(source, cell)}: notebook cell {index + 1}{suffix} shows "
                        f"{problem}; display it with IPython.display.Image(png, "
                        "metadata={'alt': {'zh': ..., 'en': ...}})"
                    )
        cell.metadata.pop("execution", None)
    text = "".join(
        o.get("text", "") for o in probe.outputs if o.get("name") == "stdout"
    )
    return json.loads(text.strip().splitlines()[-1])


# --- the execution cache ---------------------------------------------------------------


def cache_key(code: list[str], snippets: str) -> str:
    """What an execution depends on, besides the files it records having read."""
    h = hashlib.sha256()
    h.update(
        json.dumps(
            {
                "format": CACHE_FORMAT,
                "code": code,
                "snippets": snippets,
                "torch": compat.installed("torch"),
                "python": platform.python_version(),
            }
        ).encode()
    )
    return h.hexdigest()[:24]


def _file_digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _inputs_unchanged(entry: dict, root: Path) -> bool:
    return all(
        _file_digest(root / rel) == digest for rel, digest in entry["read"].items()
    )


def _entry(
    source: Path, root: Path, code_cells: list
) -> tuple[str, Path, tuple | None]:
    """(key, entry path, cached (outputs, record) or None) of ``source``'s code cells."""
    code = [c.source for c in code_cells]
    key = cache_key(code, code_digest(code, root))
    entry_path = Path(root) / CACHE_DIR / f"{source.stem}-{key}.json"
    if entry_path.is_file():
        entry = json.loads(entry_path.read_text(encoding="utf-8"))
        if _inputs_unchanged(entry, root):
            return key, entry_path, (entry["outputs"], entry["record"])
    return key, entry_path, None


def _code_cells(source: Path, expand) -> list:
    return [c for c in bilingual_cells(source, expand) if c.cell_type == "code"]


def cached_code(source: Path, root: Path, expand) -> tuple[list, dict] | None:
    """The cached outputs and run record of ``source``, if its cache entry is current."""
    return _entry(source, root, _code_cells(source, expand))[2]


def executed_code(source: Path, root: Path, expand) -> tuple[list, dict, bool]:
    """The executed code cells of ``source`` (outputs), the run record, and whether they
    came from the cache.  Executes at most once per content: the result is stored under
    ``build/notebook-cache/<chapter>-<key>.json``, atomically."""
    code_cells = _code_cells(source, expand)
    key, entry_path, found = _entry(source, root, code_cells)
    if found is not None:
        return *found, True
    cache = entry_path.parent
    nb = _new_notebook(code_cells)
    record = execute(nb, source, root=root)
    record["date"] = datetime.now(UTC).date().isoformat()
    read = {}
    for path in record.pop("read"):
        rel = Path(path).resolve().relative_to(Path(root).resolve()).as_posix()
        if not rel.startswith((".venv/", "build/", "node_modules/")):
            read[rel] = _file_digest(Path(path))
    entry = {
        "source": source.name,
        "key": key,
        "read": read,
        "record": record,
        "outputs": [c.get("outputs", []) for c in nb.cells],
    }
    cache.mkdir(parents=True, exist_ok=True)
    for stale in cache.glob(f"{source.stem}-*.json"):
        stale.unlink()  # older keys of this notebook
    tmp = entry_path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(entry), encoding="utf-8")
    os.replace(tmp, entry_path)  # an entry is complete or absent
    return entry["outputs"], record, False


def language_notebook(source: Path, lang: str, outputs: list, expand=None):
    """The ``lang`` notebook with the executed outputs spliced into its code cells; the
    alt text of each image is this language's."""
    nb = notebook_for(source, lang, expand)
    code = [c for c in nb.cells if c.cell_type == "code"]
    if len(code) != len(outputs):
        raise NotebookError(
            f"{source}: {len(code)} code cells, {len(outputs)} executed"
        )
    for cell, cell_outputs in zip(code, outputs):
        cell.outputs = nbformat.from_dict(copy.deepcopy(cell_outputs))
        for output in cell.outputs:
            meta = output.get("metadata", {}).get("image/png", {})
            if isinstance(meta.get("alt"), dict):
                meta["alt"] = meta["alt"][lang]
        cell.execution_count = None
    for cell in nb.cells:
        cell.metadata.pop("source_line", None)
    return nb


_executed: dict[
    str, tuple[list, dict]
] = {}  # source path -> (outputs, record), this build


def _expander(snippet_preprocessor=None, config_file: Path = includes.MKDOCS_YML):
    """``--8<--`` expansion for code cells (see ``includes.expand``); a missing include
    is a NotebookError naming the cell."""

    def expand(code: str, where: str) -> str:
        try:
            return includes.expand(code, where, snippet_preprocessor, config_file)
        except includes.IncludeError as err:
            raise NotebookError(str(err)) from None

    return expand


def _site_expander(config: MkDocsConfig):
    """The expander configured as this build's ``pymdownx.snippets``."""
    return _expander(
        includes.preprocessor(config.markdown_extensions, config.mdx_configs)
    )


def run_in_worker(source: str, root: str, threads: int) -> tuple[list, dict]:
    """:func:`executed_code` in a worker process (see :func:`start_stale`), its kernel
    limited to ``threads`` torch threads: kernels side by side with more busy OpenMP
    threads than cores spin-wait on each other."""
    os.environ["OMP_NUM_THREADS"] = str(threads)  # the kernel inherits it
    expand = _expander(config_file=Path(root) / "mkdocs.yml")
    outputs, record, _ = executed_code(Path(source), Path(root), expand)
    return outputs, record


_running: dict[str, Future] = {}  # source path -> its execution in a worker process


def start_stale(config: MkDocsConfig) -> None:
    """Start executing the notebooks whose cache is not current, each in a worker process,
    so they run while the figures are drawn and beside each other (a cold build's two
    longest steps).  :func:`execute_all` collects the results.

    Workers are spawned, not forked (``mkdocs serve`` has threads), and run this module as
    ``hooks.notebooks``.  (nbclient clients in threads of one process deadlocked.)
    """
    root, expand = _root(config), _site_expander(config)
    stale = []
    for source in sources(root):
        found = cached_code(source, root, expand)
        if found is None:
            stale.append(source)
        else:  # looked up once: execute_all takes it from here
            _executed[str(source)] = found
    if len(stale) < 2:
        return  # nothing to run beside anything: execute_all runs it here
    worker = importlib.import_module("hooks.notebooks").run_in_worker
    cores = os.cpu_count() or 1
    workers = min(len(stale), cores)
    pool = ProcessPoolExecutor(
        max_workers=workers, mp_context=multiprocessing.get_context("spawn")
    )
    # The build's own process draws the figures meanwhile, on the cores left over.
    threads = max(1, cores // (workers + 1))
    for source in stale:
        _running[str(source)] = pool.submit(worker, str(source), str(root), threads)
    pool.shutdown(wait=False)  # the submitted notebooks still run to the end


def execute_all(config: MkDocsConfig) -> None:
    """Execute (or take from the cache) every notebook once; a notebook started by
    :func:`start_stale` is waited for.  A failing notebook fails the build, naming the
    cell, whichever process ran it."""
    root, expand = _root(config), _site_expander(config)
    for source in sources(root):
        if str(source) in _executed:
            continue
        running = _running.pop(str(source), None)
        if running is not None:
            _executed[str(source)] = running.result()
        else:
            outputs, record, _ = executed_code(source, root, expand)
            _executed[str(source)] = (outputs, record)


def on_startup(command: str, dirty: bool) -> None:
    compat.check_version("mkdocs-jupyter")


@event_priority(100)  # before hooks/chapter_figures.py draws, so both run at once
def on_pre_build(config: MkDocsConfig) -> None:
    if not _i18n(config).building:
        _executed.clear()  # a new build (serve rebuilds): look at the sources again
        _pages.clear()
        _stylesheets.clear()
        start_stale(config)


def on_build_error(error: Exception) -> None:
    for running in _running.values():
        running.cancel()  # not started yet: never start; running: its result is dropped
    _running.clear()


# --- pages ------------------------------------------------------------------------------


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
    execute_all(config)
    expand = _site_expander(config)
    for source in sources(_root(config)):
        name = source.stem
        outputs, record = _executed[str(source)]
        nb = language_notebook(source, lang, outputs, expand)
        page_uri = f"{lang}/{NOTEBOOK_DIR}/{name}.md"
        page = File.generated(
            config,
            page_uri,
            content=_page_markdown(_title(nb, source), lang, name),
            inclusion=InclusionLevel.NOT_IN_NAV,
        )
        page.dest_uri = f"{prefix}{NOTEBOOK_DIR}/{name}/index.html"
        twins = {}
        for other in plugin.build_languages:
            if other != lang:
                twin = File.generated(
                    config, f"{other}/{NOTEBOOK_DIR}/{name}.md", content=""
                )
                other_prefix = "" if other == default else f"{other}/"
                twin.dest_uri = f"{other_prefix}{NOTEBOOK_DIR}/{name}/index.html"
                twins[other] = twin
        compat.mark_i18n_file(page, lang, f"{NOTEBOOK_DIR}/{name}.md", twins)
        ipynb = File.generated(
            config,
            f"{lang}/{NOTEBOOK_DIR}/{name}.ipynb",
            content=nbformat.writes(nb).encode("utf-8"),
        )
        ipynb.dest_uri = f"{prefix}{NOTEBOOK_DIR}/{name}.ipynb"
        compat.mark_i18n_file(ipynb, lang, f"{NOTEBOOK_DIR}/{name}.ipynb")
        files.append(page)
        files.append(ipynb)
        _pages[page_uri] = {
            "nb": nb,
            "record": record,
            "source": source,
            "name": name,
            "lang": lang,
        }
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
            output["data"] = {
                "text/html": f'<img alt="{html.escape(alt)}" '
                f'src="data:image/png;base64,{data}">'
            }
            output["metadata"] = {}
    return nb


MATHJAX = re.compile(
    r'<script src="">\s*</script>|<script[^>]*mathjax[^>]*>.*?</script>'
    r"|<!-- MathJax configuration -->",
    re.DOTALL | re.IGNORECASE,
)
STYLE = re.compile(r"<style[^>]*>(.*?)</style>", re.DOTALL)
HEADING = re.compile(
    r'<h(?P<level>[1-6]) id="[^"]*">(?P<text>.*?)'
    r'<a class="anchor-link" href="#[^"]*">(?P<mark>.*?)</a></h(?P=level)>',
    re.DOTALL,
)
TAG = re.compile(r"<[^>]+>")
MARKDOWN_CELL = re.compile(
    r'(<div class="jp-RenderedHTMLCommon jp-RenderedMarkdown[^"]*"'
    r"[^>]*>)(.*?)(</div>)",
    re.DOTALL,
)
DISPLAY_MATH = re.compile(r"\$\$(.+?)\$\$", re.DOTALL)
INLINE_MATH = re.compile(r"(?<![\\$])\$(?!\s)([^$\n]+?)(?<!\s)\$(?!\d)")


def _slugify(config: MkDocsConfig | None):
    toc = config.mdx_configs.get("toc", {}) if config is not None else {}
    slugify = toc.get("slugify")
    if slugify is None:
        from pymdownx.slugs import slugify as make

        slugify = make(case="lower")
    return lambda text: slugify(text, toc.get("separator", "-"))


def heading_ids(body: str, slugify) -> tuple[str, list]:
    """Give each heading the site's slug as its id (unique on the page) and return the
    body and the TOC tokens mkdocs' ``get_toc`` takes."""
    seen: dict[str, int] = {}
    flat: list[dict] = []

    def replace(match: re.Match[str]) -> str:
        name = html.unescape(TAG.sub("", match.group("text"))).strip()
        base = slugify(name) or "section"
        count = seen.get(base, 0)
        seen[base] = count + 1
        ident = base if count == 0 else f"{base}_{count}"
        level = int(match.group("level"))
        flat.append(
            {"level": level, "id": ident, "name": html.escape(name), "children": []}
        )
        return (
            f'<h{level} id="{ident}">{match.group("text")}<a class="anchor-link" '
            f'href="#{ident}">{match.group("mark")}</a></h{level}>'
        )

    body = HEADING.sub(replace, body)
    tokens: list[dict] = []
    stack: list[dict] = []
    for token in flat:
        while stack and stack[-1]["level"] >= token["level"]:
            stack.pop()
        (stack[-1]["children"] if stack else tokens).append(token)
        stack.append(token)
    return body, tokens


def markdown_math(body: str, render) -> str:
    """Formulas in markdown cells (``$...$``, ``$$...$$``) as arithmatex spans, which
    ``render`` (hooks/katex_math.py's ``render_math``) turns into KaTeX HTML."""

    def cell(match: re.Match[str]) -> str:
        text = DISPLAY_MATH.sub(
            lambda m: f'<div class="arithmatex">\\[{m.group(1)}\\]</div>',
            match.group(2),
        )
        text = INLINE_MATH.sub(
            lambda m: f'<span class="arithmatex">\\({m.group(1)}\\)</span>', text
        )
        return match.group(1) + text + match.group(3)

    return render(MARKDOWN_CELL.sub(cell, body))


_stylesheets: dict[str, str] = {}  # file name -> CSS, written once per build


def _converted_html(nb: nbformat.NotebookNode) -> str:
    """mkdocs-jupyter's HTML for ``nb``, cached on disk by the notebook's exact JSON and
    the converter's version: the conversion took a second per notebook on every build."""
    text = nbformat.writes(nb)
    key = hashlib.sha256(
        (text + compat.check_version("mkdocs-jupyter")).encode("utf-8")
    ).hexdigest()[:24]
    cached = ROOT / CACHE_DIR / "html" / f"{key}.html"
    if cached.is_file():
        return cached.read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory(prefix="notebook-html-") as tmp:
        path = Path(tmp) / "notebook.ipynb"
        path.write_text(text, encoding="utf-8")
        body = compat.notebook_html(path)
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp_file = cached.with_suffix(f".tmp{os.getpid()}")
    tmp_file.write_text(body, encoding="utf-8")
    os.replace(tmp_file, cached)  # an entry is complete or absent
    return body


def render(
    nb: nbformat.NotebookNode, config: MkDocsConfig | None = None, src: str = "notebook"
) -> tuple[str, list, str]:
    """(HTML body, TOC tokens, stylesheet name) of an executed notebook.

    The converter's inline ``<style>`` blocks are moved into one shared stylesheet.
    """
    body = _converted_html(_images_with_alt(nb))
    body = MATHJAX.sub("", body)  # formulas are rendered by KaTeX at build time
    css = "\n".join(STYLE.findall(body))
    body = STYLE.sub("", body)
    name = f"notebook-{hashlib.sha256(css.encode()).hexdigest()[:12]}.css"
    _stylesheets[name] = css
    body, tokens = heading_ids(body, _slugify(config))
    from hooks.katex_math import render_math

    body = markdown_math(body, lambda text: render_math(text, "", src))
    return body, tokens, name


def on_page_content(
    content: str, page: Page, config: MkDocsConfig, files: Files
) -> str:
    info = _pages.get(page.file.src_uri)
    if info is not None:
        body, tokens, css = render(info["nb"], config, str(info["source"]))
        page.toc = get_toc(tokens)
        info["css"] = css
        # The notebook's own '# Title' cell is the page's only h1.
        record = LABELS[info["lang"]]["record"].format(**info["record"])
        stamp = (
            f'<p class="verified-stamp" data-state="ok" data-source="notebook">'
            f"{html.escape(record)}</p>"
        )
        return (
            content.replace(f"<p>{PLACEHOLDER}</p>", body).replace(PLACEHOLDER, body)
            + stamp
        )
    # A chapter with a notebook: link to it from the chapter page.
    norm = getattr(page.file, "norm_src_uri", page.file.src_uri)
    lang = getattr(page.file, "locale", None)
    for source in sources(_root(config)):
        if norm == f"{source.stem}.md" and lang in LABELS:
            prefix = "" if lang == _i18n(config).default_language else f"{lang}/"
            view = get_relative_url(f"{prefix}{NOTEBOOK_DIR}/{source.stem}/", page.url)
            download = get_relative_url(
                f"{prefix}{NOTEBOOK_DIR}/{source.stem}.ipynb", page.url
            )
            labels = LABELS[lang]
            content += (
                '<div class="admonition example notebook-link">'
                f'<p class="admonition-title">{labels["box"]}</p>'
                f'<p><a href="{view}">{labels["view"]}</a> · '
                f'<a href="{download}" download>{labels["download"]}</a></p></div>'
            )
    return content


def on_post_page(output: str, page: Page, config: MkDocsConfig) -> str:
    info = _pages.get(page.file.src_uri)
    if info is None or "css" not in info:
        return output
    href = get_relative_url(f"assets/{info['css']}", page.url)
    return output.replace(
        "</head>", f'<link rel="stylesheet" href="{href}">\n</head>', 1
    )


@event_priority(-200)
def on_post_build(config: MkDocsConfig) -> None:
    if _i18n(config).building:
        return  # a per-language build: the site's root is written later
    for name, css in _stylesheets.items():
        target = Path(config.site_dir) / "assets" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.is_file() or target.read_text(encoding="utf-8") != css:
            target.write_text(css, encoding="utf-8")

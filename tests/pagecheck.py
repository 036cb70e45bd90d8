"""Extract, expand and execute the code blocks of a handbook page.

The execution guarantee rests on this module:

* blocks are found with pytest-codeblocks' own parser (``extract_from_buffer``), after
  refusing every fence that parser would silently skip (``~~~``, ``py``, ``python title=…``,
  a ``skipfile`` page), so no block a reader sees escapes the tests;
* ``--8<--`` includes inside a block are expanded by pymdownx.snippets configured from
  ``mkdocs.yml`` (so the code executed is the code the site shows, byte for byte);
* all python blocks of a page run in one namespace, in page order, like a reader pasting
  them into one file; a ``text`` block after ``<!--pytest-codeblocks:expected-output-->``
  is compared with what the block printed (numbers with a tolerance).

Run one page: ``python tests/pagecheck.py docs/en/practice.md``.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import re
import sys
import tempfile
import traceback
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import markdown
from mkdocs.config import load_config
from pytest_codeblocks.main import extract_from_buffer

ROOT = Path(__file__).resolve().parent.parent
MKDOCS_YML = ROOT / "mkdocs.yml"

# What a fence's language may be, and what the tests do with it.
EXECUTED = {"python"}
OUTPUT = {"text"}  # only as the expected output of the python block above it
SHOWN = {"bash", "yaml", "toml", "json"}  # commands and config a reader types, not Python

NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")
RTOL, ATOL = 1e-2, 1e-3  # printed floats may differ in the last digits across CPUs


class PageError(Exception):
    """A page that cannot be checked or whose code fails; the message names file:line."""


@dataclass
class Block:
    path: Path  # the markdown file
    lineno: int  # line of the opening fence
    syntax: str
    code: str  # includes expanded: exactly what the site shows
    expected_output: str | None

    @property
    def where(self) -> str:
        try:
            shown = self.path.relative_to(ROOT)
        except ValueError:
            shown = self.path
        return f"{shown}:{self.lineno}"


@lru_cache(maxsize=1)
def _snippet_preprocessor():
    """The pymdownx.snippets preprocessor exactly as mkdocs.yml configures it."""
    config = load_config(str(MKDOCS_YML))
    md = markdown.Markdown(
        extensions=config["markdown_extensions"], extension_configs=config["mdx_configs"]
    )
    return md.preprocessors["snippet"]


def expand_includes(code: str, where: str) -> str:
    """Expand ``--8<--`` lines in ``code``; a missing file or section is a PageError."""
    if "--8<--" not in code:
        return code
    preprocessor = _snippet_preprocessor()
    try:
        lines = preprocessor.run(code.splitlines())
    except Exception as err:  # SnippetMissingError and friends
        raise PageError(f"{where}: include failed: {err}") from None
    return "\n".join(lines) + "\n"


def _refuse_unparsed_fences(path: Path, text: str) -> None:
    lines = text.splitlines()
    if lines and "skipfile" in lines[0]:
        raise PageError(f"{path}:1: 'skipfile' would hide every block of this page")
    for number, line in enumerate(lines, start=1):
        if line.lstrip().startswith("~~~"):
            raise PageError(
                f"{path}:{number}: '~~~' fence is not executed by the tests; use ```"
            )


def extract_blocks(path: Path) -> list[Block]:
    """All fenced blocks of a page, includes expanded; refuse what would go untested."""
    path = Path(path).resolve()
    text = path.read_text(encoding="utf-8")
    _refuse_unparsed_fences(path, text)
    try:
        raw_blocks = extract_from_buffer(io.StringIO(text))
    except RuntimeError as err:
        raise PageError(f"{path}: {err}") from None
    blocks = []
    for raw in raw_blocks:
        block = Block(path, raw.lineno, raw.syntax or "", raw.code, raw.expected_output)
        allowed = EXECUTED | OUTPUT | SHOWN
        if block.syntax not in allowed:
            raise PageError(
                f"{block.where}: fence language {block.syntax!r} is not executed by the "
                f"tests; use one of {sorted(allowed)} (plain, no title or options)"
            )
        if raw.marks or raw.importorskip:
            raise PageError(f"{block.where}: markers {raw.marks} would skip this block")
        if block.syntax in OUTPUT:
            raise PageError(
                f"{block.where}: a 'text' block must be the checked output of the python "
                "block above it (<!--pytest-codeblocks:expected-output-->)"
            )
        if block.expected_output is not None and block.syntax not in EXECUTED:
            raise PageError(f"{block.where}: only python blocks can have an output")
        block.code = expand_includes(block.code, block.where)
        blocks.append(block)
    return blocks


def outputs_match(expected: str, actual: str, rtol: float = RTOL, atol: float = ATOL) -> bool:
    """Same text line by line; numbers with a '.' or exponent compared with a tolerance."""
    exp_lines = [line.rstrip() for line in expected.strip("\n").splitlines()]
    act_lines = [line.rstrip() for line in actual.strip("\n").splitlines()]
    if len(exp_lines) != len(act_lines):
        return False
    for exp, act in zip(exp_lines, act_lines):
        if NUMBER.split(exp) != NUMBER.split(act):
            return False
        for e, a in zip(NUMBER.findall(exp), NUMBER.findall(act)):
            if any(c in e for c in ".eE"):
                if not math.isclose(float(e), float(a), rel_tol=rtol, abs_tol=atol):
                    return False
            elif e != a:
                return False
    return True


def run_blocks(blocks: list[Block]) -> int:
    """Execute the python blocks in order in one namespace; return how many ran."""
    namespace: dict = {"__name__": "__main__"}
    ran = 0
    old_cwd = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="page-") as workdir:
        os.chdir(workdir)  # files a page writes (checkpoints, plots) land in a scratch dir
        try:
            for block in blocks:
                if block.syntax not in EXECUTED:
                    continue
                stdout = io.StringIO()
                try:
                    code = compile(block.code, block.where, "exec")
                    with contextlib.redirect_stdout(stdout):
                        exec(code, namespace)
                except Exception:
                    raise PageError(
                        f"{block.where}: code block raised\n{traceback.format_exc()}"
                        f"--- printed before the error ---\n{stdout.getvalue()}"
                    ) from None
                ran += 1
                if block.expected_output is not None and not outputs_match(
                    block.expected_output, stdout.getvalue()
                ):
                    raise PageError(
                        f"{block.where}: shown output differs from the real output\n"
                        f"--- shown on the page ---\n{block.expected_output}"
                        f"--- printed when run ---\n{stdout.getvalue()}"
                    )
        finally:
            os.chdir(old_cwd)
    return ran


def run_page(path: Path) -> int:
    """Check and execute one page; return the number of python blocks executed."""
    ran = run_blocks(extract_blocks(path))
    write_verified_record(Path(path), ran)
    return ran


VERIFIED_DIR = ROOT / "build" / "verified"  # read by hooks/verified.py to stamp the page


def write_verified_record(path: Path, ran: int) -> None:
    """Record what a page of docs/ was just executed with (torch, device, page hash)."""
    import datetime
    import hashlib
    import json

    import torch
    from snippets.device import pick_device

    path = path.resolve()
    try:
        rel = path.relative_to(ROOT / "docs")
    except ValueError:
        return  # a test fixture, not a page of the site
    record = {"page": rel.as_posix(), "blocks": ran, "torch": torch.__version__,
              "device": str(pick_device("auto")),
              "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
              "date": datetime.datetime.now(datetime.timezone.utc).date().isoformat()}
    target = VERIFIED_DIR / rel.with_suffix(".json")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    for page in sys.argv[1:]:
        try:
            print(f"{page}: {run_page(Path(page))} python blocks ran")
        except PageError as err:
            sys.exit(str(err))

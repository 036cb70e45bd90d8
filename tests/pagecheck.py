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

Every page must also survive a **second run in the same directory** (a reader re-running a
notebook does exactly that): :func:`run_chapter` runs a chapter's zh page in a fresh scratch
directory and then its en page, whose code blocks are identical (``tests/parity.py``), in
the same directory, so the en run is the re-run.  Identical code runs once where that
proves as much: the re-run stops as soon as the rest of it could only repeat the zh run
(the same blocks and shown outputs remain, and the directory holds exactly the files the
zh run held at that point, each one made anew by the re-run).  A page that leaves no
file behind is recorded from its zh run; a page that empties its output folder in its
first block re-runs that block.  Chapters are locked while they run
(``build/verified/.locks/``), so test processes running in parallel never run one
chapter at the same time.

After a page passes, its run record (``build/verified/<lang>/<page>.json``) is written with
the page's digest (``hooks/verified.py``), which the site's "verified" stamp checks.

Run pages: ``python tests/pagecheck.py docs/zh/practice.md docs/en/practice.md`` (a zh/en pair
of one chapter given together is run as a chapter: the en page re-runs in the zh directory).
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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock
from pytest_codeblocks.main import extract_from_buffer

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script (pytest's `pythonpath` has the root)
    sys.path.insert(0, str(ROOT))
from hooks import includes, verified  # noqa: E402

MKDOCS_YML = ROOT / "mkdocs.yml"

# What a fence's language may be, and what the tests do with it.
EXECUTED = {"python"}
OUTPUT = {"text"}  # only as the expected output of the python block above it
SHOWN = {
    "bash",
    "yaml",
    "toml",
    "json",
}  # commands and config a reader types, not Python

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


def project_root(path: Path) -> Path:
    """The project (folder with ``mkdocs.yml``) a page or fixture belongs to."""
    path = Path(path).resolve()
    for parent in path.parents:
        if (parent / "mkdocs.yml").is_file():
            return parent
    return ROOT


def expand_includes(code: str, where: str, root: Path = ROOT) -> str:
    """Expand ``--8<--`` lines in ``code``; a missing file or section is a PageError."""
    try:
        return includes.expand(code, where, config_file=Path(root) / "mkdocs.yml")
    except includes.IncludeError as err:
        raise PageError(str(err)) from None


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
        block.code = expand_includes(block.code, block.where, project_root(path))
        blocks.append(block)
    return blocks


def outputs_match(
    expected: str, actual: str, rtol: float = RTOL, atol: float = ATOL
) -> bool:
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


def run_blocks(
    blocks: list[Block],
    workdir: Path | None = None,
    after_block: Callable[[int], bool] | None = None,
) -> int:
    """Execute the python blocks in order in one namespace; return how many ran.

    Files the code writes land in ``workdir`` (default: a fresh scratch directory).
    ``after_block(i)`` is called after the i-th python block passed; when it returns
    True the remaining blocks are not run: the caller knows they would repeat a run it
    already checked, and they count as run.
    """
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="page-") as scratch:
            return run_blocks(blocks, Path(scratch), after_block)
    namespace: dict = {"__name__": "__main__"}
    ran = 0
    old_cwd = os.getcwd()
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
            if after_block is not None and after_block(ran - 1):
                # the caller knows the rest would repeat a run it already checked
                return sum(b.syntax in EXECUTED for b in blocks)
    finally:
        os.chdir(old_cwd)
    return ran


def _fingerprint(path: Path) -> tuple[Path, str, str] | None:
    """(project root, 'lang/page.md', digest) of a site page; None for a fixture."""
    path = Path(path).resolve()
    root = project_root(path)
    try:
        rel = path.relative_to(root / "docs").as_posix()
    except ValueError:
        return None
    return root, rel, verified.fingerprint(path, rel, root)


def run_page(
    path: Path,
    workdir: Path | None = None,
    after_block: Callable[[int], bool] | None = None,
) -> int:
    """Check and execute one page; return the number of python blocks executed.

    A page of a site's ``docs/`` gets its run record (digest taken before the run, so an
    edit during the run leaves the page stale, never falsely verified).
    """
    before = _fingerprint(path)
    ran = run_blocks(extract_blocks(path), workdir, after_block)
    if before is not None:
        write_verified_record(*before, ran)
    return ran


def entries_in(folder: Path) -> dict[str, int]:
    """Every file and folder under ``folder``: relative path -> inode number."""
    return {
        p.relative_to(folder).as_posix(): p.stat().st_ino for p in folder.rglob("*")
    }


@contextlib.contextmanager
def pinned(folder: Path, most: int = 500):
    """The inodes of the files under ``folder`` now, held open so that none is reused:
    a file found later with one of these inodes is the old one (perhaps changed in
    place), any other was made anew.  (A folder holds nothing but its entries, so an old
    folder with new files in it carries nothing over.)  None when there are too many
    files to hold open."""
    entries = {p: i for p, i in entries_in(folder).items() if (folder / p).is_file()}
    if len(entries) > most:
        yield None
        return
    fds = [os.open(folder / path, os.O_RDONLY) for path in entries]
    try:
        yield set(entries.values())
    finally:
        for fd in fds:
            os.close(fd)


def executed_content(blocks: list[Block]) -> list[tuple[str, str | None]]:
    """What running ``blocks`` executes and checks: each python block with its output."""
    return [(b.code, b.expected_output) for b in blocks if b.syntax in EXECUTED]


@contextlib.contextmanager
def chapter_lock(page: Path):
    """Hold the lock of ``page``'s chapter (one lock for its zh and en pages)."""
    page = Path(page).resolve()
    locks = project_root(page) / verified.RECORDS / ".locks"
    locks.mkdir(parents=True, exist_ok=True)
    with FileLock(locks / f"{page.stem}.lock"):
        yield


def is_verified(page: Path) -> bool:
    """Whether ``page``'s run record matches its content now (hooks/verified.py)."""
    root, rel, digest = _fingerprint(page)
    state, _ = verified.stamp(digest, rel, rel.split("/")[0], root / verified.RECORDS)
    return state in verified.VERIFIED


def run_chapter(
    first: Path, second: Path, unless_verified: bool = False
) -> tuple[int, int] | None:
    """Run ``first`` (zh) in a fresh directory, then ``second`` (en, the same code) in the
    same directory: the second run is the re-run.  Return the blocks each ran.

    The re-run stops early once it can only repeat the first run: when the blocks left
    are the same code with the same shown outputs as the first page's, and the directory
    holds exactly the files and folders the first run held at that point, every file
    made anew by this run (none is a file the first run left, changed in place or not),
    so nothing left over from the first run can reach the rest.  A page that leaves no
    file behind is thus recorded from its first run; a page that empties its own output
    folder first re-runs up to that block.  Either way the second page's record counts
    all its blocks.

    With ``unless_verified``, a chapter whose pages are both verified as they are (by a
    run of another process, say) is not run again, and None is returned.

    Raises:
        PageError: naming the page; for a failure of the second page that does not happen
            in a fresh directory, saying the code fails when run a second time.
    """
    with chapter_lock(first), tempfile.TemporaryDirectory(prefix="chapter-") as scratch:
        if unless_verified and is_verified(first) and is_verified(second):
            return None
        folder = Path(scratch)
        # read before the runs: an edit during a run must not be recorded as run
        second_before = _fingerprint(second)
        code_first = executed_content(extract_blocks(first))
        code_second = executed_content(extract_blocks(second))
        fresh: list[set[str]] = [set()]  # what the folder holds after 0, 1, ... blocks
        ran_first = run_page(
            first, folder, lambda i: fresh.append(set(entries_in(folder))) or False
        )
        with pinned(folder) as old:

            def replays_first_run(done: int) -> bool:
                """After ``done`` blocks of the re-run, would the rest repeat the first?"""
                now = entries_in(folder)
                return (
                    old is not None
                    and code_second[done:] == code_first[done:]
                    and set(now) == fresh[done]
                    and not old.intersection(now.values())
                )

            if replays_first_run(0):
                if second_before is not None:
                    write_verified_record(*second_before, ran_first)
                return ran_first, ran_first
            try:
                ran_second = run_page(
                    second, folder, lambda i: replays_first_run(i + 1)
                )
            except PageError as again:
                try:  # in a fresh directory: does the page fail on its own?
                    run_blocks(extract_blocks(second))
                except PageError:
                    raise again from None
                raise PageError(
                    f"{_shown(second)} fails when run a second time in the directory "
                    f"{_shown(first)} ran in (a reader re-running it gets this):\n{again}"
                ) from None
    return ran_first, ran_second


def _shown(path: Path) -> str:
    path = Path(path).resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def write_verified_record(root: Path, rel: str, digest: str, ran: int) -> None:
    """Record what a page of docs/ was just executed with (torch, device, page digest)."""
    import datetime

    import torch

    from snippets.device import pick_device

    verified.write_record(
        root,
        rel,
        digest,
        ran,
        torch.__version__,
        str(pick_device("auto")),
        datetime.datetime.now(datetime.UTC).date().isoformat(),
    )


def _pairs(pages: list[Path]) -> list[tuple[Path, ...]]:
    """Group a zh page with its en twin when both are given (run as a chapter)."""
    pages = [Path(p) for p in pages]
    groups: list[tuple[Path, ...]] = []
    for page in pages:
        twin = Path(str(page).replace("/zh/", "/en/"))
        if "/zh/" in str(page) and twin in pages:
            groups.append((page, twin))
        elif not (
            "/en/" in str(page) and Path(str(page).replace("/en/", "/zh/")) in pages
        ):
            groups.append((page,))
    return groups


if __name__ == "__main__":
    for group in _pairs(sys.argv[1:]):
        try:
            if len(group) == 2:
                zh, en = run_chapter(*group)
                print(
                    f"{group[0]}: {zh} python blocks ran; {group[1]}: {en} ran again "
                    "in the same directory"
                )
            else:
                print(f"{group[0]}: {run_page(group[0])} python blocks ran")
        except PageError as err:
            sys.exit(str(err))

"""The page checker must fail, naming file and line, on every planted fault."""

from pathlib import Path

import pytest
from pagecheck import PageError, extract_blocks, outputs_match, run_chapter, run_page

FIXTURES = Path(__file__).parent / "fixtures" / "pages"


def test_good_page_runs_with_include_expanded() -> None:
    blocks = extract_blocks(FIXTURES / "good.md")
    assert "class SimpleNet(nn.Module):" in blocks[0].code
    assert "--8<--" not in blocks[0].code
    assert run_page(FIXTURES / "good.md") == 2


@pytest.mark.parametrize(
    ("fixture", "message"),
    [
        (
            "broken_block.md",
            r"broken_block\.md:7: code block raised(.|\n)*ZeroDivisionError",
        ),
        ("py_fence.md", r"py_fence\.md:3: fence language 'py' is not executed"),
        (
            "titled_fence.md",
            r"titled_fence\.md:3: fence language 'python title=\"a.py\"'",
        ),
        ("tilde_fence.md", r"tilde_fence\.md:3: '~~~' fence is not executed"),
        ("skipfile.md", r"skipfile\.md:1: 'skipfile' would hide every block"),
        ("missing_include.md", r"missing_include\.md:3: include failed"),
        (
            "missing_section.md",
            r"missing_section\.md:3: include failed: .*no-such-section",
        ),
        (
            "stray_text.md",
            r"stray_text\.md:3: a 'text' block must be the checked output",
        ),
        (
            "skip_marker.md",
            r"skip_marker\.md:4: markers \['pytest.mark.skip'\] would skip",
        ),
        (
            "wrong_output.md",
            r"wrong_output\.md:3: shown output differs(.|\n)*loss 0\.7",
        ),
    ],
)
def test_planted_fault_is_reported_with_file_and_line(
    fixture: str, message: str
) -> None:
    with pytest.raises(PageError, match=message):
        run_page(FIXTURES / fixture)


def test_a_page_that_fails_on_its_second_run_is_reported() -> None:
    page = FIXTURES / "rerun_fault.md"
    assert run_page(page) == 1  # a fresh directory each time: passes
    assert run_page(page) == 1
    with pytest.raises(
        PageError,
        match=r"rerun_fault\.md fails when run a second time"
        r"(.|\n)*rerun_fault\.md:3: code block raised"
        r"(.|\n)*FileExistsError",
    ):
        run_chapter(page, page)


def test_a_second_page_failing_on_its_own_is_not_blamed_on_the_rerun() -> None:
    with pytest.raises(
        PageError, match=r"broken_block\.md:7: code block raised"
    ) as err:
        run_chapter(FIXTURES / "good.md", FIXTURES / "broken_block.md")
    assert "second time" not in str(err.value)


@pytest.mark.parametrize(
    ("expected", "actual", "same"),
    [
        ("loss 0.1500", "loss 0.1501", True),  # float within tolerance
        ("loss 0.1500", "loss 0.2000", False),  # float outside tolerance
        ("epoch 5", "epoch 6", False),  # integers are exact
        ("accuracy 0.944\n", "accuracy 0.944", True),  # trailing newline ignored
        ("a\nb", "a", False),  # a missing line is a difference
        ("tensor([1., 2.])", "tensor([1., 2.])", True),
        ("shape (2, 3)", "shape (2, 3, 1)", False),
    ],
)
def test_outputs_match(expected: str, actual: str, same: bool) -> None:
    assert outputs_match(expected, actual) is same


def _page(folder: Path, name: str, *blocks: str) -> Path:
    """A page of python blocks (no output shown) written to ``folder/name``."""
    page = folder / name
    page.write_text("".join(f"```python\n{b}\n```\n\n" for b in blocks), "utf-8")
    return page


def _runs(log: Path) -> str:
    return log.read_text("utf-8") if log.exists() else ""


def test_a_rerun_that_could_only_repeat_the_first_run_stops(tmp_path: Path) -> None:
    """Identical code runs once where that proves as much (tests/pagecheck.py)."""
    log = tmp_path / "log.txt"  # outside the scratch directory: counts executions
    mark = f"open({str(log)!r}, 'a').write"
    # Leaves no file behind: the second page is recorded from the first run.
    pure = [f"{mark}('a')", f"{mark}('b')"]
    first, second = _page(tmp_path, "zh.md", *pure), _page(tmp_path, "en.md", *pure)
    assert run_chapter(first, second) == (2, 2)
    assert _runs(log) == "ab"
    # Leaves a file: the re-run runs, in full, where that file now is.
    log.unlink()
    keeps = [f"{mark}('a'); open('out.txt', 'a').write('1')", f"{mark}('b')"]
    first, second = _page(tmp_path, "zh.md", *keeps), _page(tmp_path, "en.md", *keeps)
    assert run_chapter(first, second) == (2, 2)
    assert _runs(log) == "abab"
    # Empties its folder in the first block: the re-run stops after that block.
    log.unlink()
    fresh = [
        "import shutil, os\nshutil.rmtree('out', ignore_errors=True)\nos.mkdir('out')\n"
        f"open('out/a.txt', 'w').write('1'); {mark}('a')",
        f"{mark}('b'); open('out/b.txt', 'w').write('2')",
    ]
    first, second = _page(tmp_path, "zh.md", *fresh), _page(tmp_path, "en.md", *fresh)
    assert run_chapter(first, second) == (2, 2)
    assert _runs(log) == "aba"
    # A file of the first run that the re-run did not write again: the re-run goes on.
    log.unlink()
    stale = [
        f"{mark}('a')\nimport os\nif not os.path.exists('a.txt'):\n"
        "    open('a.txt', 'w').write('1')",
        f"{mark}('b')",
    ]
    first, second = _page(tmp_path, "zh.md", *stale), _page(tmp_path, "en.md", *stale)
    assert run_chapter(first, second) == (2, 2)
    assert _runs(log) == "abab"
    # Different code in the second page: it runs in full.
    log.unlink()
    first = _page(tmp_path, "zh.md", *pure)
    second = _page(tmp_path, "en.md", pure[0], f"{mark}('c')")
    assert run_chapter(first, second) == (2, 2)
    assert _runs(log) == "abac"

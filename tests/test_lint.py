"""Ruff lints and format-checks the whole tree (config in pyproject.toml [tool.ruff])."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUFF = [sys.executable, "-m", "ruff"]


def test_ruff_check_passes() -> None:
    result = subprocess.run(
        [*RUFF, "check", "."], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr


def test_ruff_format_is_applied() -> None:
    result = subprocess.run(
        [*RUFF, "format", "--check", "."], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr


def test_ruff_would_catch_a_long_line(tmp_path: Path) -> None:
    bad = tmp_path / "snippets_like.py"
    bad.write_text("x = '" + "a" * 100 + "'\n")
    result = subprocess.run(
        [*RUFF, "check", "--config", str(ROOT / "pyproject.toml"), str(bad)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1 and "E501" in result.stdout, result.stdout


def test_no_included_section_ends_in_blank_lines() -> None:
    """A column-0 ``# --8<-- [end:…]`` after a def gets two blank lines from ruff format,
    and the page would show them at the end of the included code: end markers sit at
    the indentation of the line before them, where ruff adds none."""
    found = []
    for path in sorted((ROOT / "snippets").rglob("*.py")):
        lines = path.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines[1:], start=1):
            if line.lstrip().startswith("# --8<-- [end:") and not lines[i - 1].strip():
                found.append(f"{path.relative_to(ROOT)}:{i + 1}")
    assert found == [], found

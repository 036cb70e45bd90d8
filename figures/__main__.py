"""Preview: ``python -m figures [CHAPTER ...]`` writes docs/<lang>/figures/*.svg."""

from __future__ import annotations

import sys
from pathlib import Path

from figures.render import chapters, render_chapter, write_if_changed

DOCS = Path(__file__).resolve().parent.parent / "docs"


def main(argv: list[str]) -> int:
    names = argv or chapters()
    unknown = sorted(set(names) - set(chapters()))
    if unknown:
        print(
            f"no figures module for: {', '.join(unknown)}; have: {chapters()}",
            file=sys.stderr,
        )
        return 2
    for chapter in names:
        for (lang, name), data in render_chapter(chapter).items():
            path = DOCS / lang / "figures" / name
            write_if_changed(path, data)
            print(f"{path.relative_to(DOCS.parent)}  {len(data) / 1024:.0f} KiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

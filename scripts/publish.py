"""Publish the site to a ``gh-pages`` branch, only if every page is verified as it is.

Usage::

    .venv/bin/python scripts/publish.py --remote origin --site-url https://me.github.io/handbook/

1. Every page of every language must have a run record (``build/verified/``, written by
   ``tests/pagecheck.py`` / ``pytest tests/test_pages.py``) for exactly the content being
   published: the page, its expanded includes and the ``snippets`` package
   (``hooks/verified.py``).  Otherwise the command refuses, names the pages, and deploys
   nothing.
2. ``mkdocs gh-deploy`` builds the site with ``SITE_URL`` (absolute canonical links and
   sitemap) and ``HANDBOOK_REQUIRE_VERIFIED=1`` (the build itself fails on a stale stamp,
   so nothing that changes between the check and the build slips through) and pushes it
   with ghp-import to the branch of the remote (a remote name, a URL or a path).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # a script: the `hooks` helpers live in the repository
    sys.path.insert(0, str(ROOT))
from hooks.verified import REQUIRE_ENV, unverified_pages  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--remote",
        required=True,
        help="git remote (name, URL or path) to push the site to",
    )
    parser.add_argument(
        "--site-url",
        default=os.environ.get("SITE_URL"),
        help="the URL the site is served at (default: $SITE_URL)",
    )
    parser.add_argument("--branch", default="gh-pages", help="branch to publish to")
    args = parser.parse_args(argv)
    if not args.site_url or not args.site_url.startswith(("https://", "http://")):
        parser.error(
            f"--site-url (or SITE_URL) must be an http(s) URL, got {args.site_url!r}"
        )
    site_url = args.site_url.rstrip("/") + "/"

    stale = unverified_pages(ROOT)
    if stale:
        print(
            f"publish: refusing to publish, {len(stale)} page(s) are not verified for the "
            "content that would be published (run them with tests/pagecheck.py or "
            "pytest tests/test_pages.py):\n  " + "\n  ".join(stale),
            file=sys.stderr,
        )
        return 1
    env = {
        **os.environ,
        "SITE_URL": site_url,
        REQUIRE_ENV: "1",
        "NO_MKDOCS_2_WARNING": "1",
    }
    command = [
        sys.executable,
        "-m",
        "mkdocs",
        "gh-deploy",
        "--force",
        "--strict",
        "--remote-name",
        args.remote,
        "--remote-branch",
        args.branch,
        "--message",
        f"Publish {site_url} from {{sha}} with MkDocs {{version}}",
    ]
    result = subprocess.run(command, cwd=ROOT, env=env)
    if result.returncode != 0:
        print(
            "publish: the build or the push failed; nothing was published",
            file=sys.stderr,
        )
        return result.returncode
    print(f"publish: {site_url} pushed to {args.remote} ({args.branch})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

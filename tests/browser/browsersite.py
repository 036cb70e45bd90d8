"""Helpers shared by the browser suite: page list, URLs, the static file handler."""

from __future__ import annotations

import gzip
import http.server
import io
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CHROMIUM = Path(os.environ.get("HANDBOOK_CHROMIUM", "/usr/bin/chromium"))
# Flags that keep a headless Chromium quiet and offline on a CI machine (TOOLCHAIN.md).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
SCREENSHOTS = ROOT / "build" / "screenshots"
LANGS = ("zh", "en")


def site_pages() -> list[str]:
    """Every page of the site: the zh/en markdown pages and the chapter notebooks."""
    pages = sorted(
        p.relative_to(ROOT / "docs" / "zh").with_suffix("").as_posix()
        for p in (ROOT / "docs" / "zh").rglob("*.md")
    )
    pages += [f"notebooks/{p.stem}" for p in sorted((ROOT / "notebooks").glob("*.py"))]
    return pages


def page_path(lang: str, page: str) -> str:
    """URL path of ``page`` in ``lang`` (zh at '/', en at '/en/')."""
    prefix = "/en/" if lang == "en" else "/"
    return prefix + ("" if page == "index" else f"{page}/")


COMPRESSED = {".html", ".css", ".js", ".json", ".svg", ".xml", ".ipynb"}


class StaticHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the site like a static host does: text compressed with gzip when asked for."""

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - stdlib signature
        pass

    def send_head(self):
        path = Path(self.translate_path(self.path))
        if path.is_dir():
            if not self.path.split("?")[0].endswith("/"):
                return super().send_head()  # the redirect to the slashed URL
            path = path / "index.html"
        if (
            path.suffix not in COMPRESSED
            or not path.is_file()
            or "gzip" not in self.headers.get("Accept-Encoding", "")
        ):
            return super().send_head()
        body = gzip.compress(path.read_bytes(), compresslevel=6, mtime=0)
        self.send_response(200)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        return io.BytesIO(body)


class QuietServer(http.server.ThreadingHTTPServer):
    """A browser that cancels a request (navigation, closed tab) is not an error."""

    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)

"""The one place the build reaches into other packages' internals, checked by version.

* mkdocs-static-i18n: the attributes its folder structure sets on each ``File``
  (``locale``, ``alternates``, ``norm_src_uri``...), which generated pages must carry too;
* mkdocs-jupyter: its notebook-to-HTML converter (``mkdocs_jupyter.convert.nb2html``).

Each was written against the versions in :data:`TESTED`.  Another major.minor version
fails the build with a message saying what to re-check, instead of a wrong site.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

from mkdocs.exceptions import PluginError

# distribution -> the major.minor versions this adapter was written and tested for
TESTED = {"mkdocs-static-i18n": ("1.3",), "mkdocs-jupyter": ("0.26",)}


def check_version(distribution: str) -> str:
    """The installed version of ``distribution``; a PluginError if it was never tested."""
    try:
        version = metadata.version(distribution)
    except metadata.PackageNotFoundError:
        raise PluginError(
            f"{distribution} is not installed (hooks/compat.py)"
        ) from None
    if ".".join(version.split(".")[:2]) not in TESTED[distribution]:
        raise PluginError(
            f"{distribution} {version} is installed, but hooks/compat.py was written for "
            f"{', '.join(TESTED[distribution])}.x: re-check the internals it uses, then "
            "add the version to TESTED"
        )
    return version


def mark_i18n_file(file, lang: str, norm_src_uri: str, alternates: dict | None = None):
    """Give a generated ``File`` the attributes static-i18n's own files carry.

    Args:
        file: a ``mkdocs.structure.files.File`` made by a hook.
        lang: its language (``zh`` / ``en``).
        norm_src_uri: its path without the language folder (``notebooks/x.md``).
        alternates: ``{lang: File}`` of its twins in other languages (itself included).
    """
    check_version("mkdocs-static-i18n")
    file.locale = lang
    file.localization = lang
    file.locale_alternate_of = lang
    file.norm_src_uri = norm_src_uri
    file.alternates = {lang: file, **(alternates or {})}
    return file


def notebook_html(ipynb: Path) -> str:
    """HTML of an executed notebook file, rendered by mkdocs-jupyter without executing it,
    without require.js and without MathJax (formulas are rendered by hooks/katex_math.py)."""
    check_version("mkdocs-jupyter")
    from mkdocs_jupyter import convert

    return convert.nb2html(
        str(ipynb),
        execute=False,
        allow_errors=False,
        include_requirejs=False,
        custom_mathjax_url="",
        no_prompt=True,
    )

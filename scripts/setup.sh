#!/usr/bin/env bash
# Set up everything the site and the tests need, idempotently:
# a virtualenv (.venv) with the pinned Python packages and KaTeX (node_modules) from npm.
set -euo pipefail
cd "$(dirname "$0")/.."
UV_VERSION=0.13.9  # the installer for the pinned packages (not itself in constraints.txt)

[ -x .venv/bin/python ] || python3 -m venv .venv
# constraints.txt is a freeze of a working .venv (scripts/freeze.sh): every package pinned.
# Installing exactly that list with --no-deps skips dependency resolution, and --no-compile
# leaves byte-compiling to one parallel compileall below; `pip check` then proves the
# pinned set is complete and consistent. (pip freeze leaves setuptools out, and torch
# needs setuptools>=77.0.3: pinned here.)
# torch comes through pip, which finds the CPU wheel where pip is configured to look
# (TOOLCHAIN.md); the other ~110 packages through uv, which fetches and unpacks in
# parallel: 18 s where pip took 50 s on 2 cores. Both run at once (disjoint packages).
# Without uv (no network to PyPI for it, say) pip installs everything, only slower.
pip=(.venv/bin/pip --disable-pip-version-check)
pinned_torch=$(grep '^torch==' constraints.txt)
grep -v '^torch==' constraints.txt >.venv/constraints-without-torch.txt
"${pip[@]}" install --quiet --no-compile --no-deps "$pinned_torch" &
torch_install=$!
if { [ -x .venv/bin/uv ] || "${pip[@]}" install --quiet --no-compile "uv==$UV_VERSION"; } &&
    .venv/bin/uv pip install --quiet --python .venv/bin/python --no-deps \
        -r .venv/constraints-without-torch.txt "setuptools==84.2.1"; then
    :
else
    echo "setup.sh: uv could not install the packages; pip installs them" >&2
    "${pip[@]}" install --quiet --no-compile --no-deps \
        -r .venv/constraints-without-torch.txt "setuptools==84.2.1"
fi
wait "$torch_install"
# The package itself, built with the setuptools just installed (no isolated build
# environment to download and set up).
"${pip[@]}" install --quiet --no-compile --no-deps --no-build-isolation -e .
if ! "${pip[@]}" check >/tmp/pip-check.$$ 2>&1; then
    cat /tmp/pip-check.$$ >&2
    echo "setup.sh: constraints.txt is incomplete or inconsistent; run scripts/freeze.sh" >&2
    exit 1
fi
rm -f /tmp/pip-check.$$
# Byte-compile the installed packages once, on all cores. Where PYTHONDONTWRITEBYTECODE=1
# is set (as on the CI machines), Python never writes a .pyc at import, so without this
# every process (each test worker, torchrun rank, kernel, build) compiles torch, scipy and
# the rest from source again: `import torch, sklearn.datasets` takes 10.5 s instead of 5.
# Left out: torch's testing/_internal (Python-3.12-only files, never imported here), the
# ~2,800 model modules of transformers that PEFT never imports (it loads models/auto),
# pip itself and the packages' own test suites (`tests/` folders, ~2,200 files): 5,400
# of 15,300 files. A file left out or that does not compile is only
# compiled at import, so a failure here is a warning.
# It runs in the background while npm and apt-get download (waited for at the end).
if [ ! .venv/.bytecode -nt constraints.txt ]; then
    (
        .venv/bin/python -m compileall -q -j 0 \
            -x '/testing/_internal/|/transformers/models/(?!auto/)|/site-packages/pip/|/site-packages/.+/tests?/' \
            .venv/lib/python3*/site-packages >/dev/null ||
            echo "setup.sh: some installed files did not byte-compile (compiled at import)" >&2
        touch .venv/.bytecode
    ) &
fi
npm ci --no-audit --no-fund --loglevel=error
# The browser tests drive Debian's Chromium (plus a CJK font, or Chinese renders as boxes).
if ! command -v chromium >/dev/null || ! fc-list 2>/dev/null | grep -qi "WenQuanYi Micro Hei"; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -qq --no-install-recommends chromium fonts-wqy-microhei >/dev/null
    else
        echo "setup.sh: install chromium and fonts-wqy-microhei (apt-get) for tests/browser" >&2
    fi
fi
wait  # the byte-compilation

#!/usr/bin/env bash
# Set up everything the site and the tests need, idempotently:
# a virtualenv (.venv) with the pinned Python packages and KaTeX (node_modules) from npm.
set -euo pipefail
cd "$(dirname "$0")/.."

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[test]"
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

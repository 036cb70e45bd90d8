#!/usr/bin/env bash
# Set up everything the site and the tests need, idempotently:
# a virtualenv (.venv) with the pinned Python packages and KaTeX (node_modules) from npm.
set -euo pipefail
cd "$(dirname "$0")/.."

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[test]"
npm ci --no-audit --no-fund --loglevel=error

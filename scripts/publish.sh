#!/usr/bin/env bash
# Publish the verified site to gh-pages: scripts/publish.sh REMOTE SITE_URL
# (see scripts/publish.py: refuses, naming the pages, unless every page is verified).
set -euo pipefail
cd "$(dirname "$0")/.."
exec "${PYTHON:-.venv/bin/python}" scripts/publish.py --remote "$1" --site-url "$2"

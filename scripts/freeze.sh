#!/usr/bin/env bash
# Rewrite constraints.txt from the current .venv (after adding or upgrading a dependency).
set -euo pipefail
cd "$(dirname "$0")/.."
{
  echo "# Pinned versions tested together (Python 3.11, CPU). torch==2.13.0 resolves to the CPU wheel;"
  echo "# an unpinned torch would download a multi-GB CUDA build. Regenerate with scripts/freeze.sh."
  .venv/bin/pip freeze --exclude-editable --exclude uv | sed 's/+cpu$//'
} > constraints.txt

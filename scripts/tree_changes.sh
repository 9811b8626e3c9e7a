#!/usr/bin/env bash
# What in this checkout differs from its last commit, a line per path (git status
# --porcelain), ignored files included: a report or chart written into the checkout is
# ignored by .gitignore, and must show here. Left out: what tools keep for themselves
# (.venv, __pycache__, the caches of pytest, mypy and ruff). Prints nothing in a clean
# checkout; the test session compares this before and after, and .ci/run wants it empty.
set -euo pipefail
cd "$(dirname "$0")/.."
git status --porcelain --ignored --untracked-files=normal \
    | grep -v -E '^!! (\.venv|\.pytest_cache|\.mypy_cache|\.ruff_cache)/$|(^|/)__pycache__/$' \
    || true

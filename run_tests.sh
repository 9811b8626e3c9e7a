#!/usr/bin/env bash
# Set up .venv (runtime + test dependencies) and run the test suite.
# Extra arguments go to pytest, e.g. ./run_tests.sh tests/test_monitor.py -x
set -euo pipefail
cd "$(dirname "$0")"
source scripts/ensure_venv.sh
ensure_venv memory_analysis_requirements.txt requirements-test.txt
exec "$VENV_PYTHON" -m pytest "$@"

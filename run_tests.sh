#!/usr/bin/env bash
# Set up .venv (runtime + test dependencies) and run the test suite.
# Extra arguments go to pytest, e.g. ./run_tests.sh tests/test_monitor.py -x
set -euo pipefail
cd "$(dirname "$0")"
source scripts/ensure_venv.sh
ensure_venv memory_analysis_requirements.txt requirements-test.txt
# The tests start the tools as new processes hundreds of times: compiled once here, their
# modules are not compiled again at every start (where PYTHONDONTWRITEBYTECODE is set, as
# on this project's machines, Python would do that each time: 50 s more for the suite).
"$VENV_PYTHON" -m compileall -q memory_analysis > /dev/null
exec "$VENV_PYTHON" -m pytest "$@"

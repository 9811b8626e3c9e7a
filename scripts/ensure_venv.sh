#!/usr/bin/env bash
# Sourced by run_tests.sh and run_memory_analysis.sh: make sure .venv exists, runs a
# Python the suite supports, and holds the requirement files given as arguments. Each
# file has its own stamp in .venv, so pip runs only for a file whose contents changed
# since it was last installed, and the two scripts do not undo each other's work.
# PYTHON=/path/to/python3.12 picks the interpreter .venv is made with (default python3).
# Errors are one line, named after the script that was run (run_tests.sh: error: ...).

# The oldest Python the suite runs on: pyproject.toml's requires-python, its one home.
python_needed() {
    sed -n 's/^requires-python *= *"[^0-9]*\([0-9][0-9.]*\).*/\1/p' "$1/pyproject.toml"
}

# True when "$1" runs Python "$2" or newer; else one line on stderr naming both.
python_is_new_enough() {
    local python="$1" needed="$2" found
    found="$("$python" -c 'import platform; print(platform.python_version())' 2>/dev/null)" \
        || { echo "$(basename "$0"): error: cannot run $python (set PYTHON to a Python $needed or newer)" >&2; return 1; }
    if ! "$python" -c "import sys; sys.exit(sys.version_info[:2] < tuple(map(int, '$needed'.split('.'))))"; then
        echo "$(basename "$0"): error: $python is Python $found; the suite needs Python $needed or newer (set PYTHON=/path/to/python$needed, and remove .venv if it was made with the old one)" >&2
        return 1
    fi
}

ensure_venv() {
    local root venv f stamp want needed python
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    venv="$root/.venv"
    needed="$(python_needed "$root")"
    if [ ! -x "$venv/bin/python" ]; then
        python="${PYTHON:-python3}"
        python_is_new_enough "$python" "$needed" || return 1
        echo "Creating virtual environment in $venv" >&2
        "$python" -m venv "$venv" || { echo "$(basename "$0"): error: could not create $venv (is python3-venv installed?)" >&2; return 1; }
    fi
    python_is_new_enough "$venv/bin/python" "$needed" || return 1
    for f in "$@"; do
        stamp="$venv/.installed-$(basename "$f").sha256"
        want="$(sha256sum "$root/$f" | cut -d' ' -f1)"
        if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
            echo "Installing dependencies from $f" >&2
            "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$root/$f" \
                || { echo "$(basename "$0"): error: installing $f failed" >&2; return 1; }
            echo "$want" > "$stamp"
        fi
    done
    VENV_PYTHON="$venv/bin/python"
}

#!/usr/bin/env bash
# Sourced by run_tests.sh and run_memory_analysis.sh: make sure .venv exists and
# holds the requirement files given as arguments. Each file has its own stamp in .venv,
# so pip runs only for a file whose contents changed since it was last installed, and
# the two scripts do not undo each other's work.
ensure_venv() {
    local root venv f stamp want
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    venv="$root/.venv"
    if [ ! -x "$venv/bin/python" ]; then
        echo "Creating virtual environment in $venv" >&2
        python3 -m venv "$venv" || { echo "error: could not create $venv (is python3-venv installed?)" >&2; return 1; }
    fi
    for f in "$@"; do
        stamp="$venv/.installed-$(basename "$f").sha256"
        want="$(sha256sum "$root/$f" | cut -d' ' -f1)"
        if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
            echo "Installing dependencies from $f" >&2
            "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$root/$f" \
                || { echo "error: installing $f failed" >&2; return 1; }
            echo "$want" > "$stamp"
        fi
    done
    VENV_PYTHON="$venv/bin/python"
}

#!/usr/bin/env bash
# Sourced by run_tests.sh and run_memory_analysis.sh: make sure .venv exists and
# holds the requirement files given as arguments. pip runs only when the files'
# contents changed since the last install, so repeated runs start at once.
ensure_venv() {
    local root venv stamp want
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    venv="$root/.venv"
    if [ ! -x "$venv/bin/python" ]; then
        echo "Creating virtual environment in $venv" >&2
        python3 -m venv "$venv" || { echo "error: could not create $venv (is python3-venv installed?)" >&2; return 1; }
    fi
    stamp="$venv/.installed-requirements.sha256"
    want="$(cd "$root" && cat "$@" | sha256sum | cut -d' ' -f1)"
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        echo "Installing dependencies from: $*" >&2
        local args=()
        for f in "$@"; do args+=(-r "$root/$f"); done
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${args[@]}" \
            || { echo "error: dependency installation failed" >&2; return 1; }
        echo "$want" > "$stamp"
    fi
    VENV_PYTHON="$venv/bin/python"
}

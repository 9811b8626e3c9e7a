#!/usr/bin/env bash
# The main job: set up .venv (first run, or when the requirements changed) and run the
# whole memory analysis. Without options it analyses the bundled demo service.
# Every option goes to memory_analysis_runner.py (e.g. --quick, --url ..., --service-cmd ...),
# except --confirm, which asks before starting. It never prompts otherwise.
set -euo pipefail
cd "$(dirname "$0")"

confirm=0
args=()
for arg in "$@"; do
    if [ "$arg" = "--confirm" ]; then confirm=1; else args+=("$arg"); fi
done

source scripts/ensure_venv.sh
ensure_venv memory_analysis_requirements.txt

if [ "$confirm" = 1 ]; then
    read -r -p "Run the memory analysis (memory_analysis_runner.py ${args[*]:-}) now? [y/N] " answer
    case "$answer" in [yY]*) ;; *) echo "Cancelled."; exit 0 ;; esac
fi

status=0
"$VENV_PYTHON" memory_analysis_runner.py "${args[@]+"${args[@]}"}" || status=$?
output_dir=memory_analysis_results
for ((i = 0; i < ${#args[@]}; i++)); do
    case "${args[$i]}" in
        --output-dir) output_dir="${args[$((i + 1))]:-$output_dir}" ;;
        --output-dir=*) output_dir="${args[$i]#--output-dir=}" ;;
    esac
done
if [ -f "$output_dir/comprehensive_memory_analysis.json" ]; then
    echo "Reports are in $output_dir/ (start with comprehensive_memory_analysis.json)"
fi
exit "$status"

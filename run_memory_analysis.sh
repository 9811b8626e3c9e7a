#!/usr/bin/env bash
# The main job: set up .venv beside this script (first run, or when the requirements
# changed) and run the whole memory analysis. Without options it analyses the bundled
# demo service. Every option goes to memory_analysis_runner.py (e.g. --quick, --url ...,
# --service-cmd ...); it never prompts. It runs in the directory it was called from:
# relative paths in the options, and the service command, mean what they mean there.
set -euo pipefail
suite="$(cd "$(dirname "$0")" && pwd)"

args=("$@")

source "$suite/scripts/ensure_venv.sh"
ensure_venv memory_analysis_requirements.txt

started="$(mktemp)"
trap 'rm -f "$started"' EXIT
status=0
"$VENV_PYTHON" "$suite/memory_analysis_runner.py" "${args[@]+"${args[@]}"}" || status=$?
output_dir=memory_analysis_results
quiet=0
for ((i = 0; i < ${#args[@]}; i++)); do
    case "${args[$i]}" in
        --output-dir) output_dir="${args[$((i + 1))]:-$output_dir}" ;;
        --output-dir=*) output_dir="${args[$i]#--output-dir=}" ;;
        --quiet|-q) quiet=1 ;;
    esac
done
# Only a report this run wrote: an earlier run's must not pass for it. --quiet: errors only.
if [ "$quiet" = 0 ] && [ "$output_dir/comprehensive_memory_analysis.json" -nt "$started" ]; then
    echo "Reports are in $output_dir/ (start with comprehensive_memory_analysis.json)"
fi
exit "$status"

#!/usr/bin/env python3
"""The whole memory analysis: see MEMORY_ANALYSIS_README.md or run with --help."""

from memory_analysis.cli.runner import main

if __name__ == "__main__":
    main()

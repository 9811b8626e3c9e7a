#!/usr/bin/env python3
"""Concurrent-user load tester: see MEMORY_ANALYSIS_README.md or run with --help."""

from memory_analysis.cli.load_tester import main

if __name__ == "__main__":
    main()

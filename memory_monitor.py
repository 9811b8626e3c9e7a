#!/usr/bin/env python3
"""Real-time memory monitor: see MEMORY_ANALYSIS_README.md or run with --help."""

from memory_analysis.cli.monitor import main

if __name__ == "__main__":
    main()

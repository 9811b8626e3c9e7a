"""Memory analysis suite: sample a web service's memory while load-testing it.

The package is a library; the command-line front ends live in ``memory_analysis.cli``
and the top-level scripts ``memory_monitor.py``, ``load_tester.py`` and
``memory_analysis_runner.py``.
"""

__version__ = "0.1.0"

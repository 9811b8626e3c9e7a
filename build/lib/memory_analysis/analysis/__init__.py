"""Analysis: pure functions from samples and load figures to the report's verdict.

``analyze`` is the one entry point the runner needs; the modules behind it each do one
job (series selection, phase figures, memory figures, leak verdict, level, sizing,
plans, scaling, suggestions) and can be called on their own.
"""

from memory_analysis.analysis.analyze import analyze, load_figures
from memory_analysis.analysis.catalogs import load_catalogs

__all__ = ["analyze", "load_catalogs", "load_figures"]

"""Analysis: pure functions from samples and load figures to the report's verdict.

``analyze.analyze`` is the one entry point the runner needs; the modules behind it each
do one job (series selection, phase figures, memory figures, leak verdict, level,
sizing, plans, scaling, suggestions) and can be called on their own. Nothing is imported
here: the monitor uses ``stats`` alone and must not pay for the rest.
"""

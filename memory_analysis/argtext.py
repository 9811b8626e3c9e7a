"""Numbers written into a tool's command line (the runner starts the monitor and the
load tester from their configurations): exact, and in a form every option parses back.

``f"{x:g}"`` keeps six digits (a 1234567 s duration becomes 1.23457e+06) and writes small
numbers with an exponent (1e-05), which a range like ``--think-time 1e-05-0.5`` cannot
be read back from. Positional decimal notation of the shortest exact repr has neither
fault.
"""

from __future__ import annotations


def number(value: float) -> str:
    """``value`` as exact positional decimal text: 1e-05 -> "0.00001", 30.0 -> "30"."""
    from decimal import Decimal  # only the runner writes command lines; tools start lean

    text = format(Decimal(repr(float(value))), "f")
    return text[:-2] if text.endswith(".0") else text

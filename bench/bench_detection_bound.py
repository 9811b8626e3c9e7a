#!/usr/bin/env python3
"""The most any test could find: a linear leak against the healthy warm-up most like it.

A leak of r MB/min over a load of T seconds and a healthy warm-up, ``R·(1 − e^(−t/τ))``,
with τ up to the longest the corpus holds healthy (300 s) and R whatever fits best, draw
nearly the same curve when τ is long against T. No test can tell them apart better than
the likelihood-ratio test of the one against the other with the noise known exactly
(Neyman-Pearson): its power at error rate α is ``Φ(d − z₁₋α)``, where ``d`` is the
distance between the two curves in units of the noise (generalised least squares under
the noise's AR(1) covariance). A verdict that must never call such a warm-up a leak
can find no more leaks than this.

    .venv/bin/python bench/bench_detection_bound.py
    .venv/bin/python bench/bench_detection_bound.py --load 300

Prints, for the corpus's noises (bench/corpus.py) and leaks of 1, 2 and 5 MB/min, the
distance and the highest power at α = 1/1000 (the leak verdict's) and 1/100.
"""

from __future__ import annotations

import argparse
import math
from statistics import NormalDist

import numpy as np

NOISES = ((0.05, 0.8), (0.05, 0.95), (0.2, 0.8), (0.2, 0.95), (0.5, 0.8), (0.5, 0.95))
RATES = (1.0, 2.0, 5.0)
ALPHAS = (0.001, 0.01)


def distance(sd_mb: float, phi: float, rate_mb_per_min: float, tau_s: float,
             load_s: float, interval_s: float) -> float:
    """How far a leak's line lies from the nearest warm-up with time constant ``tau_s``
    (any level, any rise), in units of AR(1) noise."""
    n = int(load_s / interval_s)
    t = np.arange(n) * interval_s
    line = rate_mb_per_min / 60.0 * t
    lags = np.abs(np.arange(n)[:, None] - np.arange(n)[None, :])
    precision = np.linalg.inv(sd_mb ** 2 * phi ** lags)
    curves = np.column_stack([np.ones(n), 1.0 - np.exp(-t / tau_s)])
    fit = np.linalg.solve(curves.T @ precision @ curves, curves.T @ precision @ line)
    gap = line - curves @ fit
    return math.sqrt(gap @ precision @ gap)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--load", type=float, default=120.0, help="load seconds (default 120)")
    parser.add_argument("--tau", type=float, default=300.0,
                        help="the warm-up's time constant, s (default 300)")
    parser.add_argument("--interval", type=float, default=0.5, help="sampling interval, s")
    args = parser.parse_args()
    normal = NormalDist()
    print(f"load {args.load:g} s, warm-up time constant {args.tau:g} s, sampled every "
          f"{args.interval:g} s: distance d, and the highest power at alpha = "
          + " / ".join(f"{a:g}" for a in ALPHAS))
    print()
    print("| noise (sd, per-sample correlation) | " + " | ".join(
        f"{r:g} MB/min" for r in RATES) + " |")
    print("|---|" + "---|" * len(RATES))
    for sd, phi in NOISES:
        cells = []
        for rate in RATES:
            d = distance(sd, phi, rate, args.tau, args.load, args.interval)
            powers = " / ".join(f"{normal.cdf(d - normal.inv_cdf(1 - a)):.0%}" for a in ALPHAS)
            cells.append(f"d {d:.1f}: {powers}")
        print(f"| {sd:g} MB, phi {phi:g} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

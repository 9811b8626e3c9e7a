"""Recorded memory traces of real services (``bench/traces/*.json.gz``, made by
``bench/record_traces.py``), ready to be judged again by the analysis:

    from traces import load_trace, load_all
    from memory_analysis.analysis.analyze import analyze
    trace = load_trace("bench/traces/node_leak_attached.json.gz")
    blocks = analyze(trace.samples, trace.load_test, trace.options)
    blocks["memory"]["leak"]["verdict"], trace.truth      # "leak", "leak"

``samples``, ``load_test`` and ``options`` are what ``memory_analysis.runner.session``
passes to ``analyze()`` in a real run, with these differences: each sample keeps only the
figures the analysis reads (``t``, ``phase``, ``load_users``, ``cycle``; ``process``:
``tree_service_mb``, ``tree_mb``, ``rss_mb``, ``hwm_mb``; ``cgroup``: ``working_set_mb``,
``usage_mb``, ``peak_mb``, ``limit_mb``, ``percent``; ``system``: ``percent``,
``total_mb``), rounded to 3 decimals, so the per-process, garbage collection and
component breakdowns are empty; the load figures have no per-category table; and the
plan catalogs are the bundled ones (none of these runs named a plan or a target).
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TRACES = Path(__file__).resolve().parent / "traces"
TRUTHS = ("healthy", "leak")


@dataclass
class Trace:
    """One recorded run.

    ``truth``: "healthy" or "leak", what the service was built to do (not what the
    engine said). ``how``: the command and conditions (mode "runner" | "attached" |
    "demo", busy or quiet, phases in seconds, date, the runner's arguments, the command
    that remakes it). ``recorded``: the verdict the engine gave when it was recorded, for
    reference only. ``configuration``: the report's ``config`` block.
    """

    name: str
    truth: str
    service: str
    what: str
    how: dict[str, Any]
    samples: list[dict[str, Any]]
    load_test: dict[str, Any]
    options: dict[str, Any]
    configuration: dict[str, Any] = field(default_factory=dict)
    recorded: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    @property
    def busy(self) -> bool:
        return bool(self.how.get("busy"))


def load_trace(path: str | Path) -> Trace:
    """The trace in ``path`` (a ``.json.gz`` file, or a name in ``bench/traces``)."""
    path = Path(path)
    if not path.exists() and not path.suffix:
        path = TRACES / f"{path}.json.gz"
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        data = json.load(handle)
    if data.get("truth") not in TRUTHS:
        raise ValueError(f"{path}: truth must be one of {TRUTHS}, not {data.get('truth')!r}")
    options = dict(data.get("options") or {})
    # The runner passes the load tester's runs on the samples' clock as ``segments``;
    # a trace whose runs were not recorded falls back to analyze()'s default (one run
    # over the load phase, from the load figures).
    if data.get("segments") is not None:
        options["segments"] = [dict(s) for s in data["segments"]]
    return Trace(name=data["name"], truth=data["truth"], service=data.get("service", ""),
                 what=data.get("what", ""), how=data.get("how") or {},
                 samples=data["samples"], load_test=data.get("load_test") or {},
                 options=options, configuration=data.get("configuration") or {},
                 recorded=data.get("recorded") or {}, path=path)


def load_all(directory: str | Path = TRACES) -> list[Trace]:
    """Every trace in ``directory``, by name."""
    return [load_trace(p) for p in sorted(Path(directory).glob("*.json.gz"))]


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from memory_analysis.analysis.analyze import analyze

    print(f"{'trace':30} {'truth':8} {'recorded':22} {'now':22} {'samples':>7}")
    for trace in load_all(sys.argv[1] if len(sys.argv) > 1 else TRACES):
        leak = analyze(trace.samples, trace.load_test, trace.options)["memory"]["leak"]
        then = f"{trace.recorded.get('verdict')} ({trace.recorded.get('confidence')})"
        now = f"{leak['verdict']} ({leak.get('confidence')})"
        print(f"{trace.name:30} {trace.truth:8} {then:22} {now:22} {len(trace.samples):7d}")

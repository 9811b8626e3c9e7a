"""suggestions(): advice in the terms of the runtime in front of it, naming the user's
own endpoints, on hand-built report blocks."""

from __future__ import annotations

import pytest

from memory_analysis.analysis.suggestions import suggestions

PYTHON_ONLY = ("tracemalloc", "memray", "pymalloc", "MALLOC_ARENA_MAX", "PYTHONPATH",
               "sitecustomize")
LEAK = {"suspected": True, "verdict": "leak", "follows": "requests",
        "bytes_per_request": 40_000}
TIME_LEAK = {"suspected": True, "verdict": "leak", "follows": "time"}
HELD = {"suspected": False, "verdict": "no leak"}
JUDGED = {"judged_against": {"source": "target_memory", "limit_mb": 200.0}}
SCALING = {"basis": "steps", "strategy": "horizontal"}


def advice(leak: dict, runtime: str | None, recovery: float = 100.0,
           load: dict | None = None) -> list[str]:
    memory = {"peak_mb": 150.0, "leak": leak, "recovery_percent": recovery,
              "held_mb": 60.0}
    return suggestions(memory, JUDGED, load, SCALING, runtime)


def mentions(said: list[str], *words: str) -> bool:
    return any(word in text for text in said for word in words)


# Each runtime's own tool for finding a leak, and for holding memory in bounds.
OWN_TOOLS = {
    "cpython": (("tracemalloc", "memray"), ("MALLOC_ARENA_MAX", "pymalloc")),
    "node": (("--heapsnapshot-signal=SIGUSR2", "--inspect", "Memory tab"),
             ("--max-old-space-size",)),
    "jvm": (("jcmd <pid> GC.heap_dump", "-XX:+HeapDumpOnOutOfMemoryError"),
            ("-Xmx", "-XX:MaxRAMPercentage")),
    "go": (("/debug/pprof/heap", "go tool pprof -diff_base"), ("GOMEMLIMIT",)),
}


@pytest.mark.parametrize("runtime", sorted(OWN_TOOLS))
def test_each_runtime_gets_its_own_tools(runtime):
    find, bound = OWN_TOOLS[runtime]
    for leak in (LEAK, TIME_LEAK):
        said = advice(leak, runtime)
        assert all(mentions(said, word) for word in find), said
    held = advice(HELD, runtime, recovery=5.0)
    assert all(mentions(held, word) for word in bound), held
    others = {w for r, (f, b) in OWN_TOOLS.items() if r != runtime for w in f + b}
    # MALLOC_ARENA_MAX is glibc's: true of the JVM's native memory as of CPython's.
    others -= {"MALLOC_ARENA_MAX"} if runtime == "jvm" else set()
    for said in (advice(LEAK, runtime), advice(TIME_LEAK, runtime), held):
        assert not mentions(said, *others), (runtime, said)


@pytest.mark.parametrize("runtime", ["node", "go", "other", None])
def test_no_python_advice_for_any_other_runtime(runtime):
    for said in (advice(LEAK, runtime), advice(TIME_LEAK, runtime),
                 advice(HELD, runtime, recovery=5.0)):
        assert not mentions(said, *PYTHON_ONLY), said
        assert not mentions(said, "Python"), said
    assert mentions(advice(LEAK, runtime), "heap snapshots", "heap profiles")


def test_heavy_endpoints_are_named_by_the_users_own_names_slowest_first():
    load = {"categories": {"light": {"latency_ms": {"p95": 20}},
                           "heavy": {"latency_ms": {"p95": 900}}},
            "endpoints": [
                {"name": "export_csv", "category": "heavy", "requests": 50,
                 "latency_ms": {"p95": 1200}},
                {"name": "search", "category": "heavy", "requests": 300,
                 "latency_ms": {"p95": 700}},
                {"name": "report_pdf", "category": "heavy", "requests": 10,
                 "latency_ms": {"p95": 2500}},
                {"name": "never_sent", "category": "heavy", "requests": 0,
                 "latency_ms": {"p95": None}},
                {"name": "thumbnail", "category": "heavy", "requests": 40,
                 "latency_ms": {"p95": 300}},
                {"name": "home", "category": "light", "requests": 900,
                 "latency_ms": {"p95": 5000}}]}
    heavy = [s for s in advice(HELD, "node", load=load) if s.startswith("Heavy endpoints")]
    assert len(heavy) == 1
    text = heavy[0]
    assert "report_pdf (p95 2500 ms), export_csv (p95 1200 ms), search (p95 700 ms)" in text
    assert "thumbnail" not in text and "home" not in text and "never_sent" not in text
    assert "indicators" not in text and "pattern detection" not in text
    # Without per-endpoint figures (an older report), the category alone.
    load.pop("endpoints")
    text = next(s for s in advice(HELD, "node", load=load) if s.startswith("Heavy"))
    assert "slowest" not in text and "p95 900 ms" in text

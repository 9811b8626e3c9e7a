"""The breakdown from samples with known answers: an unbalanced worker is named, GC per
phase is the difference of cumulative counters (a worker that starts mid-phase counts
from its first report), and memory by component splits each process's memory as its
snapshot traced it."""

from __future__ import annotations

from memory_analysis.analysis.breakdown import breakdown


def sample(t, phase, processes, python=None):
    return {"t": t, "time": 1000.0 + t, "phase": phase,
            "process": {"tree_mb": sum(p["pss_mb"] for p in processes.values()),
                        "processes": processes},
            "python": python}


def proc(role, mb):
    return {"name": "python", "role": role, "rss_mb": mb + 5, "pss_mb": mb}


def gc(collections, pause_total=0.0, pause_max=0.0):
    return {"gc": {"collections": collections, "collected": [c * 10 for c in collections],
                   "uncollectable": [0, 0, 0], "pauses": sum(collections),
                   "pause_total_s": pause_total, "pause_max_s": pause_max}}


def phase_at(t):
    return "baseline" if t < 10 else "load" if t < 20 else "cooldown"


def test_the_worker_that_did_the_growing_is_named():
    samples = []
    for t in range(30):
        grow = 40.0 if 10 <= t else 0.0
        samples.append(sample(t, phase_at(t), {
            "1": proc("master", 20.0), "2": proc("worker", 30.0 + (t % 2) * 0.1),
            "3": proc("worker", 30.0 + grow), "4": proc("worker", 30.0 + (1.0 if t >= 10 else 0))}))
    result = breakdown(samples)["processes"]
    rows = {r["pid"]: r for r in result["processes"]}
    assert rows[1]["role"] == "master" and result["processes"][0]["pid"] == 1
    assert rows[3]["growth_under_load_mb"] == 40.0 and rows[3]["held_after_load_mb"] == 40.0
    unbalanced = [n for n in result["notes"] if "unbalanced" in n]
    assert len(unbalanced) == 1 and "worker 3 " in unbalanced[0]
    assert any("worker 3 " in n and "still held" in n for n in result["notes"])
    assert not any("worker 2 " in n or "worker 4 " in n for n in result["notes"])


def test_gc_per_phase_is_the_difference_of_cumulative_counters():
    samples = []
    for t in range(30):
        python = {"1": gc([t * 2, t // 5, 0], pause_total=t * 0.01,
                          pause_max=0.05 if t == 15 else 0.001)}
        if t >= 12:  # a worker that starts during the load
            python["2"] = gc([100 + (t - 12) * 3, 0, 0], pause_total=1.0 + (t - 12) * 0.02)
        samples.append(sample(t, phase_at(t), {"1": proc("master", 20.0)}, python))
    phases = breakdown(samples)["gc"]
    # Process 1: 2 collections a second; the load runs from its reading at t=9 to t=19.
    assert phases["baseline"]["collections"][0] == 18
    assert phases["load"]["collections"][0] == (38 - 18) + (100 + 7 * 3 - 100)
    assert phases["load"]["processes"] == 2
    assert phases["load"]["pause_longest_s"] == 0.05
    assert abs(phases["load"]["pause_total_s"] - (0.10 + 0.14)) < 1e-9
    assert phases["cooldown"]["collections"][0] == (58 - 38) + (3 * 17 - 3 * 7)


def test_gc_of_recurring_phases_adds_up_over_the_cycles():
    """With --cycles the load and the cooldown recur: each gets what happened while it
    ran, however the samples interleave."""
    def phase(t):  # baseline 0-9, load 10-14, cooldown 15-19, load 20-24, cooldown 25-29
        return "baseline" if t < 10 else ("load" if (t - 10) % 10 < 5 else "cooldown")
    samples = [sample(t, phase(t), {"1": proc("master", 20.0)},
                      {"1": gc([t, 0, 0], pause_total=t * 0.001)}) for t in range(30)]
    phases = breakdown(samples)["gc"]
    assert phases["baseline"]["collections"][0] == 9
    assert phases["load"]["collections"][0] == 10
    assert phases["cooldown"]["collections"][0] == 10
    assert phases["load"]["watched_s"] == 10.0
    assert abs(phases["load"]["gc_time_percent"] - 0.1) < 1e-9


def test_memory_is_split_by_component_as_traced_and_the_rest_is_the_runtime():
    traced = {"tracemalloc": {"current_mb": 30.0, "peak_mb": 30.0, "overhead_mb": 5.0,
                              "at": 1000.0 + 5, "components_mb": {"api": 10.0, "db": 20.0}}}
    big = {"tracemalloc": {"current_mb": 70.0, "peak_mb": 70.0, "overhead_mb": 5.0,
                           "at": 1000.0 + 15, "components_mb": {"api": 10.0, "db": 60.0}}}
    samples = []
    for t in range(30):
        python = {"1": dict(traced if t < 15 else big, gc=gc([0, 0, 0])["gc"])}
        mb = 50.0 if t < 15 else 90.0
        samples.append(sample(t, phase_at(t), {"1": proc("master", mb),
                                               "7": proc("worker", 4.0)}, python))
    result = breakdown(samples)["components"]
    assert result["available"] is True
    rows = {r["name"]: r for r in result["components"]}
    assert rows["db"]["baseline_end_mb"] == 20.0 and rows["db"]["peak_mb"] == 60.0
    assert rows["Python runtime"]["baseline_end_mb"] == 15.0   # 50 - 30 traced - 5
    assert rows["Python runtime"]["peak_mb"] == 15.0            # 90 - 70 - 5
    assert rows["tracemalloc (measuring)"]["peak_mb"] == 5.0
    assert rows["other processes"]["peak_mb"] == 4.0            # no agent in process 7
    assert abs(sum(r["peak_share_percent"] for r in rows.values()) - 100.0) < 0.5
    assert result["components"][0]["name"] == "db"  # largest first


def test_without_tracemalloc_the_components_say_why():
    samples = [sample(t, phase_at(t), {"1": proc("master", 20.0)},
                      {"1": gc([t, 0, 0])}) for t in range(30)]
    result = breakdown(samples)
    assert result["components"] == {"available": False, "reason": "memory by component "
                                    "needs tracemalloc: run with --tracemalloc"}
    assert breakdown([sample(0, "baseline", {"1": proc("master", 1.0)})])["gc"] is None


def test_the_longest_pause_is_one_the_total_counts():
    """A process's first reading carries the longest pause of every window the agent
    kept, start-up included (a 100.9 ms import-time collection), while the totals count
    from that reading on: the longest pause credited to a phase is one of its pauses,
    never longer than their total."""
    samples = [sample(0, "baseline", {"1": proc("master", 20.0)},
                      {"1": gc([50, 5, 1], pause_total=0.2, pause_max=0.1009)})]
    for t in range(1, 11):
        samples.append(sample(t, "load", {"1": proc("master", 20.0)},
                              {"1": gc([50 + t, 5, 1], pause_total=0.2 + t * 0.0002,
                                       pause_max=0.0003 if t == 4 else 0.0002)}))
    phases = breakdown(samples)["gc"]
    assert abs(phases["load"]["pause_total_s"] - 0.002) < 1e-9
    assert phases["load"]["pause_longest_s"] == 0.0003
    for figures in phases.values():
        assert figures["pause_longest_s"] <= figures["pause_total_s"], figures

"""The load tester's JSON report: built from RunStats, read back into RunStats, checked
against thresholds. Pure data in, plain data out.

Report contract (schema_version 1): ``tool``, ``schema_version``, ``complete``,
``config``, ``totals``, ``latency_ms``, ``errors``, ``categories``, ``endpoints``,
``timeline``, ``histogram``; plus ``end_reason``, ``open_model``, ``generator``,
``warnings``, ``thresholds`` and the encoded histograms that make a report mergeable
(``histogram`` per endpoint and category, ``timeline_histograms`` per second).
"""

from __future__ import annotations

from typing import Any

from memory_analysis.errors import BadInput
from memory_analysis.loadgen.histogram import LatencyHistogram
from memory_analysis.loadgen.stats import EndpointStats, GeneratorStats, Interval, RunStats

TOOL = "load_tester"
SCHEMA_VERSION = 1

#: the generator counts as the bottleneck above this CPU share of one core ...
SATURATED_CPU_PERCENT = 90.0
#: ... or when its event loop ran this late (p99, milliseconds)
SATURATED_LAG_MS = 50.0
#: open model: a send more than this late (µs) counts as a late send
LATE_US = 10_000


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 6) if whole else 0.0


def build_report(stats: RunStats, config: dict[str, Any], *, complete: bool,
                 end_reason: str, target_shares: dict[str, float] | None = None,
                 extra_warnings: list[str] | None = None) -> dict[str, Any]:
    """The report dict for ``stats`` (thresholds are added by ``apply_thresholds``)."""
    requests = stats.requests
    failures = stats.failures
    overall = stats.overall_hist()
    duration = stats.duration_s
    total_bytes = sum(e.bytes_received for e in stats.endpoints)

    categories: dict[str, dict[str, Any]] = {}
    cat_hists: dict[str, LatencyHistogram] = {}
    for e in stats.endpoints:
        cat = categories.setdefault(e.category, {"requests": 0, "failures": 0})
        cat["requests"] += e.requests
        cat["failures"] += e.failures
        cat_hists.setdefault(e.category, LatencyHistogram()).add(e.hist)
    shares = target_shares or {}
    if not shares:
        total_weight = sum(e.weight for e in stats.endpoints) or 1.0
        for e in stats.endpoints:
            shares[e.category] = shares.get(e.category, 0.0) + e.weight / total_weight
    for name, cat in categories.items():
        cat["share"] = _rate(cat["requests"], requests)
        cat["error_rate"] = _rate(cat["failures"], cat["requests"])
        cat["target_share"] = round(shares.get(name, 0.0), 6)
        cat["latency_ms"] = cat_hists[name].summary_ms()
        cat["histogram"] = cat_hists[name].encode()

    endpoints = []
    for e in stats.endpoints:
        endpoints.append({
            "name": e.name, "method": e.method, "path": e.path, "category": e.category,
            "weight": e.weight, "requests": e.requests, "successes": e.requests - e.failures,
            "failures": e.failures, "share": _rate(e.requests, requests),
            "bytes_received": e.bytes_received, "errors": dict(sorted(e.errors.items())),
            "latency_ms": e.hist.summary_ms(), "histogram": e.hist.encode(),
        })

    timeline = []
    for iv in stats.timeline:
        iv.close()
        timeline.append({"t": iv.t, "requests": iv.requests, "failures": iv.failures,
                         "p50_ms": iv.p50_ms, "p95_ms": iv.p95_ms, "in_flight": iv.in_flight})

    open_model = None
    if config.get("rate") is not None:
        lag = stats.send_lag.summary_ms()
        open_model = {
            "rate": config["rate"], "scheduled": stats.scheduled,
            "achieved_rate": round(stats.scheduled / duration, 2) if duration else 0.0,
            "late_sends": stats.late_sends, "late_threshold_ms": LATE_US / 1000,
            "send_lag_ms": {"p50": lag["p50"], "p99": lag["p99"], "max": lag["max"]},
            "send_lag_histogram": stats.send_lag.encode(),
        }

    generator = _generator_summary(stats.generators)
    warnings = list(extra_warnings or [])
    warnings += _warnings(stats, generator, open_model)

    return {
        "tool": TOOL,
        "schema_version": SCHEMA_VERSION,
        "complete": complete,
        "end_reason": end_reason,
        "config": config,
        "totals": {
            "requests": requests, "successes": requests - failures, "failures": failures,
            "dropped": stats.dropped, "cancelled": stats.cancelled,
            "error_rate": _rate(failures, requests), "duration_s": round(duration, 3),
            "rps": round(requests / duration, 2) if duration else 0.0,
            "bytes_received": total_bytes,
        },
        "latency_ms": overall.summary_ms(),
        "errors": stats.errors(),
        "categories": categories,
        "endpoints": endpoints,
        "open_model": open_model,
        "generator": generator,
        "warnings": warnings,
        "thresholds": [],
        "timeline": timeline,
        "histogram": overall.encode(),
        "timeline_histograms": [iv.encoded for iv in stats.timeline],
    }


def _generator_summary(generators: list[GeneratorStats]) -> dict[str, Any]:
    lag = LatencyHistogram.merged(g.loop_lag for g in generators)
    lag_ms = lag.summary_ms()
    per_process = [g.to_dict() for g in generators]
    return {
        "processes": len(generators),
        "cpu_percent_max": max((g.cpu_percent_max for g in generators), default=0.0),
        "loop_lag_ms": {"p50": lag_ms["p50"], "p99": lag_ms["p99"], "max": lag_ms["max"]},
        "saturated": any(
            g.cpu_percent_max >= SATURATED_CPU_PERCENT  # a whole second at full CPU
            or (g.loop_lag.summary_ms()["p99"] or 0) >= SATURATED_LAG_MS for g in generators),
        "per_process": per_process,
    }


def _warnings(stats: RunStats, generator: dict[str, Any],
              open_model: dict[str, Any] | None) -> list[str]:
    out = []
    if generator["saturated"]:
        out.append(
            "the load generator, not the service, was the bottleneck (CPU up to "
            f"{generator['cpu_percent_max']:.0f} % of a core, event-loop lag p99 "
            f"{generator['loop_lag_ms']['p99']} ms): latencies include time spent waiting "
            "in the generator; add --workers or shards")
    if open_model and stats.scheduled and stats.late_sends / stats.scheduled > 0.01:
        out.append(f"{stats.late_sends} of {stats.scheduled} sends were more than "
                   f"{LATE_US // 1000} ms late: the generator could not hold --rate; "
                   "latencies are measured from the scheduled time")
    if stats.dropped:
        out.append(f"{stats.dropped} requests were dropped: --max-in-flight was reached")
    return out


# -- reading a report back ---------------------------------------------------------------

def stats_from_report(report: dict[str, Any], source: str) -> RunStats:
    """RunStats holding exactly what ``report`` holds; BadInput naming ``source``."""
    if report.get("tool") != TOOL:
        raise BadInput(f"{source}: not a load_tester report (tool is {report.get('tool')!r})")
    if report.get("schema_version") != SCHEMA_VERSION:
        raise BadInput(f"{source}: schema_version {report.get('schema_version')!r} is not "
                       f"supported (expected {SCHEMA_VERSION})")
    try:
        endpoints = []
        for item in report["endpoints"]:
            e = EndpointStats(item["name"], item["method"], item["path"], item["category"],
                              weight=float(item.get("weight", 1.0)))
            e.requests = int(item["requests"])
            e.failures = int(item["failures"])
            e.bytes_received = int(item.get("bytes_received", 0))
            e.errors = {str(k): int(v) for k, v in item.get("errors", {}).items()}
            e.hist = LatencyHistogram.decode(item["histogram"])
            e.hist.restore_bounds_ms(item.get("latency_ms") or {})
            endpoints.append(e)
        stats = RunStats(endpoints)
        totals = report["totals"]
        stats.dropped = int(totals.get("dropped", 0))
        stats.cancelled = int(totals.get("cancelled", 0))
        stats.duration_s = float(totals["duration_s"])
        hists = report.get("timeline_histograms") or []
        for i, row in enumerate(report.get("timeline", [])):
            encoded = hists[i] if i < len(hists) else LatencyHistogram().encode()
            LatencyHistogram.decode(encoded)  # refuse a broken one here, not mid-merge
            stats.timeline.append(Interval(
                t=int(row["t"]), requests=int(row["requests"]), failures=int(row["failures"]),
                in_flight=int(row["in_flight"]), encoded=encoded))
        om = report.get("open_model")
        if om:
            stats.scheduled = int(om["scheduled"])
            stats.late_sends = int(om["late_sends"])
            stats.send_lag = LatencyHistogram.decode(om["send_lag_histogram"])
        for g in (report.get("generator") or {}).get("per_process", []):
            stats.generators.append(GeneratorStats(
                cpu_percent_mean=float(g["cpu_percent_mean"]),
                cpu_percent_max=float(g["cpu_percent_max"]), rss_mb=g.get("rss_mb"),
                loop_lag=LatencyHistogram.decode(g["loop_lag_histogram"])))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        what = f"missing key {exc}" if isinstance(exc, KeyError) else str(exc)
        raise BadInput(f"{source}: not a complete load_tester report ({what})") from None
    return stats


# -- thresholds --------------------------------------------------------------------------

def apply_thresholds(report: dict[str, Any], max_error_rate: float | None,
                     max_p95_ms: list[tuple[str | None, float]]) -> list[dict[str, Any]]:
    """Check the thresholds, store the results in ``report['thresholds']``, return the
    broken ones. ``max_p95_ms`` holds (endpoint name or None, limit); None applies the
    limit to the overall p95 and to every endpoint's."""
    results: list[dict[str, Any]] = []
    if max_error_rate is not None:
        rate = report["totals"]["error_rate"]
        results.append({"name": "max_error_rate", "scope": "overall", "limit": max_error_rate,
                        "value": rate, "passed": rate <= max_error_rate})
    by_name = {e["name"]: e for e in report["endpoints"]}
    for name, limit in max_p95_ms:
        scopes: list[tuple[str, float | None]] = []
        if name is None:
            scopes.append(("overall", report["latency_ms"]["p95"]))
            scopes += [(f"endpoint {e['name']}", e["latency_ms"]["p95"])
                       for e in report["endpoints"] if e["requests"]]
        else:
            if name not in by_name:
                raise BadInput(f"--max-p95-ms: no endpoint named {name!r} (endpoints: "
                               + ", ".join(sorted(by_name)) + ")")
            scopes.append((f"endpoint {name}", by_name[name]["latency_ms"]["p95"]))
        for scope, value in scopes:
            results.append({"name": "max_p95_ms", "scope": scope, "limit": limit,
                            "value": value, "passed": value is None or value <= limit})
    report["thresholds"] = results
    return [r for r in results if not r["passed"]]


def describe_broken(broken: list[dict[str, Any]]) -> str:
    parts = []
    for r in broken:
        if r["name"] == "max_error_rate":
            parts.append(f"error rate {r['value']:.4f} > {r['limit']:g}")
        else:
            parts.append(f"p95 {r['value']} ms > {r['limit']:g} ms ({r['scope']})")
    return "threshold broken: " + "; ".join(parts)

#!/usr/bin/env python3
"""Record runs of the real runner on real services, as compact traces for the leak
benchmark (``bench/traces/<name>.json.gz``, read back with ``bench/traces.py``).

    .venv/bin/python bench/record_traces.py --list
    .venv/bin/python bench/record_traces.py --only node_leak_attached
    .venv/bin/python bench/record_traces.py               # every trace, one after another

The Django and datasette services need ``.venv/bin/pip install -r bench/requirements.txt``;
the Node.js one, ``node`` on the PATH.

Each trace is one run of ``memory_analysis_runner.py`` (default phases 30/120/30 s,
``--users 20``, samples every 0.5 s) on one service of ``SERVICES``: started by the
runner (``--service-cmd``), or "attached" (started here, then ``--pid PID --url URL``),
or the runner's bundled demo. "busy": two ``python3 -c 'while True: pass'`` processes burn
both cores for the whole run and are killed after it. What a trace keeps: every sample's
clock, phase, users and cycle with the memory figures the analysis reads, each load
tester run on the samples' clock with its per-second rows, the load figures, the options
the runner passed to ``analyze()``, the report's configuration, the verdict the engine
gave when the trace was recorded (for reference only: ``truth`` is what the service
was built to do), and how the run was made.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gzip
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from memory_analysis.monitor.cgroup import MemoryCgroup  # noqa: E402
from memory_analysis.runner.merge import load_segments, load_summary  # noqa: E402

PROGRAMS = ROOT / "tests" / "programs"
TRACES = Path(__file__).resolve().parent / "traces"
PYTHON = str(ROOT / ".venv" / "bin" / "python")
FORMAT = 1

DEFAULT = (30, 120, 30)
QUICK = (15, 30, 15)

#: Services: how to start one on a port. ``cmd`` is a format string with {port} and
#: {python} (the venv's interpreter), run in ``cwd``; ``env`` is put before it as
#: NAME=value words (the runner runs that as ``exec env ...``); ``scenario`` the load.
SERVICES: dict[str, dict[str, Any]] = {
    "demo": {"demo": True, "what": "the bundled Stock Analyzer Pro demo (aiohttp)"},
    "demo_leak16": {"demo": True, "args": ["--demo-leak-kb", "16"],
                    "what": "the bundled demo keeping 16 KB per request (--demo-leak-kb 16)"},
    "fastapi": {"cmd": "{python} -m uvicorn fastapi_app:app --port {port} --workers 2",
                "cwd": PROGRAMS, "scenario": PROGRAMS / "fastapi_scenario.json",
                "what": "tests/programs/fastapi_app.py under uvicorn --workers 2"},
    "django": {"cmd": "{python} -m gunicorn app:application -b 127.0.0.1:{port} -w 3",
               "cwd": PROGRAMS / "django_app",
               "scenario": PROGRAMS / "django_app" / "scenario.json",
               "what": "tests/programs/django_app (Django, gunicorn 3 sync workers, "
                       "8 MB bounded dict cache per worker)"},
    "aiohttp": {"cmd": "{python} aiohttp_app.py {port}", "cwd": PROGRAMS,
                "scenario": PROGRAMS / "items_scenario.json",
                "what": "tests/programs/aiohttp_app.py"},
    "node": {"cmd": "node node_app.js {port}", "cwd": PROGRAMS, "env": {"LEAK_KB": "0"},
             "scenario": PROGRAMS / "node_scenario.json",
             "what": "tests/programs/node_app.js, LEAK_KB=0"},
    "node_leak10": {"cmd": "node node_app.js {port}", "cwd": PROGRAMS,
                    "env": {"LEAK_KB": "10"}, "scenario": PROGRAMS / "node_scenario.json",
                    "what": "tests/programs/node_app.js, LEAK_KB=10 on /track (20 %)"},
    "cache_log": {"cmd": "{python} cache_app.py {port}", "cwd": PROGRAMS,
                  "env": {"CACHE_SHAPE": "log"}, "scenario": PROGRAMS / "page_scenario.json",
                  "what": "tests/programs/cache_app.py CACHE_SHAPE=log (q 0.99, 32 KB)"},
    "cache_sqrt": {"cmd": "{python} cache_app.py {port}", "cwd": PROGRAMS,
                   "env": {"CACHE_SHAPE": "sqrt"}, "scenario": PROGRAMS / "page_scenario.json",
                   "what": "tests/programs/cache_app.py CACHE_SHAPE=sqrt (b 2, 32 KB)"},
    "cache_lru": {"cmd": "{python} cache_app.py {port}", "cwd": PROGRAMS,
                  "env": {"CACHE_SHAPE": "lru"}, "scenario": PROGRAMS / "page_scenario.json",
                  "what": "tests/programs/cache_app.py CACHE_SHAPE=lru (1000 keys, 32 KB)"},
    "sawtooth": {"cmd": "{python} sawtooth_app.py {port}", "cwd": PROGRAMS,
                 "env": {"PERIOD_S": "60"}, "scenario": PROGRAMS / "page_scenario.json",
                 "what": "tests/programs/sawtooth_app.py PERIOD_S=60 (128 B/request)"},
    "step": {"cmd": "{python} step_app.py {port}", "cwd": PROGRAMS,
             "scenario": PROGRAMS / "page_scenario.json",
             "what": "tests/programs/step_app.py (40 MB, 20 s after the first /page)"},
    "datasette": {"cmd": "{python} -m datasette serve --port {port} --host 127.0.0.1 "
                         "--immutable bench_fixture.db",
                  "cwd": Path(tempfile.gettempdir()) / "bench_datasette",
                  "scenario": Path(__file__).resolve().parent / "services"
                  / "datasette_scenario.json", "setup": "datasette",
                  "health": "/-/versions.json",
                  "what": "datasette serving a small generated sqlite file (bench/"
                          "services/make_datasette_db.py)"},
}

#: Traces: name -> service, truth, how started ("runner", "attached" or the demo),
#: busy or quiet, phases.
TRACE_TABLE: dict[str, dict[str, Any]] = {}


def _trace(name: str, service: str, truth: str, mode: str = "runner", busy: bool = False,
           phases: tuple[int, int, int] = DEFAULT) -> None:
    TRACE_TABLE[name] = {"service": service, "truth": truth, "mode": mode, "busy": busy,
                         "phases": phases}


_trace("demo_quiet", "demo", "healthy", mode="demo")
_trace("demo_busy", "demo", "healthy", mode="demo", busy=True)
_trace("fastapi_quiet", "fastapi", "healthy")
_trace("fastapi_busy", "fastapi", "healthy", busy=True)
_trace("django_quiet", "django", "healthy")
_trace("django_busy", "django", "healthy", busy=True)
_trace("django_attached", "django", "healthy", mode="attached")
_trace("django_attached_quick_busy", "django", "healthy", mode="attached", busy=True,
       phases=QUICK)
_trace("aiohttp_quiet", "aiohttp", "healthy")
_trace("node_attached", "node", "healthy", mode="attached")
_trace("node_quiet", "node", "healthy")
_trace("cache_log_quiet", "cache_log", "healthy")
_trace("cache_log_busy", "cache_log", "healthy", busy=True)
_trace("cache_sqrt_quiet", "cache_sqrt", "leak")
_trace("cache_lru_quiet", "cache_lru", "healthy")
_trace("sawtooth_quiet", "sawtooth", "healthy")
_trace("step_quiet", "step", "healthy")
_trace("datasette_quiet", "datasette", "healthy")
_trace("node_leak_attached", "node_leak10", "leak", mode="attached")
_trace("node_leak_attached_busy", "node_leak10", "leak", mode="attached", busy=True)
_trace("demo_leak_quick_busy", "demo_leak16", "leak", mode="demo", busy=True, phases=QUICK)

#: What each sample keeps: the figures ``analysis.series`` and ``limits_seen`` read.
SAMPLE_KEYS = {
    "process": ("tree_service_mb", "tree_mb", "rss_mb", "hwm_mb"),
    "cgroup": ("working_set_mb", "usage_mb", "peak_mb", "limit_mb", "percent"),
    "system": ("percent", "total_mb", "used_mb", "available_mb"),
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _round(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, dict):
        return {k: _round(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_round(v) for v in value]
    return value


def compact_sample(sample: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"t": sample.get("t"), "phase": sample.get("phase"),
                           "load_users": sample.get("load_users"),
                           "cycle": sample.get("cycle")}
    for section, keys in SAMPLE_KEYS.items():
        block = sample.get(section) or {}
        kept = {k: block[k] for k in keys if block.get(k) is not None}
        if kept:
            out[section] = kept
    return _round(out)


def compact_timeline(rows: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    """The per-second rows, less their per-endpoint detail."""
    if rows is None:
        return None
    return [_round({k: v for k, v in row.items() if not isinstance(v, (dict, list))})
            for row in rows]


def service_command(service: dict[str, Any], port: int) -> str:
    command = service["cmd"].format(port=port, python=PYTHON)
    env = " ".join(f"{k}={shlex.quote(v)}" for k, v in service.get("env", {}).items())
    return f"{env} {command}".strip()


def engine_state() -> dict[str, Any]:
    """Which engine judged the run: the commit, and whether the analysis and runner code
    in the working tree differed from it (other work in progress), with a digest of the
    difference so two recordings can be told apart."""
    import hashlib

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True,
                              text=True).stdout
    diff = git("diff", "HEAD", "--", "memory_analysis")
    untracked = git("ls-files", "--others", "--exclude-standard", "--", "memory_analysis")
    return {"commit": git("rev-parse", "HEAD").strip(),
            "uncommitted_changes": bool(diff or untracked),
            "diff_sha1": hashlib.sha1((diff + untracked).encode()).hexdigest()[:12]
            if diff or untracked else None}


def setup_service(service: dict[str, Any]) -> None:
    if service.get("setup") == "datasette":
        cwd = Path(service["cwd"])
        cwd.mkdir(parents=True, exist_ok=True)
        subprocess.run([PYTHON, str(Path(__file__).resolve().parent / "services"
                                    / "make_datasette_db.py"), str(cwd / "bench_fixture.db")],
                       check=True)


def wait_health(url: str, process: subprocess.Popen, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the service exited ({process.returncode}) before answering")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status < 500:
                    return
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout_s:.0f} s")


def stop_group(process: subprocess.Popen) -> None:
    """SIGTERM to the process group this script started, SIGKILL after 10 s."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def start_burners() -> list[subprocess.Popen]:
    return [subprocess.Popen(["python3", "-c", "while True: pass"], start_new_session=True)
            for _ in range(2)]


def runner_arguments(spec: dict[str, Any], port: int,
                     attached_pid: int | None) -> list[str]:
    """The runner's arguments for one trace (output directory apart)."""
    service = SERVICES[spec["service"]]
    baseline, load, cooldown = spec["phases"]
    args = ["--baseline", str(baseline), "--load-test", str(load), "--cooldown", str(cooldown)]
    if service.get("demo"):
        return args + list(service.get("args", []))
    url = f"http://127.0.0.1:{port}"
    if attached_pid is not None:
        args += ["--pid", str(attached_pid), "--url", url]
    else:
        args += ["--service-cmd", service_command(service, port),
                 "--service-cwd", str(service["cwd"]), "--url", url]
    if service.get("health"):
        args += ["--health-path", service["health"]]
    return args + ["--scenario", str(service["scenario"])]


def build_trace(name: str, spec: dict[str, Any], out: Path, argv: list[str],
                how: dict[str, Any]) -> dict[str, Any]:
    """The compact trace of one finished run in ``out``."""
    report = json.loads((out / "comprehensive_memory_analysis.json").read_text())
    monitor = json.loads((out / "memory_analysis.json").read_text())
    runs = []
    for step in (report.get("timeline") or {}).get("steps", []):
        path = out / step["file"]
        if path.exists():
            runs.append({**step, "report": json.loads(path.read_text())})
    load_file = out / "load_test_during_analysis.json"
    load = json.loads(load_file.read_text()) if load_file.exists() else None
    segments = load_segments(runs, monitor["start_time"]) if monitor.get("start_time") else None
    for segment in segments or []:
        segment["timeline"] = compact_timeline(segment.get("timeline"))
    figures = load_summary(load)
    cgroup_path = (monitor.get("cgroup") or {}).get("path")
    own = MemoryCgroup.of_process(os.getpid())
    leak = (report.get("memory") or {}).get("leak") or {}
    return _round({
        "format": FORMAT,
        "name": name,
        "truth": spec["truth"],
        "service": spec["service"],
        "what": SERVICES[spec["service"]]["what"],
        "how": how,
        "configuration": report.get("config"),
        "options": {
            # as memory_analysis.runner.session passes them (catalogs: the bundled ones;
            # plan and target memory: none in these runs)
            "service_cgroup": cgroup_path is not None
            and cgroup_path != (own.directory if own else None),
            "tree_metric": (monitor.get("summary") or {}).get("tree_metric") or "pss",
            "users": (report.get("config") or {}).get("users", 20),
            "target_memory_mb": None,
            "plan": None,
        },
        "segments": segments,
        "load_test": {k: v for k, v in figures.items() if k != "categories"},
        "samples": [compact_sample(s) for s in monitor.get("samples", [])],
        "recorded": {
            "date": how["date"],
            "metric": (report.get("memory") or {}).get("metric"),
            "verdict": leak.get("verdict"),
            "confidence": leak.get("confidence"),
            "suspected": leak.get("suspected"),
            "slope_mb_per_min": leak.get("slope_mb_per_min"),
            "reason": leak.get("reason"),
            "level": (report.get("assessment") or {}).get("level"),
            "growth_mb": (report.get("memory") or {}).get("growth_mb"),
            "rps": (report.get("load_test") or {}).get("rps"),
            "end_reason": report.get("end_reason"),
        },
        "runner_argv": argv,
    })


def run_once(spec: dict[str, Any], out: Path, work: Path,
             extra: list[str] | None = None) -> dict[str, Any]:
    """One run of the runner as ``spec`` says (a ``TRACE_TABLE`` entry: service, mode,
    busy, phases), its output in ``out``; the attached service and the burners it started
    are stopped before it returns. Returns how the run was made, with ``report`` (the
    comprehensive report) and ``argv``."""
    service = SERVICES[spec["service"]]
    setup_service(service)
    port = free_port()
    burners: list[subprocess.Popen] = []
    attached: subprocess.Popen | None = None
    try:
        if spec["mode"] == "attached":
            attached = subprocess.Popen(
                ["/bin/sh", "-c", "exec env " + service_command(service, port)],
                cwd=service["cwd"], start_new_session=True,
                stdout=open(work / "service.log", "wb"), stderr=subprocess.STDOUT)
            wait_health(f"http://127.0.0.1:{port}{service.get('health', '/health')}", attached)
        load_before = os.getloadavg()
        if spec["busy"]:
            burners = start_burners()
        args = runner_arguments(spec, port, attached.pid if attached else None) + list(extra or [])
        argv = [PYTHON, "memory_analysis_runner.py", *args, "--quiet", "--output-dir", str(out)]
        started = dt.datetime.now(dt.UTC)
        code = subprocess.run(argv, cwd=ROOT).returncode
        report_path = out / "comprehensive_memory_analysis.json"
        if not report_path.exists():
            raise RuntimeError(f"the runner exited {code} without a report")
        return {
            "date": started.strftime("%Y-%m-%d %H:%M UTC"),
            "mode": spec["mode"],
            "busy": spec["busy"],
            "phases": list(spec["phases"]),
            "runner": "memory_analysis_runner.py " + shlex.join(args),
            "service_command": (service_command(service, port) if "cmd" in service
                                else "the runner's bundled demo"),
            "service_cwd": str(Path(service["cwd"]).relative_to(ROOT))
            if "cwd" in service and Path(service["cwd"]).is_relative_to(ROOT)
            else service.get("cwd") and str(service["cwd"]),
            "attached_pid_started_by": "record_traces.py" if attached else None,
            "burners": "two `python3 -c 'while True: pass'` for the whole run"
            if spec["busy"] else None,
            "runner_exit": code,
            # other work on the machine (the recorder's own burners included when busy)
            "loadavg_1min_before": round(load_before[0], 2),
            "loadavg_1min_after": round(os.getloadavg()[0], 2),
            "cpus": os.cpu_count(),
            "engine": engine_state(),
            "report": json.loads(report_path.read_text()),
            "argv": [Path(a).name if a == PYTHON else a for a in argv[:-1]] + ["<tmp>"],
        }
    finally:
        for burner in burners:
            stop_group(burner)
        if attached is not None:
            stop_group(attached)


def record(name: str, keep: Path | None = None) -> Path:
    spec = TRACE_TABLE[name]
    work = Path(tempfile.mkdtemp(prefix=f"trace_{name}_"))
    out = keep or work / "results"
    how = run_once(spec, out, work)
    how.pop("report")
    argv = how.pop("argv")
    how["remake"] = f"bench/record_traces.py --only {name}"
    trace = build_trace(name, spec, out, argv, how)
    TRACES.mkdir(exist_ok=True)
    path = TRACES / f"{name}.json.gz"
    data = json.dumps(trace, separators=(",", ":"), sort_keys=False).encode()
    tmp = path.with_suffix(".tmp")
    with gzip.GzipFile(tmp, "wb", mtime=0) as handle:
        handle.write(data)
    tmp.replace(path)
    if keep is None:
        subprocess.run(["rm", "-rf", str(work)], check=False)
    rec = trace["recorded"]
    print(f"{name}: truth {spec['truth']}, engine said {rec['verdict']} ({rec['confidence']}), "
          f"level {rec['level']}, {rec['rps']} req/s, {path.stat().st_size} bytes", flush=True)
    return path


README_HEAD = """# Recorded memory traces of real services

Runs of the real runner (`memory_analysis_runner.py`, `--users 20`, samples every 0.5 s)
on services the leak verdict was never tuned on, kept small (3 decimals, gzip) for the
leak benchmark. Load one with `bench/traces.py` (`load_trace(path)`: `samples`,
`load_test`, `options` ready for `memory_analysis.analysis.analyze.analyze`, and `name`,
`truth`, `how`); `.venv/bin/python bench/traces.py` judges every trace with the engine in
the working tree beside the verdict recorded with it.

`truth` is what the service was built to do, never what an engine said. "busy": two
`python3 -c 'while True: pass'` burned both cores for the whole run. "attached": the
recorder started the service and gave the runner `--pid PID --url URL`; "runner": the
runner started it with `--service-cmd`. `load` is the machine's 1-minute load average
before the run (other work on this shared 2-core machine included). `recorded` is the
verdict of the engine in the working tree at recording time (`how.engine` names its
commit and whether it had uncommitted changes): for reference only. Remake a trace with
`.venv/bin/python bench/record_traces.py --only NAME`; this file with `--readme`.

The services (`SERVICES` in `record_traces.py`; the programs say more in their
docstrings): the bundled demo; `tests/programs/fastapi_app.py` under uvicorn with 2
workers; a one-file Django app (`tests/programs/django_app/`) under gunicorn with 3 sync
workers, each with a dict cache bounded at 8 MB; `tests/programs/aiohttp_app.py`;
`tests/programs/node_app.js` (Node.js `http`, `/track` 20 % of requests, keeping
`LEAK_KB` KB per request when set); `tests/programs/cache_app.py` (32 KB per new key;
`log`: geometric keys, q = 0.99, distinct keys ~ 100 ln(n/100); `sqrt`: Lomax/Zipf-2 keys,
b = 2, distinct keys ~ 2.5 sqrt(n); `lru`: the `sqrt` draw in an LRU of 1,000 keys);
`tests/programs/sawtooth_app.py` (128 B per request into 1 MB mmap blocks, all released
every 60 s); `tests/programs/step_app.py` (40 MB loaded once, 20 s after the first
/page); datasette 0.65 serving a generated 1 MB sqlite file
(`bench/services/make_datasette_db.py`). The machine is shared: a "quiet" run had no
burners of its own, but other work (see `load`) often kept both cores busy too.

"""
README_COLUMNS = ("name", "truth", "service", "started", "phases (s)", "cores", "date (UTC)",
                  "load", "req/s", "recorded verdict", "KB", "remake")


def write_readme() -> Path:
    """bench/traces/README.md from the trace files: one line per trace."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from traces import load_all
    lines = [README_HEAD, "| " + " | ".join(README_COLUMNS) + " |\n",
             "|" + "---|" * len(README_COLUMNS) + "\n"]
    for trace in load_all(TRACES):
        how, rec = trace.how, trace.recorded
        size = trace.path.stat().st_size / 1024.0 if trace.path else 0.0
        lines.append(
            f"| {trace.name} | {trace.truth} | {trace.what} | {how.get('mode')} | "
            f"{'/'.join(map(str, how.get('phases', [])))} | "
            f"{'busy' if how.get('busy') else 'quiet'} | {how.get('date')} | "
            f"{how.get('loadavg_1min_before', '')} | {rec.get('rps') or 0:.0f} | "
            f"{rec.get('verdict')} ({rec.get('confidence')}) | {size:.1f} | "
            f"`bench/record_traces.py --only {trace.name}` |\n")
    path = TRACES / "README.md"
    path.write_text("".join(lines))
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--list", action="store_true", help="list the traces and exit")
    parser.add_argument("--only", action="append", metavar="NAME",
                        help="record only this trace (repeatable)")
    parser.add_argument("--skip-existing", action="store_true",
                        help="leave traces that already have a file")
    parser.add_argument("--readme", action="store_true",
                        help="write bench/traces/README.md from the trace files and exit")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="with one --only: keep the runner's output directory here")
    options = parser.parse_args()
    if options.readme:
        print(write_readme())
        return 0
    if options.list:
        for name, spec in TRACE_TABLE.items():
            print(f"{name:28} {spec['truth']:8} {spec['service']:12} {spec['mode']:9} "
                  f"{'busy' if spec['busy'] else 'quiet':6} {'/'.join(map(str, spec['phases']))}")
        return 0
    names = options.only or list(TRACE_TABLE)
    unknown = [n for n in names if n not in TRACE_TABLE]
    if unknown:
        parser.error(f"unknown trace(s): {', '.join(unknown)} (see --list)")
    failed = []
    for name in names:
        if options.skip_existing and (TRACES / f"{name}.json.gz").exists():
            continue
        try:
            record(name, options.keep if len(names) == 1 else None)
        except Exception as error:  # noqa: BLE001  (one failed recording must not stop the rest)
            failed.append(name)
            print(f"{name}: FAILED: {error}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

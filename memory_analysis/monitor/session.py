"""A monitoring run: sample on a fixed schedule until the duration ends, the target
exits, or a stop is requested; stream samples; write the report.

The schedule is deadline-based: sample k is due at start + k * interval, so time spent
sampling does not push later samples back (no drift). A tick that is already past when
the previous sample finishes is skipped and counted, rather than bunched up.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import time
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from memory_analysis import __version__
from memory_analysis.analysis.limits import parse_size_mb
from memory_analysis.argtext import number
from memory_analysis.errors import BadInput
from memory_analysis.levels import PEAK_CRITICAL_PERCENT, PEAK_WARNING_PERCENT
from memory_analysis.monitor import procfs
from memory_analysis.monitor.alerts import AlertTracker, target_message
from memory_analysis.monitor.cgroup import MemoryCgroup
from memory_analysis.monitor.procfs import ProcessGone
from memory_analysis.monitor.python_figures import AgentReader
from memory_analysis.monitor.report import (
    SCHEMA_VERSION,
    TOOL,
    MonitorSummary,
    stream_path_for,
    write_report,
)
from memory_analysis.monitor.runtime import Runtime, RuntimeFinder, service_runtime
from memory_analysis.monitor.sampler import (
    SystemReader,
    TreeSampler,
    cgroup_sample,
    reset_peak,
    service_mb,
)
from memory_analysis.reports.jsonio import JsonLinesStream, check_writable, lines_at
from memory_analysis.signals import StopSignal

MIN_INTERVAL_S = 0.01
# Ends a run normally, complete, before its --duration (how the runner ends the cooldown).
FINISH_SIGNAL = signal.SIGUSR1


def _host_detail(sample: dict[str, Any]) -> str:
    """The end of a host memory alert: the host's figure is everyone's, so say how much
    is left and how much of it the watched tree holds, lest it be read as the tree's."""
    detail = f"; {sample['system']['available_mb']:,.0f} MB available"
    process = sample["process"]
    if process and process.get("tree_mb") is not None:
        detail += f", the watched tree holds {process['tree_mb']:,.1f} MB"
    return detail


@dataclass
class MonitorConfig:
    pid: int | None = None
    include_children: bool = True
    interval: float = 1.0
    duration: float | None = None
    output: str = "memory_analysis.json"
    warning: float = PEAK_WARNING_PERCENT
    critical: float = PEAK_CRITICAL_PERCENT
    pss_interval: float = 1.0
    reset_peak: bool = False
    # The memory the service will get (a size: "512M", "2G"): alerts also fire when the
    # watched tree's memory crosses --warning/--critical percent of it, naming it
    # ``target_name`` ("plan render:starter") when given.
    target_memory: str | None = None
    target_name: str | None = None
    # Where the agents inside the service report (MEMORY_ANALYSIS_AGENT), and what to
    # ask of them: tracemalloc, and a component map file.
    agent_dir: str | None = None
    tracemalloc: bool = False
    components: str | None = None
    # Checked by the runner before its service (and so its PID) exists: not an option.
    for_runner: bool = False

    def validate(self) -> None:
        """BadInput with one clear sentence for any impossible setting."""
        if not self.interval > 0:
            raise BadInput(f"--interval must be greater than 0 seconds (got {self.interval:g})")
        if self.interval < MIN_INTERVAL_S:
            raise BadInput(f"--interval must be at least {MIN_INTERVAL_S:g} seconds")
        if self.duration is not None and not self.duration > 0:
            raise BadInput(f"--duration must be greater than 0 seconds (got {self.duration:g})")
        if not self.pss_interval > 0:
            raise BadInput(f"--pss-interval must be greater than 0 seconds "
                           f"(got {self.pss_interval:g})")
        for name, value in (("--warning", self.warning), ("--critical", self.critical)):
            if not 0 < value <= 100:
                raise BadInput(f"{name} must be a percentage between 0 and 100 (got {value:g})")
        if self.warning >= self.critical:
            raise BadInput(f"--warning ({self.warning:g}) must be below --critical "
                           f"({self.critical:g})")
        if self.target_memory is not None:
            parse_size_mb(self.target_memory, "--target-memory")
            if self.pid is None and not self.for_runner:
                raise BadInput("--target-memory needs --pid: the memory of the watched "
                               "process tree is what is compared with it")
        if self.target_name is not None and self.target_memory is None:
            raise BadInput("--target-name needs --target-memory: it names that memory in "
                           "the alerts")
        if self.agent_dir is not None and self.pid is None and not self.for_runner:
            raise BadInput("--agent-dir needs --pid: the agent reports from inside a "
                           "process, and the monitor watches it through its PID")
        for name, given in (("--tracemalloc", self.tracemalloc),
                            ("--components", self.components)):
            if given and self.agent_dir is None:
                raise BadInput(f"{name} needs --agent-dir: the directory the service's agent "
                               "reports to (its MEMORY_ANALYSIS_AGENT)")
        if self.components is not None:
            # Imported here, as in MonitorSession: a plain monitor starts without it.
            from memory_analysis.agent.control import read_component_map

            read_component_map(self.components)
        if self.agent_dir is not None:
            parent = os.path.dirname(os.path.abspath(self.agent_dir))
            if not os.path.isdir(parent):
                raise BadInput(f"--agent-dir: no such directory {parent}")
        if self.pid is not None and not procfs.process_exists(self.pid):
            raise BadInput(f"no process with PID {self.pid}")
        check_writable(self.output)

    @property
    def target_mb(self) -> float | None:
        """--target-memory in MB, None without it."""
        return (parse_size_mb(self.target_memory, "--target-memory")
                if self.target_memory is not None else None)

    @property
    def stream_path(self) -> str:
        return stream_path_for(self.output)

    def to_args(self) -> list[str]:
        """This run as memory_monitor.py's command line (how the runner starts it)."""
        args = ["--interval", number(self.interval), "--output", self.output,
                "--warning", number(self.warning), "--critical", number(self.critical),
                "--pss-interval", number(self.pss_interval)]
        if self.pid is not None:
            args += ["--pid", str(self.pid)]
        if not self.include_children:
            args.append("--no-children")
        if self.duration is not None:
            args += ["--duration", number(self.duration)]
        if self.reset_peak:
            args.append("--reset-peak")
        if self.agent_dir is not None:
            args += ["--agent-dir", self.agent_dir]
        if self.tracemalloc:
            args.append("--tracemalloc")
        if self.components is not None:
            args += ["--components", self.components]
        if self.target_memory is not None:
            args += ["--target-memory", self.target_memory]
        if self.target_name is not None:
            args += ["--target-name", self.target_name]
        return args


class MonitorView(Protocol):
    """What the session tells a presenter. Presenters format; they compute nothing."""

    def started(self, header: dict[str, Any]) -> None: ...
    def sampled(self, sample: dict[str, Any], status: dict[str, Any]) -> None: ...
    def alerted(self, alert: dict[str, Any]) -> None: ...
    def finished(self, report: dict[str, Any], files: list[str]) -> None: ...
    def close(self) -> None: ...


def describe_target(pid: int, finder: RuntimeFinder | None = None) -> dict[str, Any]:
    """Name, command line and user of the target, as far as they can be read, and the
    runtime of the service it is or starts (``runtime``: see ``monitor.runtime``; None
    while only a shell is there, the service not started yet)."""
    try:
        target = procfs.describe(pid)
    except ProcessGone:
        raise BadInput(f"no process with PID {pid}") from None
    return {"pid": pid, **target, **runtime_fields(service_runtime(pid, finder))}


def runtime_fields(found: Runtime | None) -> dict[str, Any]:
    """The target's ``runtime``, ``runtime_process`` and ``is_python`` (the service runs
    on CPython) for a ``runtime.Runtime`` or None."""
    return {"runtime": found.runtime if found else None,
            "runtime_process": found.as_dict() if found else None,
            "is_python": bool(found and found.runtime == "cpython")}


class MonitorSession:
    """One run of the monitor. ``run`` returns the report it wrote."""

    def __init__(self, config: MonitorConfig, view: MonitorView, stop: StopSignal) -> None:
        config.validate()
        self.config = config
        self.view = view
        self.stop = stop
        self.notes: list[str] = []
        self.alerts: list[dict[str, Any]] = []
        self.summary = MonitorSummary()
        self.tracker = AlertTracker(config.warning, config.critical)
        self.target_mb = config.target_mb
        self.target: dict[str, Any] | None = None
        self._agent_seen = False
        self.sampler: TreeSampler | None = None
        self._runtimes = RuntimeFinder()
        if config.pid is not None:
            self.target = describe_target(config.pid, self._runtimes)
            if config.reset_peak:
                problem = reset_peak(config.pid)
                if problem:
                    self.notes.append(problem)
            try:
                self.sampler = TreeSampler(config.pid, config.include_children,
                                           max(config.pss_interval, config.interval),
                                           config.interval)
            except ProcessGone:
                raise BadInput(f"no process with PID {config.pid}") from None
        self.agents: AgentReader | None = None
        if config.agent_dir is not None and self.sampler is not None:
            # The agent's side of the suite is loaded only when asked for: a plain
            # monitor starts without it (bench/RESULTS.md, the monitor's start-up).
            from memory_analysis.agent.control import read_component_map, write_control

            self.agents = AgentReader(config.agent_dir)
            components = read_component_map(config.components) if config.components else None
            try:
                # Made if need be: the service may be started after the monitor.
                os.makedirs(config.agent_dir, exist_ok=True)
                if config.tracemalloc or components:
                    write_control(config.agent_dir, tracemalloc=config.tracemalloc or None,
                                  components=components)
            except OSError as exc:
                raise BadInput(f"--agent-dir: cannot write to {config.agent_dir}: "
                               f"{exc.strerror or exc}") from None
        # Without a target, the monitor's own cgroup: the container it runs in.
        self.cgroup = MemoryCgroup.of_process(config.pid if config.pid else os.getpid())
        self.system = SystemReader()
        try:
            self.stream = JsonLinesStream(config.stream_path)
        except OSError as exc:
            raise BadInput(f"cannot write {config.stream_path}: {exc.strerror or exc}") from None

    def _header(self) -> dict[str, Any]:
        """What the stream's first line and the report both start with."""
        return {
            "tool": TOOL,
            "schema_version": SCHEMA_VERSION,
            "version": __version__,
            "config": {**asdict(self.config), "stream": self.config.stream_path},
            "target": self.target,
            "start_time": self._start_wall,
            "cgroup": {"path": self.cgroup.directory, "version": self.cgroup.version}
            if self.cgroup else None,
        }

    def _take(self, t: float, now: float) -> dict[str, Any]:
        process = self.sampler.sample(now) if self.sampler else None
        if process is not None and self.target is not None and self.target["runtime"] is None:
            # The service was not started yet below its shell: looked for among the tree.
            pids = sorted(int(pid) for pid in process["processes"])
            found = self._runtimes.find([self.target["pid"], *pids])
            if found is not None:
                self.target.update(runtime_fields(found))
        python = None
        if self.agents is not None and process is not None:
            python = self.agents.read(int(pid) for pid in process["processes"])
            self._agent_seen = self._agent_seen or python is not None
        return {
            "t": round(t, 4),
            "time": round(self._start_wall + t, 4),
            "system": self.system.read(),
            "process": process,
            "cgroup": cgroup_sample(self.cgroup),
            # What the agents in the service's Python processes reported, by PID.
            "python": python,
        }

    def _check_alerts(self, sample: dict[str, Any]) -> None:
        group = sample["cgroup"]
        target_mb = self.target_mb
        tree_mb = service_mb(sample["process"])
        target_percent = (tree_mb * 100.0 / target_mb
                          if tree_mb is not None and target_mb else None)
        for metric, value in (("system_percent", sample["system"]["percent"]),
                              ("cgroup_percent", group["percent"] if group else None),
                              ("target_percent", target_percent)):
            alert = self.tracker.check(sample["t"], metric, value)
            if alert:
                if metric == "system_percent":
                    alert["message"] += _host_detail(sample)
                elif metric == "target_percent":
                    assert tree_mb is not None and target_mb is not None
                    alert["message"] = target_message(alert, tree_mb, target_mb,
                                                      self.config.target_name)
                    alert["target_mb"] = round(target_mb, 1)
                    if self.config.target_name:
                        alert["target"] = self.config.target_name
                self.alerts.append(alert)
                self.stream.write({"kind": "alert", **alert})
                self.view.alerted(alert)

    def _status(self, sample: dict[str, Any]) -> dict[str, Any]:
        """What a live view shows, derived here so views only format."""
        process = sample["process"]
        remaining = None
        if self.config.duration is not None:
            remaining = max(self.config.duration - sample["t"], 0.0)
        return {
            "t": sample["t"],
            "remaining_s": remaining,
            "samples": self.summary.sample_count,
            "system_percent": sample["system"]["percent"],
            "rss_mb": process["rss_mb"] if process else None,
            "tree_mb": process["tree_mb"] if process else None,
            "children": process["children"] if process else None,
            "peak_rss_mb": self.summary.peak_rss_mb,
            "peak_tree_mb": self.summary.peak_tree_mb,
            "cgroup": sample["cgroup"],
            "alerts": len(self.alerts),
        }

    def run(self) -> dict[str, Any]:
        interval = self.config.interval
        duration = self.config.duration
        if self.cgroup is not None:
            # The run's cgroup peak is its own where the kernel allows (see MemoryCgroup).
            self.cgroup.reset_peak()
            self.summary.cgroup_peak_basis = self.cgroup.peak_basis
        self._start_wall = time.time()
        start = time.monotonic()
        header = self._header()
        self.stream.write({"kind": "header", **header})
        self.view.started(header)
        end_reason = "error"  # replaced by the reason the loop ends for
        tick = 0
        try:
            while True:
                due = tick * interval
                if duration is not None and due > duration + 1e-9:
                    end_reason = "duration"
                    break
                delay = start + due - time.monotonic()
                if self.stop.wait(delay):
                    # SIGUSR1 is the runner saying "the cooldown is over": a normal end.
                    end_reason = "requested" if self.stop.signum == FINISH_SIGNAL else "interrupted"
                    break
                now = time.monotonic()
                try:
                    sample = self._take(now - start, now)
                except ProcessGone:
                    end_reason = "target_exited"
                    break
                line = self.stream.lines
                self.stream.write_encoded(json.dumps(sample, separators=(",", ":")))
                self.summary.add(sample, line, (now - start - due) * 1000.0)
                self._check_alerts(sample)
                self.view.sampled(sample, self._status(sample))
                # Next due tick after now; ticks already past are skipped, not bunched up.
                next_tick = max(tick + 1, math.ceil((time.monotonic() - start) / interval))
                self.summary.missed_ticks += next_tick - tick - 1
                tick = next_tick
        finally:
            report = self._report(end_reason, time.monotonic() - start)
            write_report(self.config.output, report,
                         lines_at(self.stream.path, self.summary.sample_lines))
            self.stream.write({"kind": "end", "end_reason": end_reason,
                               "complete": report["complete"]})
            self.stream.close()
            self._stop_tracing()
            self._close_files()
        self.view.finished(report, [self.config.output, self.config.stream_path])
        return report

    def _close_files(self) -> None:
        self.system.close()
        if self.sampler is not None:
            self.sampler.close()
        if self.cgroup is not None:
            self.cgroup.close()

    def _stop_tracing(self) -> None:
        """Tracing this run asked for stops with it: it slows the service."""
        if self.agents is not None and self.config.tracemalloc:
            from memory_analysis.agent.control import write_control

            with contextlib.suppress(OSError):
                write_control(self.agents.directory, tracemalloc=False)

    def _report(self, end_reason: str, elapsed: float) -> dict[str, Any]:
        # Complete means the run covered what was asked: the whole duration, until the
        # finish signal, or, without a duration, until the target's own exit. Ctrl-C and a
        # target dying early are not.
        complete = end_reason in ("duration", "requested") or (
            end_reason == "target_exited" and self.config.duration is None)
        summary = self.summary.finish(self.sampler.tree_metric if self.sampler else None)
        if end_reason == "target_exited" and self.cgroup is not None:
            # One last look: an OOM kill shows in the cgroup only after the target died.
            final = cgroup_sample(self.cgroup)
            if final is not None and "cgroup" in summary:
                summary["cgroup"]["oom_kills"] = final["oom_kills"]
                summary["cgroup"]["oom_kills_during_run"] = (
                    final["oom_kills"] - (self.summary.oom_kills_first or 0))
        sampler = self.sampler
        reads: dict[str, Any] = {
            "meminfo": {"interval_s": self.config.interval, "count": self.summary.sample_count},
        }
        if sampler is not None:
            reads["status"] = {"interval_s": self.config.interval, "count": sampler.counts.status}
            reads["smaps_rollup"] = {"interval_s": sampler.pss_interval,
                                     "count": sampler.counts.smaps_rollup,
                                     "unchanged": sampler.counts.smaps_rollup_unchanged}
            reads["process_scan"] = {"interval_s": sampler.pss_interval,
                                     "count": sampler.counts.process_scan}
        if self.cgroup is not None:
            reads["cgroup"] = {"interval_s": self.config.interval,
                               "count": self.summary.sample_count}
        unreadable = dict(sampler.unreadable) if sampler else {}
        if self.target is not None and self.target["runtime"] is None:
            self.target.update(runtime="other")  # nothing but a shell ever ran there
        if (self.agents is not None and not self._agent_seen and self.target is not None
                and self.target["runtime"] == "cpython"):
            # The agent lives in CPython only: for another runtime, silence is expected.
            self.notes.append(f"no agent reported in {self.config.agent_dir}: start the "
                              "service with MEMORY_ANALYSIS_AGENT set to it and the agent's "
                              "loader first on PYTHONPATH (see the manual)")
        if sampler is not None and not sampler.pss_readable:
            self.notes.append("PSS was not readable: tree totals sum RSS, which counts "
                              "pages shared between processes more than once")
        return {
            **self._header(),
            "complete": complete,
            "end_reason": end_reason,
            "elapsed_s": round(elapsed, 3),
            "reads": reads,
            "unreadable": unreadable,
            "notes": self.notes,
            "summary": summary,
            "alerts": self.alerts,
        }

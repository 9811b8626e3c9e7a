"""The analysis run: start or attach to the service, run baseline, load and cooldown
with the monitor and the load tester as separate processes, then merge their reports.

Phases follow one clock, the monitor's: it starts first; the load tester starts when
the baseline ends and runs for the load phase; the cooldown runs from the load's actual
end, and then the runner ends the monitor. When requests were really being sent (the
load tester's own report says) decides which phase each sample belongs to. Whatever
happens (Ctrl-C, SIGTERM, the service dying, an error), the tools are stopped in order,
a service started here is stopped with its whole process group, and the reports so far
are merged.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from memory_analysis.agent import control as agent_control
from memory_analysis.agent.control import AGENT_DIR_NAME, agent_env, write_control
from memory_analysis.analysis import attribution, runlength
from memory_analysis.analysis.series import MemorySeries, service_memory
from memory_analysis.childenv import child_env
from memory_analysis.errors import BadInput, RunFailed
from memory_analysis.loadgen.choose import choose_scenario
from memory_analysis.loadgen.config import DEFAULT_URL
from memory_analysis.loadgen.engine import FINISH_SIGNAL
from memory_analysis.loadgen.runner import timeline_path
from memory_analysis.loadgen.scenario import Scenario, parse_endpoints
from memory_analysis.monitor.report import stream_path_for
from memory_analysis.reports import charts
from memory_analysis.reports.jsonio import write_json_atomic
from memory_analysis.runner import tools
from memory_analysis.runner.config import (
    HTML_FILE,
    LOAD_FILE,
    LOAD_OVERRUN_S,
    MONITOR_FILE,
    REPORT_FILE,
    RunnerConfig,
)
from memory_analysis.runner.confine import MemoryLimit
from memory_analysis.runner.live import LiveStatus
from memory_analysis.runner.looks import LoadSoFar
from memory_analysis.runner.service import (
    Service,
    attach,
    check_port_free,
    start_command,
    start_demo,
    tail,
    wait_until_healthy,
)
from memory_analysis.signals import Interrupted, StopSignal

SERVICE_LOG = "service.log"
# The files of the --attribute stretches: attribute_1_<endpoint>.json (its load report),
# .timeline.jsonl and .scenario.json.
ATTRIBUTE_PREFIX = "attribute_"
TOOLS_LOG = "tools.log"
MONITOR_START_TIMEOUT_S = 15.0
# A snapshot of a large traced heap takes seconds (bench/RESULTS.md).
SNAPSHOT_TIMEOUT_S = 30.0
# How often the live view is brought up to date.
PROGRESS_EVERY_S = 0.5


class ServiceDied(Exception):
    """The service under analysis exited during the run."""


class LoadFailed(Exception):
    """The load tester failed (it could not reach the service, or crashed): the load the
    run is about did not happen as asked, so the run ends there."""


class RunnerView(Protocol):
    """What the runner tells a presenter: each phase as it starts, how the run is going
    (``progress``, about twice a second: see ``live.LiveStatus.status``), then the
    finished report."""

    def phase(self, name: str, detail: str) -> None: ...
    def progress(self, status: dict[str, Any]) -> None: ...
    def finished(self, report: dict[str, Any], files: list[str]) -> None: ...


@dataclass
class Timeline:
    """Wall-clock times (Unix seconds) of what happened, for phase tagging."""

    start: float | None = None  # the monitor's first sample (or the load's start)
    load_start: float | None = None
    load_end: float | None = None
    end: float | None = None
    steps: list[dict[str, Any]] = field(default_factory=list)
    # --attribute: from the last load's end to the last stretch's (each endpoint alone).
    attribute_start: float | None = None
    attribute_end: float | None = None
    attribution: list[dict[str, Any]] = field(default_factory=list)

    @property
    def quiet_from(self) -> float | None:
        """When the service was last sent requests: the cooldown runs from here."""
        return self.attribute_end if self.attribute_end is not None else self.load_end


@dataclass
class RunOutcome:
    """Everything the merge needs: the files, the timeline, and how the run ended."""

    config: RunnerConfig
    service: Service
    output_dir: Path
    timeline: Timeline
    end_reason: str = "completed"
    startup_s: float | None = None
    load_files: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    # --load-test auto: each look the leak test took (``runlength.look_record``)
    looks: list[dict[str, Any]] = field(default_factory=list)
    # --attribute: {"by", "stretch_s", "note"} once planned, or {"skipped": why}.
    attribution: dict[str, Any] | None = None
    # In a memory limit: the group (``MemoryLimit.describe``), and the first OOM kill
    # in it, {"time" (Unix s), "phase"}, if there was one.
    group: dict[str, Any] | None = None
    oom: dict[str, Any] | None = None

    @property
    def monitor_path(self) -> Path:
        return self.output_dir / MONITOR_FILE

    @property
    def monitor_stream_path(self) -> Path:
        return Path(stream_path_for(self.monitor_path))

    @property
    def load_path(self) -> Path:
        return self.output_dir / LOAD_FILE


def _requests(timeline: Timeline) -> int:
    """Requests the load phase sent, from the load tester's reports."""
    total = 0
    for step in timeline.steps:
        try:
            with open(step["file"], encoding="utf-8") as handle:
                total += int(json.load(handle)["totals"]["requests"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return total


def _measured_rate(timeline: Timeline) -> float:
    """Requests per second the load phase reached (closed model: the users' pace)."""
    seconds = sum(step["end"] - step["start"] for step in timeline.steps
                  if step.get("end") is not None)
    return _requests(timeline) / seconds if seconds > 0 else 0.0


def _safe(name: str) -> str:
    """An endpoint's name as part of a file name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_")[:40] or "endpoint"


def _load_start(report_path: Path, launched: float) -> float:
    """When the first requests left, from the load tester's report (its launch time if
    the report does not say)."""
    try:
        with open(report_path, encoding="utf-8") as handle:
            return float(json.load(handle)["started_at"])
    except (OSError, ValueError, KeyError, TypeError):
        return launched


# The leak test on the load so far: (samples tagged by phase, the load's runs on their
# clock, the monitor's stream header) in, the ``memory.leak`` block out.
Judge = Callable[[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]], dict[str, Any]]


class AnalysisRun:
    def __init__(self, config: RunnerConfig, view: RunnerView, stop: StopSignal,
                 limit_mb: float | None = None, limit_name: str | None = None,
                 judge: Judge | None = None, group: MemoryLimit | None = None) -> None:
        """``limit_mb``: the memory the user said the service will get (--target-memory,
        --plan), for the live view's share of it and the monitor's alerts; ``limit_name``:
        what it is, for both ("plan render:starter"; None: "the target"); ``judge``: the
        leak test, for the looks of ``--load-test auto`` (needed then); ``group``: the
        memory cgroup to start the service in (made and removed by the caller)."""
        config.validate()
        if config.load_auto and judge is None:
            raise ValueError("--load-test auto needs the leak test to look with")
        self.judge = judge
        self.group = group
        self._oom: dict[str, Any] | None = None
        self.config = config
        self.view = view
        self.stop = stop
        self.output_dir = Path(config.output_dir)
        self.monitor: subprocess.Popen | None = None
        self.load: subprocess.Popen | None = None
        self.live = LiveStatus(Path(stream_path_for(self.output_dir / MONITOR_FILE)), limit_mb,
                               limit_name)
        self._phase: tuple[str, str, float, float | None] = ("starting", "", time.time(), None)
        self._shown = 0.0

    def _enter(self, name: str, detail: str, planned_s: float | None) -> None:
        """A phase starts: tell the view, and time the progress from now."""
        self._phase = (name, detail, time.time(), planned_s)
        self.view.phase(name, detail)

    def _show_progress(self) -> None:
        now = time.monotonic()
        if now - self._shown < PROGRESS_EVERY_S:
            return
        self._shown = now
        self.live.update()
        self.view.progress(self.live.status(*self._phase))

    # -- the service -------------------------------------------------------------------
    def _agent_env(self, base: dict[str, str]) -> dict[str, str]:
        """The environment of a service started here: with the agent, unless
        --no-agent. Its settings go in the control file before the service starts, so
        tracemalloc traces from the first import."""
        directory = self.config.agent_report_dir
        if directory is None:
            return base
        directory.mkdir(exist_ok=True)
        write_control(directory, tracemalloc=self.config.tracemalloc,
                      components=self.config.component_map(), periodic=False)
        return agent_env(base, directory, self.config.interval)

    def _service(self) -> Service:
        config = self.config
        log = self.output_dir / SERVICE_LOG
        if config.mode == "demo":
            return start_demo(log, leak_kb=config.demo_leak_kb, hold_mb=config.demo_hold_mb,
                              env=self._agent_env(child_env()), group=self.group)
        if config.mode == "command":
            assert config.service_cmd is not None
            url = config.url or DEFAULT_URL
            return start_command(config.service_cmd, url, "command", log,
                                 env=self._agent_env(dict(os.environ)),
                                 cwd=config.service_cwd, group=self.group)
        if config.mode == "pid" and config.agent_report_dir is not None:
            if config.tracemalloc or config.components:
                try:
                    write_control(config.agent_report_dir, tracemalloc=config.tracemalloc or None,
                                  components=config.component_map())
                except OSError as exc:
                    raise BadInput(f"--agent-dir: cannot write to {config.agent_report_dir}: "
                                   f"{exc.strerror or exc}") from None
        if config.mode == "pid":
            assert config.pid is not None and config.url is not None
            return attach(config.pid, config.url)
        assert config.url is not None
        return Service(mode="url", url=config.url)

    # -- waiting, with an eye on signals and the service ---------------------------------
    def _check(self, service: Service) -> None:
        if self.stop.requested:
            raise Interrupted
        self._watch_oom()
        ended = service.exit_info()
        if ended is not None:
            raise ServiceDied(ended)

    def _watch_oom(self) -> None:
        """Note the first OOM kill in the service's memory group: when, in which phase.
        A worker killed and restarted leaves the service running; it counts all the
        same (its requests in flight were lost)."""
        if self.group is not None and self._oom is None and self.group.oom_kills():
            self._oom = {"time": time.time(), "phase": self._phase[0]}

    def _wait_until(self, deadline: float, service: Service,
                    process: subprocess.Popen | None = None) -> None:
        """Sleep until wall time ``deadline`` (or until ``process`` exits)."""
        while time.time() < deadline:
            self._check(service)
            if process is not None and process.poll() is not None:
                return
            self._show_progress()
            self.stop.wait(min(0.1, max(deadline - time.time(), 0)))
        self._check(service)

    def _wait_monitor_start(self, stream: Path, service: Service) -> float:
        """Wall time of the monitor's first sample, once it is on disk."""
        deadline = time.time() + MONITOR_START_TIMEOUT_S
        while time.time() < deadline:
            self._check(service)
            assert self.monitor is not None
            if self.monitor.poll() is not None:
                raise RunFailed("memory_monitor.py stopped at start-up: "
                                + tail(self.output_dir / TOOLS_LOG, 5))
            if stream.exists():
                with open(stream, encoding="utf-8") as handle:
                    lines = handle.read().splitlines()
                if len(lines) >= 2:
                    return float(json.loads(lines[1])["time"])
            self.stop.wait(0.02)
        raise RunFailed("memory_monitor.py took no sample within "
                        f"{MONITOR_START_TIMEOUT_S:g} s")

    def _traced_snapshot(self, service: Service, outcome: RunOutcome) -> None:
        """With --tracemalloc, ask the agents for a snapshot now and wait for it, so the
        breakdown has one at the end of the baseline, of each load and of the cooldown
        (periodic ones, kept to 2 % of the service's time, may be minutes apart)."""
        directory = self.config.agent_report_dir
        if not self.config.tracemalloc or directory is None:
            return
        number = agent_control.ask_snapshot(directory)
        deadline = time.time() + SNAPSHOT_TIMEOUT_S
        while time.time() < deadline:
            self._check(service)
            if agent_control.answered(directory, number):
                # Until the monitor's next samples carry it.
                self._wait_until(time.time() + 2 * self.config.interval, service)
                return
            self._show_progress()
            self.stop.wait(0.05)
        outcome.problems.append(f"the agents did not take a tracemalloc snapshot within "
                                f"{SNAPSHOT_TIMEOUT_S:g} s: the breakdown uses the nearest")

    # -- the load ----------------------------------------------------------------------
    def _load_file(self, outcome: RunOutcome, cycle: int, index: int, users: int) -> Path:
        cycles, steps = self.config.cycles, self.config.load_steps
        if cycles == 1 and len(steps) == 1:
            return outcome.load_path
        if cycles == 1:
            return self.output_dir / f"load_step_{index + 1}_{users}_users.json"
        if len(steps) == 1:
            return self.output_dir / f"load_cycle_{cycle}.json"
        return self.output_dir / f"load_cycle_{cycle}_step_{index + 1}_{users}_users.json"

    def _run_load(self, service: Service, timeline: Timeline, outcome: RunOutcome,
                  cycle: int) -> None:
        steps = self.config.load_steps
        step_s = self.config.step_s
        cycles = self.config.cycles
        for index, users in enumerate(steps):
            output = self._load_file(outcome, cycle, index, users)
            where = []
            if len(steps) > 1:
                where.append(f"step {index + 1} of {len(steps)}")
            if cycles > 1:
                where.append(f"cycle {cycle} of {cycles}")
            rate = self.config.rate
            what = f"{rate:g} requests/s" if rate else f"{users} users"
            if self.config.demo_mix_on_own_service:
                where.append("the demo's requests: give --openapi or --scenario for yours")
            how_long = (f"until the leak test can tell, at most {step_s:g} s"
                        if self.config.load_auto else f"for {step_s:g} s")
            self._enter("load", f"{what} {how_long}"
                        + (f" ({', '.join(where)})" if where else ""), step_s)
            args = self.config.load_config(users, service.url, output).to_args() + ["--quiet"]
            first = index == 0 and cycle == 1
            step: dict[str, Any] = {"users": users, "cycle": cycle, "start": time.time(),
                                    "end": None, "file": str(output), "exit_code": None}
            if first:
                timeline.load_start = step["start"]  # provisional, until the report says
            timeline.steps.append(step)
            outcome.load_files.append(output)
            told = (functools.partial(self._load_until_told, service, output, users, outcome)
                    if self.config.load_auto else None)
            try:
                code, overran = self._load_run(args, output, step_s, service, step, told)
            finally:
                # However the step ends, so a run stopped mid-step still tags its samples.
                timeline.load_end = step["end"]
            if overran:
                outcome.problems.append(f"load step {index + 1} overran its "
                                        f"{step_s:g} s and was stopped")
            if first:
                timeline.load_start = step["start"]
            if code in (0, 3):
                self._traced_snapshot(service, outcome)
            if code == 2:
                raise BadInput("load_tester.py rejected the load options: "
                               + tail(self.output_dir / TOOLS_LOG, 1))
            if code not in (0, 3):
                outcome.problems.append(f"load_tester.py exited with code {code}: "
                                        + tail(self.output_dir / TOOLS_LOG, 1))
                raise LoadFailed

    def _load_until_told(self, service: Service, output: Path, users: int,
                         outcome: RunOutcome) -> None:
        """--load-test auto: look at the leak after each of ``runlength.look_times``
        seconds of load, and end the load (as finished) at the first look that says
        "leak" or "no leak". The cap's own look is the run's final verdict: the load
        tester ends there by itself."""
        assert self.load is not None and self.judge is not None
        so_far = LoadSoFar(Path(stream_path_for(self.output_dir / MONITOR_FILE)),
                           Path(timeline_path(str(output))), users)
        times = runlength.look_times(self.config.load_test)
        for at in times[:-1]:
            while so_far.load_s < at:
                if self.load.poll() is not None:
                    return
                self._check(service)
                self._show_progress()
                self.stop.wait(0.2)
                so_far.update()
            inputs = so_far.inputs()
            if inputs is None:
                continue
            leak = self.judge(inputs[0], inputs[1], so_far.header)
            look = runlength.look_record(so_far.load_s, leak)
            outcome.looks.append(look)
            self.live.auto = {**look, "look": len(outcome.looks), "looks_planned": len(times),
                              "more_s": runlength.expected_more_s(leak, so_far.load_s)}
            if runlength.settles(leak, so_far.load_s):
                with contextlib.suppress(ProcessLookupError):
                    self.load.send_signal(FINISH_SIGNAL)
                return

    # -- which endpoint keeps the memory (--attribute) ------------------------------------
    def _attribute(self, service: Service, timeline: Timeline, outcome: RunOutcome) -> None:
        """After the last load, when memory grew under it: each endpoint (or category)
        alone for a stretch, at the load's users or rate, one load tester run each with
        a scenario of that endpoint only (written to the output directory). The
        stretches are tagged with a phase of their own ("attribute"), so the verdict on
        the load stays the load's; the cooldown follows them."""
        config = self.config
        if service.pid is None:
            outcome.attribution = {"skipped": "service memory was not observed"}
            return
        mix = attribution.mix_growth(self._memory_so_far(outcome), _requests(timeline))
        if not mix.seen:
            outcome.attribution = {"skipped": mix.why_not()}
            self.view.phase("attribute", "skipped: " + mix.why_not())
            return
        scenario, _notes = choose_scenario(config.scenario, config.openapi_source(service.url),
                                           parse_endpoints(config.endpoints))
        endpoints = [(e.name, e.category) for e in scenario.endpoints]
        rate = config.rate or _measured_rate(timeline)
        plan = attribution.attribution_plan(mix, endpoints, rate, config.interval,
                                            config.attribute_max)
        outcome.attribution = {"by": plan.by, "stretch_s": plan.stretch_s, "note": plan.note,
                               "mix_bytes_per_request": round(mix.bytes_per_request or 0)}
        if plan.note:
            outcome.problems.append(plan.note)
        users = config.load_steps[-1]
        self._enter("attribute", f"{len(plan.units)} {plan.by}"
                    f"{'s' if len(plan.units) > 1 else ''} × {plan.stretch_s:g} s, each alone, "
                    "to see which keeps the memory", plan.total_s)
        # From the load's end: the moments spent choosing the stretches (the growth fit,
        # the scenario) belong to them, not to a cooldown that has not begun.
        timeline.attribute_start = timeline.load_end or time.time()
        try:
            for index, unit in enumerate(plan.units, start=1):
                chosen = [e for e in scenario.endpoints
                          if (e.name if plan.by == "endpoint" else e.category) == unit]
                alone = Scenario(source=scenario.source, endpoints=tuple(chosen),
                                 variables=scenario.variables, base_url=scenario.base_url,
                                 description=f"{unit} alone (--attribute)")
                stem = f"{ATTRIBUTE_PREFIX}{index}_{_safe(unit)}"
                scenario_file = self.output_dir / f"{stem}.scenario.json"
                write_json_atomic(scenario_file, alone.to_dict())
                output = self.output_dir / f"{stem}.json"
                load = config.load_config(users, service.url, output)
                load.scenario, load.openapi, load.endpoints = str(scenario_file), None, None
                load.duration_s = plan.stretch_s
                stretch: dict[str, Any] = {"name": unit, "category": chosen[0].category
                                           if plan.by == "endpoint" else unit,
                                           "start": time.time(), "end": None,
                                           "file": str(output), "exit_code": None}
                timeline.attribution.append(stretch)
                code, _overran = self._load_run(load.to_args() + ["--quiet"], output,
                                                plan.stretch_s, service, stretch)
                if code not in (0, 3):
                    outcome.problems.append(f"the attribution's run of {unit} failed (exit "
                                            f"{code}): " + tail(self.output_dir / TOOLS_LOG, 1))
                    break
        finally:
            timeline.attribute_end = time.time()

    def _load_run(self, args: list[str], output: Path, planned_s: float, service: Service,
                  record: dict[str, Any], while_loading: Callable[[], None] | None = None
                  ) -> tuple[int | None, bool]:
        """One load tester run of ``planned_s``, followed live, stopped if it overruns:
        (its exit code, whether it overran). ``while_loading``: called once it runs (the
        looks of --load-test auto). ``record`` gets its start, end and exit code."""
        started = time.time()
        self.load = tools.launch(tools.LOAD_TESTER, args, self.output_dir / TOOLS_LOG)
        self.live.follow_load(Path(timeline_path(str(output))))
        try:
            if while_loading is not None:
                while_loading()
            self._wait_until(started + planned_s + LOAD_OVERRUN_S, service, self.load)
        finally:
            # Recorded however the run ends, so a run stopped midway still tags its
            # samples and merges what the load tester wrote; an interrupted run's start
            # is read from its report once the load tester has written it.
            record["end"] = time.time()
        overran = self.load.poll() is None
        if overran:
            tools.interrupt(self.load)
        code = self.load.returncode
        self.live.stop_following_load()
        # The load runs from its first request (the load tester's start-up is not load)
        # until the load tester has exited. Not its last request: the generator's exit
        # unmaps the interpreter and libraries it shares with a Python service, which
        # moves the service's PSS share of them by a few MB; that step must fall between
        # the phases, not look like growth in the cooldown.
        record.update(start=_load_start(output, started), end=time.time(), exit_code=code)
        self.load = None
        return code, overran

    def _memory_so_far(self, outcome: RunOutcome) -> MemorySeries:
        """The service's memory streamed by the monitor so far, tagged with phases."""
        from memory_analysis.runner.merge import samples_from_stream, tag_phases

        samples = samples_from_stream(outcome.monitor_stream_path)
        tag_phases(samples, outcome.timeline)
        return service_memory(samples)

    # -- the whole run -----------------------------------------------------------------
    def _clear_agent_dir(self) -> None:
        """Remove the agent's directory of a service that never started (what it holds
        is this run's control file, and reports of processes that never served)."""
        directory = self.config.agent_report_dir
        if self.config.mode in ("demo", "command") and directory is not None:
            agent_control.clear(directory)
            with contextlib.suppress(OSError):
                directory.rmdir()

    def _clear_previous(self) -> None:
        """Remove what an earlier run left under the names this run writes, so that no
        file of it passes for this run's (a failed run then leaves no old report, and the
        tools' logs start empty)."""
        names = [REPORT_FILE, MONITOR_FILE, LOAD_FILE, SERVICE_LOG, TOOLS_LOG,
                 charts.MEMORY_PNG, charts.LOAD_PNG, HTML_FILE,
                 stream_path_for(MONITOR_FILE), Path(timeline_path(LOAD_FILE)).name]
        patterns = ["load_step_*.json", "load_cycle_*.json", "load_step_*.timeline.jsonl",
                    "load_cycle_*.timeline.jsonl", f"{ATTRIBUTE_PREFIX}*"]
        if self.config.mode in ("demo", "command"):
            agent_control.clear(self.output_dir / AGENT_DIR_NAME)
        stale = [self.output_dir / name for name in names]
        stale += [path for pattern in patterns for path in self.output_dir.glob(pattern)]
        for path in stale:
            path.unlink(missing_ok=True)

    def run(self) -> RunOutcome:
        config = self.config
        if config.mode == "command":  # refused before an earlier run's reports are cleared
            check_port_free(config.url or DEFAULT_URL)
        self._clear_previous()
        service = self._service()
        if self.group is not None:
            self.group.started(service.pid)
        timeline = Timeline()
        outcome = RunOutcome(config, service, self.output_dir, timeline)
        try:
            self._enter("starting", f"waiting for {service.url}{config.health_path}", None)
            try:
                outcome.startup_s = wait_until_healthy(
                    service, config.health_path, config.startup_timeout, self.stop)
            except RunFailed:
                self._watch_oom()
                if self._oom is not None:  # it could not start inside its memory limit
                    raise ServiceDied(service.exit_info()) from None
                self._clear_agent_dir()  # a service that never started leaves its log only
                raise
            if self.group is not None:
                self.group.check_limit()  # a systemd scope is found once the service runs
            if config.openapi_on_service:
                # Only now can the document be read: a bad one stops the run here.
                _scenario, notes = choose_scenario(None, config.openapi_source(service.url),
                                                   parse_endpoints(config.endpoints),
                                                   config.headers)
                outcome.problems += notes
            if service.pid is not None:
                args = config.monitor_config(service.pid, outcome.monitor_path,
                                             self.live.limit_mb, self.live.limit_name
                                             ).to_args()
                self.monitor = tools.launch(tools.MONITOR, args + ["--quiet"],
                                            self.output_dir / TOOLS_LOG)
                timeline.start = self._wait_monitor_start(outcome.monitor_stream_path,
                                                          service)
            else:
                timeline.start = time.time()
            self._enter("baseline", f"{config.baseline:g} s without load", config.baseline)
            self._wait_until(timeline.start + config.baseline, service)
            self._traced_snapshot(service, outcome)
            for cycle in range(1, config.cycles + 1):
                self._run_load(service, timeline, outcome, cycle)
                if config.attribute and cycle == config.cycles:
                    self._attribute(service, timeline, outcome)
                self._enter("cooldown", f"{config.cooldown:g} s after the load"
                            + (f" (cycle {cycle} of {config.cycles})"
                               if config.cycles > 1 else ""), config.cooldown)
                assert timeline.quiet_from is not None
                self._wait_until(timeline.quiet_from + config.cooldown, service)
            self._traced_snapshot(service, outcome)
            if self.monitor is not None:
                tools.finish(self.monitor)
        except Interrupted:
            outcome.end_reason = "interrupted"
        except ServiceDied:
            self._watch_oom()
            # Killed for memory inside its limit: what a rehearsal is there to find out,
            # an outcome of the run; otherwise how it died: outcome.service.exit_info().
            outcome.end_reason = "oom_killed" if self._oom is not None else "service_died"
        except LoadFailed:
            outcome.end_reason = "load_failed"  # why: the last of outcome.problems
        finally:
            timeline.end = time.time()
            self._stop_tools(service)
            if self.group is not None:
                self._watch_oom()
                outcome.group = self.group.describe()
                outcome.oom = self._oom
            for step in timeline.steps:
                if step["exit_code"] is None:  # stopped mid-step: its report is written now
                    step["start"] = _load_start(Path(step["file"]), step["start"])
            if timeline.steps:
                timeline.load_start = timeline.steps[0]["start"]
            for stretch in timeline.attribution:
                if stretch["exit_code"] is None:
                    stretch["start"] = _load_start(Path(stretch["file"]), stretch["start"])
            if timeline.attribute_start is not None and timeline.attribute_end is None:
                timeline.attribute_end = timeline.end
        return outcome

    def _stop_tools(self, service: Service) -> None:
        """Stop what is still running, load first (so the monitor sees it end); a
        running service (--pid) stops tracing if this run started it."""
        directory = self.config.agent_report_dir
        if self.config.mode == "pid" and self.config.tracemalloc and directory is not None:
            with contextlib.suppress(OSError):
                write_control(directory, tracemalloc=False)
        if self.load is not None:
            tools.interrupt(self.load)
        if self.monitor is not None and self.monitor.poll() is None:
            # A monitor whose target just died is finishing by itself: give it a moment.
            try:
                self.monitor.wait(timeout=3.0)
            except subprocess.TimeoutExpired:
                tools.interrupt(self.monitor)
        service.stop()

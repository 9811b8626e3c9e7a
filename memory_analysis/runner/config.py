"""What the runner was asked to do, checked before anything starts.

The runner's own options are checked here. The monitor's and the load tester's are
checked by their own configurations: the runner builds those (``monitor_config``,
``load_config``), calls their ``validate`` before a service is started, and starts the
tools from the same objects (``to_args``), so a setting means the same thing to a tool
whether the runner or the user gave it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from memory_analysis.agent.control import AGENT_DIR_NAME, read_component_map
from memory_analysis.analysis.limits import parse_size_mb
from memory_analysis.analysis.thresholds import (
    ATTRIBUTE_MAX_S,
    AUTO_MAX_S,
    FIND_MINIMUM_ROUNDS,
    MAX_ROUNDS,
)
from memory_analysis.argtext import number
from memory_analysis.errors import BadInput
from memory_analysis.loadgen.config import (
    DEFAULT_URL,
    LoadConfig,
    check_url,
    parse_think_time,
    parse_workers,
)
from memory_analysis.loadgen.openapi import is_url
from memory_analysis.loadgen.scenario import parse_endpoints
from memory_analysis.monitor.session import MonitorConfig
from memory_analysis.reports.jsonio import check_writable

QUICK = {"baseline": 15.0, "load_test": 30.0, "cooldown": 15.0}
REPORT_FILE = "comprehensive_memory_analysis.json"
MONITOR_FILE = "memory_analysis.json"
LOAD_FILE = "load_test_during_analysis.json"
HTML_FILE = "memory_analysis_report.html"
# How long a tool may take past its own end (start-up, draining in-flight requests).
LOAD_OVERRUN_S = 30.0
_UNITS_S = {"": 1.0, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}


def parse_load_test(text: str | float) -> tuple[float, bool]:
    """``--load-test``: seconds of load, or ``auto[:MAX]`` (MAX in seconds, or with s, m
    or h: ``auto:20m``), the load going on until the leak test can tell or MAX is
    reached. Returns (seconds, or the cap; whether the test chooses)."""
    value = str(text).strip().lower()
    auto = value == "auto" or value.startswith("auto:")
    if value == "auto":
        return AUTO_MAX_S, True
    number = value[len("auto:"):] if auto else value
    unit = number.lstrip("+-0123456789.")
    try:
        seconds = float(number[:len(number) - len(unit)]) * _UNITS_S[unit.strip()]
    except (ValueError, KeyError):
        raise BadInput(f"--load-test must be seconds of load, or auto or auto:MAX (e.g. "
                       f"auto:20m) to load until the leak test can tell (got {text!r})"
                       ) from None
    return seconds, auto


# Overruns the monitor's backstop allows the attribution's stretches, together.
ATTRIBUTE_OVERRUNS = 4
DEMO_COMPONENTS = Path(__file__).resolve().parent.parent / "demo" / "components.yaml"


@dataclass
class RunnerConfig:
    baseline: float = 30.0
    load_test: float = 120.0  # seconds of load; with load_auto, the cap
    load_auto: bool = False  # --load-test auto: the load goes on until the leak test tells
    cooldown: float = 30.0
    users: int = 20
    requests: int = 15
    interval: float = 0.5
    service_cmd: str | None = None
    service_cwd: str | None = None
    pid: int | None = None
    url: str | None = None
    output_dir: str = "memory_analysis_results"
    health_path: str = "/health"
    startup_timeout: float = 30.0
    users_steps: list[int] | None = None
    catalog: str | None = None
    cycles: int = 1
    target_memory: str | None = None
    plan: str | None = None
    demo_leak_kb: int = 0
    demo_hold_mb: int = 0
    # The load tester's options, checked by its own configuration (``load_config``).
    scenario: str | None = None
    openapi: str | None = None  # a file, a URL, or a path on the service's URL
    endpoints: str | None = None
    headers: tuple[str, ...] = ()  # "Name: value"; a report holds only their names
    think_time: str | None = None
    rate: float | None = None
    timeout: float | None = None
    workers: str | None = None
    # The agent inside the service (GC, objects, memory by component).
    agent: bool = True
    agent_dir: str | None = None  # --pid: where the running service's agent reports
    tracemalloc: bool = False
    components: str | None = None  # a component map file
    # Which endpoint keeps the memory: each sent alone after the load, when memory grew.
    attribute: bool = False
    attribute_max: float = ATTRIBUTE_MAX_S  # seconds, all the stretches together
    # Run the service inside a memory cgroup: of this size (--memory-limit), or of
    # --plan's or --target-memory's (--rehearse); swap off unless --allow-swap.
    memory_limit: str | None = None
    rehearse: bool = False
    allow_swap: bool = False
    # --find-minimum: an unlimited round, then ``rounds`` rounds under shrinking limits.
    find_minimum: bool = False
    rounds: int = FIND_MINIMUM_ROUNDS
    # Draw the PNG and HTML pictures (not for --find-minimum's limited rounds).
    pictures: bool = True

    @property
    def mode(self) -> str:
        if self.pid is not None:
            return "pid"
        if self.service_cmd is not None:
            return "command"
        if self.url is not None:
            return "url"
        return "demo"

    @property
    def demo_mix_on_own_service(self) -> bool:
        """The user's own service gets the bundled demo's requests: no scenario was
        given, which is nearly always a mistake (they answer 404)."""
        return self.mode != "demo" and self.scenario is None and self.openapi is None

    @property
    def load_steps(self) -> list[int]:
        return self.users_steps or [self.users]

    @property
    def step_s(self) -> float:
        """Seconds of load at each user step."""
        return self.load_test / len(self.load_steps)

    @property
    def monitor_cap_s(self) -> float:
        """The monitor's own --duration: only a backstop, as the runner ends it once the
        cooldown is over (the load may take longer than planned to start and drain)."""
        attribution = (self.attribute_max + LOAD_OVERRUN_S * ATTRIBUTE_OVERRUNS
                       if self.attribute else 0.0)
        return (self.baseline + (self.load_test + self.cooldown
                                 + LOAD_OVERRUN_S * len(self.load_steps)) * self.cycles
                + attribution + 60.0)

    @property
    def agent_report_dir(self) -> Path | None:
        """Where the service's agent reports: a directory of the run's own for a service
        the runner starts, the one given with --agent-dir for --pid; None without."""
        if not self.agent or self.mode == "url":
            return None
        if self.mode == "pid":
            return Path(self.agent_dir) if self.agent_dir else None
        return Path(self.output_dir) / AGENT_DIR_NAME

    def component_map(self) -> dict[str, list[str]] | None:
        """The component map: --components, else the demo's own for the demo."""
        if self.components is not None:
            return read_component_map(self.components)
        if self.mode == "demo":
            return read_component_map(DEMO_COMPONENTS)
        return None

    def openapi_source(self, url: str) -> str | None:
        """Where the OpenAPI document is: a path like /openapi.json that is not a file
        here is a path on the service."""
        if self._openapi_path_on_service:
            assert self.openapi is not None
            return url.rstrip("/") + self.openapi
        return self.openapi

    @property
    def _openapi_path_on_service(self) -> bool:
        return (self.openapi is not None and self.openapi.startswith("/")
                and not Path(self.openapi).is_file())

    @property
    def openapi_on_service(self) -> bool:
        """The document is fetched (a URL, a path on the service), so it can be read only
        once the service answers."""
        return self.openapi is not None and (self._openapi_path_on_service
                                             or is_url(self.openapi))

    def load_config(self, users: int, url: str, output: str | Path) -> LoadConfig:
        """The load tester's configuration for one step of ``users``."""
        config = LoadConfig(url=url, users=users, requests_per_user=self.requests,
                            duration_s=self.step_s, repeat=True,
                            think_time_s=parse_think_time(self.think_time), rate=self.rate,
                            workers=parse_workers(self.workers) if self.workers else 1,
                            scenario=self.scenario, openapi=self.openapi_source(url),
                            endpoints=parse_endpoints(self.endpoints),
                            headers=list(self.headers), output=str(output))
        if self.timeout is not None:
            config.timeout_s = self.timeout
        return config

    def monitor_config(self, pid: int | None, output: str | Path,
                       target_mb: float | None = None,
                       target_name: str | None = None) -> MonitorConfig:
        """The monitor's configuration for the service's process ``pid``. ``target_mb``:
        the memory the service will get (--target-memory, or --plan's memory, found in the
        catalogs) and ``target_name`` what it is ("plan render:starter"), so the monitor's
        alerts fire against it."""
        agent_dir = self.agent_report_dir
        return MonitorConfig(pid=pid, interval=self.interval, duration=self.monitor_cap_s,
                             output=str(output),
                             agent_dir=str(agent_dir) if agent_dir is not None else None,
                             target_memory=f"{number(target_mb)}M" if target_mb else None,
                             target_name=target_name if target_mb else None,
                             for_runner=True)

    def validate(self) -> None:
        """BadInput, with one sentence, for anything impossible or contradictory."""
        if self.service_cmd is not None and not self.service_cmd.strip():
            raise BadInput("--service-cmd is empty: give the command that starts your "
                           "service, e.g. --service-cmd 'uvicorn app:app --port 8000'")
        if self.pid is not None and self.service_cmd is not None:
            raise BadInput("--pid and --service-cmd exclude each other: attach to a running "
                           "service or start one, not both")
        if self.pid is not None and self.url is None:
            raise BadInput("--pid needs --url: the address the load is sent to")
        if self.pid is not None and self.pid <= 0:
            raise BadInput(f"no process with PID {self.pid}")
        if self.service_cwd is not None:
            if self.service_cmd is None:
                raise BadInput("--service-cwd goes with --service-cmd")
            if not Path(self.service_cwd).is_dir():
                raise BadInput(f"--service-cwd: no such directory {self.service_cwd}")
        for name, value in (("--baseline", self.baseline), ("--load-test", self.load_test),
                            ("--cooldown", self.cooldown),
                            ("--startup-timeout", self.startup_timeout)):
            if not value > 0:
                raise BadInput(f"{name} must be greater than 0 seconds (got {value:g})")
        if self.users_steps is not None:
            if not self.users_steps or any(step <= 0 for step in self.users_steps):
                raise BadInput("--users-steps must be positive user counts, e.g. 5,10,20")
        if self.cycles < 1:
            raise BadInput(f"--cycles must be 1 or more (got {self.cycles})")
        if self.load_auto and (self.users_steps is not None or self.cycles > 1):
            raise BadInput("--load-test auto goes on at one steady load: it does not go with "
                           "--users-steps or --cycles")
        if self.load_auto and self.mode == "url":
            raise BadInput("--load-test auto needs the service's memory, to tell when to "
                           "stop: give --pid or --service-cmd (--url alone measures none)")
        if self.target_memory is not None and self.plan is not None:
            raise BadInput("--target-memory and --plan exclude each other: give the memory "
                           "the service will get once")
        if self.target_memory is not None:
            parse_size_mb(self.target_memory)
        for name, value in (("--demo-leak-kb", self.demo_leak_kb),
                            ("--demo-hold-mb", self.demo_hold_mb)):
            if value < 0:
                raise BadInput(f"{name} must be 0 or more")
            if value and self.mode != "demo":
                raise BadInput(f"{name} is for the bundled demo service only")
        if self.agent_dir is not None and self.mode != "pid":
            raise BadInput("--agent-dir goes with --pid: for a service it starts, the runner "
                           "sets up the agent itself")
        if (self.tracemalloc or self.components) and (self.mode == "url" or not self.agent):
            option = "--tracemalloc" if self.tracemalloc else "--components"
            raise BadInput(f"{option} needs the agent inside the service: "
                           + ("--url alone runs no service here" if self.mode == "url"
                              else "drop --no-agent"))
        if (self.tracemalloc or self.components) and self.mode == "pid" and not self.agent_dir:
            raise BadInput("--tracemalloc and --components with --pid need --agent-dir: the "
                           "directory the service's agent reports to")
        self.component_map()
        if self.attribute and self.mode == "url":
            raise BadInput("--attribute needs the service's memory, which --url alone does not "
                           "observe: start the service here (--service-cmd) or attach to it "
                           "(--pid with --url)")
        if not self.attribute_max > 0:
            raise BadInput(f"--attribute-max must be greater than 0 seconds (got "
                           f"{self.attribute_max:g})")
        self._check_rehearsal()
        if not self.health_path.startswith("/"):
            raise BadInput(f"--health-path must start with '/' (got {self.health_path!r})")
        output_dir = self._check_output_dir()
        # The tools' own checks, with their own messages. The demo's address is known only
        # once it runs: a placeholder stands in for it.
        url = self.url or DEFAULT_URL
        check_url(url)
        for users in self.load_steps:
            self.load_config(users, url, output_dir / LOAD_FILE).validate()
        self.monitor_config(None, output_dir / MONITOR_FILE).validate()

    @property
    def limit_source(self) -> str | None:
        """Where the size of the service's memory cgroup comes from: "memory_limit",
        "plan" or "target_memory" (--rehearse); None when it runs without one."""
        if self.memory_limit is not None:
            return "memory_limit"
        if self.rehearse:
            return "plan" if self.plan is not None else "target_memory"
        return None

    def _check_rehearsal(self) -> None:
        confined = self.memory_limit is not None or self.rehearse or self.find_minimum
        if self.memory_limit is not None:
            parse_size_mb(self.memory_limit, "--memory-limit")
        if self.rehearse and self.memory_limit is not None:
            raise BadInput("--rehearse and --memory-limit exclude each other: --rehearse uses "
                           "--plan's or --target-memory's memory as the limit")
        if self.rehearse and self.plan is None and self.target_memory is None:
            raise BadInput("--rehearse needs the memory to rehearse in: --plan PROVIDER:PLAN "
                           "or --target-memory SIZE")
        if self.find_minimum and (self.memory_limit is not None or self.rehearse):
            raise BadInput("--find-minimum chooses its own limits: it does not go with "
                           "--memory-limit or --rehearse")
        if self.allow_swap and not confined:
            raise BadInput("--allow-swap goes with --memory-limit, --rehearse or "
                           "--find-minimum")
        if confined and self.mode in ("pid", "url"):
            option = ("--find-minimum" if self.find_minimum else
                      "--rehearse" if self.rehearse else "--memory-limit")
            raise BadInput(f"{option} runs the service inside a memory limit, so the runner "
                           "must start it: use the demo or --service-cmd, not "
                           + ("--pid" if self.mode == "pid" else "--url alone"))
        if self.rounds != FIND_MINIMUM_ROUNDS and not self.find_minimum:
            raise BadInput("--rounds goes with --find-minimum")
        if not 1 <= self.rounds <= MAX_ROUNDS:
            raise BadInput(f"--rounds must be 1 to {MAX_ROUNDS} (got {self.rounds})")
        if self.find_minimum and (self.load_auto or self.users_steps is not None
                                  or self.cycles > 1 or self.attribute):
            raise BadInput("--find-minimum repeats one steady load in every round: it does "
                           "not go with --load-test auto, --users-steps, --cycles or "
                           "--attribute")

    def _check_output_dir(self) -> Path:
        directory = Path(self.output_dir)
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BadInput(f"cannot create output directory {directory}: "
                           f"{exc.strerror or exc}") from None
        check_writable(directory / REPORT_FILE)
        return directory

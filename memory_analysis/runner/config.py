"""What the runner was asked to do, checked before anything starts."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from memory_analysis.analysis.limits import parse_size_mb
from memory_analysis.errors import BadInput
from memory_analysis.reports.jsonio import check_writable

QUICK = {"baseline": 15.0, "load_test": 30.0, "cooldown": 15.0}


@dataclass
class RunnerConfig:
    baseline: float = 30.0
    load_test: float = 120.0
    cooldown: float = 30.0
    users: int = 20
    requests: int = 15
    interval: float = 0.5
    service_cmd: str | None = None
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
    # Passed through to load_tester.py as given (it validates them itself).
    load_options: dict[str, str] = field(default_factory=dict)

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
    def load_steps(self) -> list[int]:
        return self.users_steps or [self.users]

    def validate(self) -> None:
        """BadInput, with one sentence, for anything impossible or contradictory."""
        if self.pid is not None and self.service_cmd is not None:
            raise BadInput("--pid and --service-cmd exclude each other: attach to a running "
                           "service or start one, not both")
        if self.pid is not None and self.url is None:
            raise BadInput("--pid needs --url: the address the load is sent to")
        if self.pid is not None and self.pid <= 0:
            raise BadInput(f"no process with PID {self.pid}")
        for name, value in (("--baseline", self.baseline), ("--load-test", self.load_test),
                            ("--cooldown", self.cooldown), ("--interval", self.interval),
                            ("--startup-timeout", self.startup_timeout)):
            if not value > 0:
                raise BadInput(f"{name} must be greater than 0 seconds (got {value:g})")
        if self.users <= 0:
            raise BadInput(f"--users must be at least 1 (got {self.users})")
        if self.requests < 0:
            raise BadInput(f"--requests must be 0 (no limit) or more (got {self.requests})")
        if self.users_steps is not None:
            if not self.users_steps or any(step <= 0 for step in self.users_steps):
                raise BadInput("--users-steps must be positive user counts, e.g. 5,10,20")
        if self.cycles < 1:
            raise BadInput(f"--cycles must be 1 or more (got {self.cycles})")
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
        if self.url is not None:
            parsed = urlparse(self.url)
            if parsed.scheme not in ("http", "https") or not parsed.hostname:
                raise BadInput(f"--url must be an http(s) URL such as http://127.0.0.1:8000 "
                               f"(got {self.url!r})")
        if not self.health_path.startswith("/"):
            raise BadInput(f"--health-path must start with '/' (got {self.health_path!r})")
        self._check_output_dir()

    def _check_output_dir(self) -> None:
        directory = Path(self.output_dir)
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BadInput(f"cannot create output directory {directory}: "
                           f"{exc.strerror or exc}") from None
        check_writable(directory / "comprehensive_memory_analysis.json")

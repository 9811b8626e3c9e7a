"""What a load test is asked to do, validated once (BadInput for anything wrong)."""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

from memory_analysis.argtext import number
from memory_analysis.errors import BadInput
from memory_analysis.loadgen.scenario import parse_headers

DEFAULT_URL = "http://localhost:8000"
DEFAULT_MAX_IN_FLIGHT = 1000


def check_one_description(scenario: str | None, openapi: str | None) -> None:
    """The endpoints come from a scenario file or an OpenAPI document, not both."""
    if scenario is not None and openapi is not None:
        raise BadInput("--scenario and --openapi exclude each other: describe the endpoints "
                       "one way")


@dataclass
class LoadConfig:
    """Options of one load test; ``users``, ``rate`` and ``requests`` are whole-test totals.

    Closed model (``rate`` None): ``users`` virtual users each send ``requests_per_user``
    requests one after another (0 = no limit), optionally repeating that session until
    ``duration_s`` (``repeat``). Open model (``rate`` set): ``users × requests_per_user``
    requests (or, with ``repeat`` or 0, as many as ``duration_s`` allows) are sent at
    ``rate`` per second on a fixed schedule.
    """

    url: str = DEFAULT_URL
    users: int = 20
    requests_per_user: int = 15
    duration_s: float | None = None
    ramp_up_s: float = 0.0
    think_time_s: tuple[float, float] | None = None
    rate: float | None = None
    max_in_flight: int | None = None
    timeout_s: float = 30.0
    seed: int = 1
    repeat: bool = False
    workers: int = 1
    shard: tuple[int, int] = (1, 1)
    scenario: str | None = None
    openapi: str | None = None
    endpoints: list[str] | None = None
    headers: list[str] = field(default_factory=list)  # "Name: value", sent with every request
    output: str = "load_test_results.json"
    max_error_rate: float | None = None
    max_p95_ms: list[tuple[str | None, float]] = field(default_factory=list)

    @property
    def open_model(self) -> bool:
        return self.rate is not None

    @property
    def in_flight_limit(self) -> int:
        if self.max_in_flight is not None:
            return self.max_in_flight
        return DEFAULT_MAX_IN_FLIGHT if self.open_model else self.users

    @property
    def unlimited(self) -> bool:
        """True when only the duration (or a stop) ends the test."""
        return self.repeat or self.requests_per_user == 0

    @property
    def total_requests(self) -> int | None:
        return None if self.unlimited else self.users * self.requests_per_user

    def validate(self) -> LoadConfig:
        check_url(self.url)
        check_one_description(self.scenario, self.openapi)
        parse_headers(self.headers)
        if self.users <= 0:
            raise BadInput(f"--users must be at least 1, got {self.users}")
        if self.requests_per_user < 0:
            raise BadInput(f"--requests must be 0 (no limit) or more, got "
                           f"{self.requests_per_user}")
        if self.duration_s is not None and not self.duration_s > 0:
            raise BadInput(f"--duration must be more than 0 seconds, got {self.duration_s:g}")
        if self.ramp_up_s < 0:
            raise BadInput(f"--ramp-up must be 0 or more seconds, got {self.ramp_up_s:g}")
        if self.rate is not None and not self.rate > 0:
            raise BadInput(f"--rate must be more than 0 requests per second, got {self.rate:g}")
        if self.max_in_flight is not None and self.max_in_flight <= 0:
            raise BadInput(f"--max-in-flight must be at least 1, got {self.max_in_flight}")
        if not self.timeout_s > 0:
            raise BadInput(f"--timeout must be more than 0 seconds, got {self.timeout_s:g}")
        if self.think_time_s is not None:
            low, high = self.think_time_s
            if low < 0 or high < low:
                raise BadInput("--think-time must be MIN-MAX seconds with 0 <= MIN <= MAX")
        if self.workers <= 0:
            raise BadInput(f"--workers must be at least 1 or 'auto', got {self.workers}")
        index, count = self.shard
        if count < 1 or not 1 <= index <= count:
            raise BadInput(f"--shard must be I/N with 1 <= I <= N, got {index}/{count}")
        if self.unlimited and self.duration_s is None:
            what = "--repeat" if self.repeat else "--requests 0 (no limit)"
            raise BadInput(f"{what} needs --duration, so that the test ends")
        if self.max_error_rate is not None and not 0 <= self.max_error_rate <= 1:
            raise BadInput(f"--max-error-rate must be between 0 and 1, got "
                           f"{self.max_error_rate:g}")
        for _name, limit in self.max_p95_ms:
            if not limit > 0:
                raise BadInput(f"--max-p95-ms must be more than 0, got {limit:g}")
        if self.rate is not None:
            if self.rate / self.slot_count > 100_000:
                raise BadInput(f"--rate {self.rate:g} is more than 100,000 per second per "
                               "worker; use more --workers or shards")
        elif self.users < self.shard[1]:
            raise BadInput(f"--users {self.users} is fewer than the {self.shard[1]} shards")
        return self

    # -- how the test is split over shards and worker processes -----------------------
    @property
    def slot_count(self) -> int:
        """Worker processes over all shards (every shard runs ``workers`` of them)."""
        return self.shard[1] * self.workers

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["think_time_s"] = list(self.think_time_s) if self.think_time_s else None
        data["shard"] = f"{self.shard[0]}/{self.shard[1]}"
        data["max_p95_ms"] = [[n, v] for n, v in self.max_p95_ms]
        return data

    def to_args(self) -> list[str]:
        """This test as load_tester.py's command line (how the runner starts it)."""
        args = ["--url", self.url, "--users", str(self.users),
                "--requests", str(self.requests_per_user), "--timeout", number(self.timeout_s),
                "--seed", str(self.seed), "--workers", str(self.workers),
                "--output", self.output]
        if self.duration_s is not None:
            args += ["--duration", number(self.duration_s)]
        if self.repeat:
            args.append("--repeat")
        if self.ramp_up_s:
            args += ["--ramp-up", number(self.ramp_up_s)]
        if self.think_time_s is not None:
            low, high = self.think_time_s
            args += ["--think-time", f"{number(low)}-{number(high)}"]
        if self.rate is not None:
            args += ["--rate", number(self.rate)]
        if self.max_in_flight is not None:
            args += ["--max-in-flight", str(self.max_in_flight)]
        if self.scenario is not None:
            args += ["--scenario", self.scenario]
        if self.openapi is not None:
            args += ["--openapi", self.openapi]
        if self.endpoints:
            args += ["--endpoints", ",".join(self.endpoints)]
        for header in self.headers:
            args += ["--header", header]
        return args

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LoadConfig:
        data = dict(data)
        if data.get("think_time_s"):
            data["think_time_s"] = tuple(data["think_time_s"])
        index, count = str(data.get("shard", "1/1")).split("/")
        data["shard"] = (int(index), int(count))
        data["max_p95_ms"] = [(n, float(v)) for n, v in data.get("max_p95_ms", [])]
        return cls(**data)


def check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadInput(f"--url must be an http:// or https:// URL with a host, got {url!r}")
    try:
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise BadInput(f"--url has an invalid port: {url!r}") from None
    if parts.query or parts.fragment:
        raise BadInput(f"--url must be a base URL without ?query or #fragment, got {url!r}")


def parse_think_time(value: str | None) -> tuple[float, float] | None:
    """``--think-time`` as (min, max) seconds: "0.5-2", or "1" for a fixed wait."""
    if value is None:
        return None
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(?:-\s*([0-9]*\.?[0-9]+)\s*)?", value)
    if not match:
        raise BadInput(f"--think-time must be SECONDS or MIN-MAX seconds (e.g. 0.5-2), "
                       f"got {value!r}")
    low = float(match.group(1))
    high = float(match.group(2)) if match.group(2) is not None else low
    return low, high


def parse_workers(value: str) -> int:
    """``--workers``: a number, or "auto" for one per usable core."""
    if value.strip().lower() == "auto":
        return auto_workers()
    try:
        return int(value)
    except ValueError:
        raise BadInput(f"--workers must be a number or 'auto', got {value!r}") from None


def parse_shard(value: str) -> tuple[int, int]:
    """``--shard I/N``."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", value)
    if not match:
        raise BadInput(f"--shard must be I/N (e.g. 2/4), got {value!r}")
    return int(match.group(1)), int(match.group(2))


def auto_workers() -> int:
    """One worker per usable core."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def split_evenly(total: int, parts: int, index: int) -> int:
    """The ``index``-th of ``parts`` near-equal shares of ``total`` (they sum to it)."""
    return total // parts + (1 if index < total % parts else 0)

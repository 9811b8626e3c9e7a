"""The suite's side of the agent: the environment that loads it into a service, the
component map file, the control file that asks it for things, and reading its reports.

(``core.py`` is the service's side and never imports this module.)
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from memory_analysis.agent import CONTROL_FILE, ENV_DIR, ENV_INTERVAL, INJECT_DIR
from memory_analysis.errors import BadInput
from memory_analysis.reports.jsonio import write_json_atomic

AGENT_DIR_NAME = "agent"
# An agent silent for this many of its intervals (and at least this long) is not
# waited for.
STALE_REPORTS = 5
STALE_MIN_S = 5.0


def agent_env(base: dict[str, str], directory: str | os.PathLike[str],
              interval: float) -> dict[str, str]:
    """``base`` with the agent switched on: its loader first on PYTHONPATH, and where
    to report. The rest (tracemalloc, the component map) is in the control file."""
    env = dict(base)
    existing = env.get("PYTHONPATH")
    env["PYTHONPATH"] = INJECT_DIR + (os.pathsep + existing if existing else "")
    env[ENV_DIR] = str(Path(directory).resolve())
    env[ENV_INTERVAL] = repr(float(interval))
    return env


def read_component_map(path: str | os.PathLike[str]) -> dict[str, list[str]]:
    """A component map file (YAML or JSON): component name -> module prefixes.

    A prefix names a module and everything under it (``myapp.db`` covers
    ``myapp.db.pool``); one may be given alone instead of a list."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise BadInput(f"--components: cannot read {path}: {exc.strerror or exc}") from None
    try:
        data = json.loads(text)
    except ValueError:
        import yaml  # only for a map that is not JSON: the monitor starts without it

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise BadInput(f"--components: {path} is neither JSON nor YAML: "
                           f"{str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict) or not data:
        raise BadInput(f"--components: {path} must map component names to module "
                       "prefixes, e.g. 'database: [myapp.db, sqlalchemy]'")
    mapping: dict[str, list[str]] = {}
    for name, prefixes in data.items():
        if isinstance(prefixes, str):
            prefixes = [prefixes]
        if (not isinstance(name, str) or not isinstance(prefixes, list) or not prefixes
                or not all(isinstance(p, str) and p.strip() for p in prefixes)):
            raise BadInput(f"--components: {path}: component {name!r} must list module "
                           "prefixes (names like myapp.db)")
        mapping[name] = [p.strip() for p in prefixes]
    return mapping


def write_control(directory: str | os.PathLike[str], **settings: Any) -> None:
    """Merge ``settings`` into the control file the agents poll (tracemalloc: start
    tracing; components: the map; snapshot: a counter, raised to ask for one now)."""
    path = Path(directory) / CONTROL_FILE
    control: dict[str, Any] = {}
    try:
        control = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    control.update({k: v for k, v in settings.items() if v is not None})
    write_json_atomic(path, control)


def ask_snapshot(directory: str | os.PathLike[str]) -> int:
    """Ask every agent for a tracemalloc snapshot now; return the request's number."""
    path = Path(directory) / CONTROL_FILE
    try:
        number = int(json.loads(path.read_text(encoding="utf-8")).get("snapshot", 0)) + 1
    except (OSError, ValueError, AttributeError):
        number = 1
    write_control(directory, snapshot=number)
    return number


def answered(directory: str | os.PathLike[str], number: int) -> bool:
    """Whether every agent still reporting to ``directory`` has answered snapshot
    request ``number``.

    One that has not reported for a while is not waited for: a process that has ended,
    or one whose thread is paused (on Python 3.13 a process that forked restarts it at
    its next garbage collection, which an idle master may not have for minutes)."""
    now = time.time()
    for path in Path(directory).glob("*.json"):
        if not path.stem.isdigit():
            continue
        report = read_report(directory, int(path.stem))
        if report is None:
            continue
        quiet = now - float(report.get("time") or 0)
        if quiet > max(STALE_REPORTS * float(report.get("interval_s") or 1.0), STALE_MIN_S):
            continue
        if int(report.get("snapshot_seq") or 0) < number:
            return False
    return True


def read_report(directory: str | os.PathLike[str], pid: int) -> dict[str, Any] | None:
    try:
        with open(Path(directory) / f"{pid}.json", encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def clear(directory: str | os.PathLike[str]) -> None:
    """Remove what agents of an earlier run left (reports, logs, control file)."""
    folder = Path(directory)
    if not folder.is_dir():
        return
    for path in folder.iterdir():
        if path.suffix in (".json", ".log", ".tmp") and path.is_file():
            path.unlink(missing_ok=True)

"""The real runs several test files read (see ``shared_runs``)."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from shared_runs import PROGRAMS, SHORT, VERDICT, Run, free_port, runner, shared_run

#: A scenario endpoint whose name is markup, to show that no page runs what users named.
SCRIPT_NAME = "<script>alert('endpoint')</script>"


@shared_run(seconds=45)
def demo_run(work: Path) -> Run:
    """The bundled demo as a user first runs it, with CI's --fail-on critical, at the
    verdict tests' length."""
    return runner(work, *VERDICT, "--fail-on", "critical")


@shared_run(seconds=45, paced=True)
def held_run(work: Path) -> Run:
    """The demo holding an 80 MB cache after its load, judged against a 512 MB plan;
    paced (what it holds does not depend on how fast requests come)."""
    return runner(work, *VERDICT, "--rate", "1000", "--demo-hold-mb", "80",
                  "--plan", "render:starter")


@shared_run
def script_scenario_run(work: Path) -> Run:
    """The demo loaded through a scenario whose endpoint and description are markup."""
    scenario = work / "scenario.json"
    scenario.write_text(json.dumps({
        "description": "<script>alert('description')</script>",
        "endpoints": [{"name": SCRIPT_NAME, "path": "/health", "category": "light",
                       "weight": 1}]}))
    return runner(work, *SHORT, "--scenario", str(scenario))


def fastapi_command(port: int, env: str = "") -> list[str]:
    """A FastAPI app under uvicorn with two workers, as the manual's first recipe writes
    it; ``env``: NAME=value words first, as a shell takes them."""
    command = (f"{env} {sys.executable} -m uvicorn fastapi_app:app --port {port} "
               "--workers 2").strip()
    return ["--service-cmd", command, "--service-cwd", str(PROGRAMS),
            "--url", f"http://127.0.0.1:{port}",
            "--scenario", str(PROGRAMS / "fastapi_scenario.json")]


@shared_run(seconds=45)
def fastapi_workers_run(work: Path) -> Run:
    """A healthy FastAPI app under uvicorn with two workers (the manual's first recipe),
    at the verdict tests' length and full speed. (Paced at 1,000 requests a second, its
    24 s load was once called a leak of 6.6 MB/min: the two workers' warm-up, slower at
    that rate, was straight over so short a load.)"""
    return runner(work, *VERDICT, *fastapi_command(free_port()))


def _burners() -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]


@shared_run(seconds=50, quiet=True)
def busy_machine_runs(work: Path) -> dict[str, Run]:
    """The demo leaking 16 KB a request and the healthy demo, run side by side while
    two other processes keep both cores busy."""
    burners = _burners()
    try:
        with ThreadPoolExecutor(2) as pool:
            leaky = pool.submit(runner, work / "leaky", *VERDICT, "--demo-leak-kb", "16")
            healthy = pool.submit(runner, work / "healthy", *VERDICT)
            return {"leaky": leaky.result(), "healthy": healthy.result()}
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()

"""A user's own service, from the user's own directory, installed the user's way: a fresh
virtual environment with the package installed, run_memory_analysis.sh from an app's
directory, the manual's recipes (uvicorn workers, gunicorn sync and uvicorn workers,
aiohttp), a scenario from an OpenAPI document, tokens from the environment, some
endpoints only, a port already taken, CI exit codes, and the live view in a terminal."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import PROGRAMS, ROOT, run_script
from shared_runs import SHORT, Run, command, copy_of, free_port, runner, shared_run

from memory_analysis.runner.service import shell_script


def report_of(out: Path) -> dict:
    return json.loads((out / "comprehensive_memory_analysis.json").read_text())


@shared_run(seconds=60)
def installed_suite(work: Path) -> dict[str, Run]:
    """The suite pip-installed into a fresh virtual environment, then used from a
    directory that is not the checkout."""
    # Built from a copy: pip's build leaves build/ and *.egg-info beside the sources.
    source = work / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "*.egg-info", "__pycache__", "*_cache",
        "memory_analysis_results", "out"))
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    elsewhere = work / "elsewhere"
    elsewhere.mkdir()
    runs = {"install": command([str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
                                "--disable-pip-version-check", str(source)], work,
                               timeout=200)}
    if runs["install"].returncode != 0:
        return runs
    for tool in ("memory-monitor", "load-tester"):
        runs[tool] = command([str(venv / "bin" / tool), "--help"], elsewhere, cwd=elsewhere)
    runs["requires"] = command([str(venv / "bin" / "python"), "-c",
                                "import importlib.metadata as m\n"
                                "print('\\n'.join(m.requires('memory-analysis')))"],
                               elsewhere, cwd=elsewhere)
    runs["refused"] = command([str(venv / "bin" / "memory-analysis"), "--interval", "0.001"],
                              elsewhere, cwd=elsewhere)
    runs["run"] = command([str(venv / "bin" / "memory-analysis"), *SHORT,
                           "--output-dir", "out"], elsewhere / "out", cwd=elsewhere)
    return runs


def test_a_fresh_virtual_environment_runs_the_installed_suite_anywhere(installed_suite):
    installed_suite["install"].ok()
    for tool in ("memory-monitor", "load-tester"):
        installed_suite[tool].ok()
    # `pip install .[test]` brings what the tests need, the frameworks they run included.
    def name(requirement: str) -> str:
        return re.match(r"[A-Za-z0-9_.-]+", requirement.strip()).group(0).lower()  # type: ignore[union-attr]

    requires = installed_suite["requires"].ok().stdout.splitlines()
    tests_need = {name(line) for line in requires if 'extra == "test"' in line}
    listed = (ROOT / "requirements-test.txt").read_text().splitlines()
    assert tests_need == {name(line) for line in listed if line.strip()
                          and not line.startswith("#")} >= {"fastapi", "uvicorn", "gunicorn"}
    # An error names the command as the user typed it.
    refused = installed_suite["refused"]
    assert refused.returncode == 2
    assert refused.stderr.startswith("memory-analysis: error: --interval must be at least")
    report = installed_suite["run"].ok().report()
    assert report["complete"] is True and report["load_test"]["requests"] > 0
    assert report["memory"]["peak_mb"] > 0


@shared_run(seconds=14)
def app_directory_run(work: Path) -> Run:
    """run_memory_analysis.sh from an app's own directory, with relative paths, where an
    earlier run's results directory already is."""
    app = work / "myapp"
    app.mkdir()
    shutil.copy(PROGRAMS / "fastapi_app.py", app / "app.py")
    shutil.copy(PROGRAMS / "items_scenario.json", app / "scenario.json")
    (app / "results").mkdir()
    port = free_port()
    return command([str(ROOT / "run_memory_analysis.sh"), *SHORT,
                    "--service-cmd", f"{sys.executable} -m uvicorn app:app --port {port}",
                    "--url", f"http://127.0.0.1:{port}", "--scenario", "scenario.json",
                    "--output-dir", "results"], app / "results", cwd=app)


def test_run_memory_analysis_sh_from_an_apps_own_directory(app_directory_run):
    report = app_directory_run.ok().report()
    assert report["load_test"]["error_rate"] == 0.0
    assert "Reports are in results/" in app_directory_run.stdout
    log = (app_directory_run.out / "service.log").read_text()
    assert "Stock Analyzer" not in log  # the app's own log, nothing of another run


def test_a_failed_run_names_no_earlier_report(demo_run, tmp_path):
    out = copy_of(demo_run.ok(), tmp_path)  # an earlier run's reports are there
    result = subprocess.run(
        [str(ROOT / "run_memory_analysis.sh"), *SHORT, "--service-cmd", "exit 3",
         "--url", f"http://127.0.0.1:{free_port()}", "--output-dir", str(out)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "Reports are in" not in result.stdout
    assert not (out / "comprehensive_memory_analysis.json").exists() or \
        report_of(out)["end_reason"] != "completed"


RECIPES = {
    "gunicorn sync": "{python} -m gunicorn wsgi_app:app -b 127.0.0.1:{port} -w 2",
    "gunicorn uvicorn": "{python} -m gunicorn fastapi_app:app -b 127.0.0.1:{port} -w 2 "
                        "-k uvicorn.workers.UvicornWorker",
    "aiohttp": "{python} aiohttp_app.py {port}",
}


def recipe_run(work: Path, recipe: str) -> Run:
    port = free_port()
    return runner(work, *SHORT, "--service-cmd",
                  RECIPES[recipe].format(python=sys.executable, port=port),
                  "--service-cwd", str(PROGRAMS), "--url", f"http://127.0.0.1:{port}",
                  "--scenario", str(PROGRAMS / "items_scenario.json"))


@shared_run
def gunicorn_sync_run(work: Path) -> Run:
    return recipe_run(work, "gunicorn sync")


@shared_run
def gunicorn_uvicorn_run(work: Path) -> Run:
    return recipe_run(work, "gunicorn uvicorn")


@shared_run
def aiohttp_run(work: Path) -> Run:
    return recipe_run(work, "aiohttp")


@pytest.mark.parametrize("run_name, workers", [
    # uvicorn with workers is the FastAPI run the verdict tests read too.
    pytest.param("fastapi_workers_run", 2, id="uvicorn workers",
                 marks=pytest.mark.reads_runs("fastapi_workers_run")),
    pytest.param("gunicorn_sync_run", 2, id="gunicorn sync",
                 marks=pytest.mark.reads_runs("gunicorn_sync_run")),
    pytest.param("gunicorn_uvicorn_run", 2, id="gunicorn uvicorn",
                 marks=pytest.mark.reads_runs("gunicorn_uvicorn_run")),
    pytest.param("aiohttp_run", 0, id="aiohttp", marks=pytest.mark.reads_runs("aiohttp_run")),
])
def test_the_manuals_recipes_for_your_own_service(run_name, workers, request):
    run = request.getfixturevalue(run_name).ok()
    out = run.out
    report = report_of(out)
    assert report["complete"] is True
    assert report["load_test"]["error_rate"] == 0.0, report["load_test"]["errors"]
    samples = json.loads((out / "memory_analysis.json").read_text())["samples"]
    assert max(s["process"]["children"] for s in samples) >= workers
    assert report["service"]["pid"] > 0 and report["memory"]["peak_mb"] > 0
    # The agent is in every process of the service (forked by gunicorn, spawned by
    # uvicorn), each reporting under its own PID, and the breakdown names each worker.
    last = samples[-1]
    assert set(last["process"]["processes"]) <= set(last["python"] or {}), last["python"]
    named = report["breakdown"]["processes"]["processes"]
    # Exactly the two serving workers: multiprocessing's resource tracker beside
    # uvicorn's --workers is a helper, not a worker to compare them with.
    named_workers = [p for p in named if p["role"] == "worker"]
    assert len(named_workers) == workers, named
    # The process that serves comes first: a master over workers, else alone a service.
    assert named[0]["role"] == ("master" if workers else "service"), named
    assert report["service"]["runtime"] == "cpython"
    assert report["breakdown"]["gc"]["load"]["processes"] >= 1
    assert "Traceback" not in (out / "service.log").read_text()


@pytest.mark.parametrize("written, script", [
    ("app --port 1", "exec app --port 1"),
    ("exec app --port 1", "exec app --port 1"),
    ("exec env A=1 app", "exec env A=1 app"),
    ("A=1 app", "exec env A=1 app"),
    ("A='x y' B=2 app", "exec env A='x y' B=2 app"),
    ("A=1 exec app", "A=1 exec app"),
    ("cd app && exec gunicorn app:app", "cd app && exec gunicorn app:app"),
])
def test_a_service_command_is_execd_once_as_written(written, script):
    assert shell_script(written) == script


def exec_form_run(work: Path, written: str) -> Run:
    """The aiohttp app started by a command written as ``written``."""
    port = free_port()
    return runner(work, "--baseline", "1", "--load-test", "1", "--cooldown", "1",
                  "--interval", "0.25", "--users", "2",
                  "--service-cmd", written.format(python=sys.executable, port=port),
                  "--service-cwd", str(PROGRAMS), "--url", f"http://127.0.0.1:{port}",
                  "--scenario", str(PROGRAMS / "items_scenario.json"))


@shared_run(seconds=6)
def exec_run(work: Path) -> Run:
    return exec_form_run(work, "exec {python} aiohttp_app.py {port}")


@shared_run(seconds=6)
def exec_env_run(work: Path) -> Run:
    return exec_form_run(work, "exec env GREETING=hello {python} aiohttp_app.py {port}")


@shared_run(seconds=6)
def assignment_run(work: Path) -> Run:
    return exec_form_run(work, "GREETING=hello {python} aiohttp_app.py {port}")


@shared_run(seconds=6)
def assignment_exec_run(work: Path) -> Run:
    # Also holds 40 MB from its first request on: the memory gate's regression.
    return exec_form_run(work, "GREETING=hello HOLD_MB=40 exec {python} aiohttp_app.py {port}")


@pytest.mark.parametrize("run_name, greets", [
    pytest.param(name, greets, marks=pytest.mark.reads_runs(name), id=name)
    for name, greets in (("exec_run", False), ("exec_env_run", True),
                         ("assignment_run", True), ("assignment_exec_run", True))])
def test_service_commands_as_people_write_them(run_name, greets, request):
    run = request.getfixturevalue(run_name).ok()
    report = run.report()
    assert report["complete"] is True and report["load_test"]["error_rate"] == 0.0
    # The process started and watched is the service itself, not a shell around it.
    monitor = run.report("memory_analysis.json")
    assert monitor["target"]["is_python"] is True and monitor["target"]["runtime"] == "cpython"
    # One process, no workers: a service, not a master.
    roles = {p["role"] for p in monitor["samples"][-1]["process"]["processes"].values()}
    assert roles == {"service"}
    if greets:  # the assignment reached the service's environment
        assert "greeting: hello" in (run.out / "service.log").read_text()


def gate(base: Run, new: Run, out: Path) -> subprocess.CompletedProcess[str]:
    return run_script("memory_analysis_runner.py", "compare", str(base.ok().out),
                      str(new.ok().out), "--fail-on-regression", "10",
                      "--output-dir", str(out))


def test_compare_fail_on_regression_exits_3_for_40_mb_more_held_and_0_for_the_same_service(
        exec_run, assignment_run, assignment_exec_run, tmp_path):
    same = gate(exec_run, assignment_run, tmp_path / "same")
    assert same.returncode == 0, same.stdout + same.stderr
    assert same.stdout.splitlines()[-1].startswith("No memory regression: no figure worse")
    worse = gate(exec_run, assignment_exec_run, tmp_path / "worse")
    assert worse.returncode == 3, worse.stdout + worse.stderr
    held = next(line for line in worse.stdout.splitlines() if "held memory:" in line)
    assert held.startswith("  WORSE held memory: ") and "beyond the noise of ±" in held
    assert worse.stderr.count("\n") == 1 and "held memory" in worse.stderr
    result = json.loads((tmp_path / "worse" / "comparison.json").read_text())["gate"]
    row = next(r for r in result["figures"] if r["figure"] == "held memory")
    assert row["regressed"] and 36 < row["change"] < 46


@shared_run
def forgot_scenario_run(work: Path) -> Run:
    """A FastAPI app analysed without --scenario or --openapi."""
    port = free_port()
    return runner(work, *SHORT, "--service-cmd",
                  f"{sys.executable} -m uvicorn fastapi_app:app --port {port}",
                  "--service-cwd", str(PROGRAMS), "--url", f"http://127.0.0.1:{port}")


def test_the_demos_requests_sent_to_your_service_are_called_out(forgot_scenario_run):
    """Forgetting --scenario/--openapi: the demo's requests meet 404s. The run says so as
    the load starts and first among the level's reasons."""
    run = forgot_scenario_run.ok()
    assert "the demo's requests: give --openapi or --scenario for yours" in run.stdout
    report = run.report()
    first = report["assessment"]["reasons"][0]
    assert "bundled demo's requests" in first and "with 404" in first
    assert report["problems"][0] == first


class OpenApiApp:
    """The OpenAPI test app under uvicorn on a free port."""

    def __init__(self, token: str = "") -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "APP_TOKEN": token}
        self.proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "openapi_app:app",
                                      "--port", str(self.port), "--log-level", "warning"],
                                     cwd=PROGRAMS, env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            assert time.monotonic() < deadline and self.proc.poll() is None, "app did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


@pytest.fixture
def openapi_app():
    apps: list[OpenApiApp] = []

    def start(token: str = "") -> OpenApiApp:
        apps.append(OpenApiApp(token))
        return apps[-1]

    yield start
    for app in apps:
        app.stop()


def test_a_scenario_from_an_openapi_document_answers_2xx(openapi_app, tmp_path):
    app = openapi_app()
    profile = run_script("load_tester.py", "--openapi", f"{app.url}/openapi.json",
                         "--print-profile", timeout=60)
    assert profile.returncode == 0, profile.stderr
    built = json.loads(profile.stdout)
    by_name = {e["name"]: e for e in built["endpoints"]}
    assert by_name["health_health_get"]["category"] == "light"
    assert by_name["read_item_items__item_id__get"]["path"] == "/items/1"
    assert by_name["search_search_get"]["path"] == "/search?q=string"
    assert by_name["create_order_orders_post"]["body"] == {"sku": "string", "quantity": 1}
    assert by_name["replace_item_items__item_id__put"]["body"]["color"] == "red"
    # What cannot be filled is listed and skipped, never sent with a placeholder.
    assert "GET /codes/{code}: skipped" in profile.stderr
    assert "GET /tenant: skipped" in profile.stderr
    assert all("{" not in e["path"] for e in built["endpoints"])
    out = tmp_path / "openapi.json"
    result = run_script("load_tester.py", "--openapi", f"{app.url}/openapi.json", "--url",
                        app.url, "--endpoints", ",".join(n for n in by_name if n != "me_me_get"),
                        "--users", "4", "--requests", "20", "-q", "-o", str(out), timeout=60)
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert report["totals"]["requests"] == 80 and report["totals"]["failures"] == 0


TOKEN = "tok-5e3c7a91-never-in-a-file"


@shared_run
def token_run(work: Path) -> Run:
    """The runner against a service started by hand that wants a token, which the
    scenario takes from the environment."""
    app = OpenApiApp(TOKEN)
    try:
        scenario = work / "secure.json"
        scenario.write_text(json.dumps({"endpoints": [
            {"name": "me", "path": "/me",
             "headers": {"Authorization": "Bearer {env:API_TOKEN}"}}]}))
        env = {k: v for k, v in os.environ.items() if k != "API_TOKEN"}
        missing = subprocess.run([sys.executable, str(ROOT / "load_tester.py"), "--scenario",
                                  str(scenario), "--url", app.url, "-q", "-o",
                                  str(work / "x.json")], capture_output=True, text=True,
                                 env=env, timeout=60)
        run = runner(work, *SHORT, "--url", app.url, "--scenario", str(scenario),
                     env={"API_TOKEN": TOKEN})
        run.extra = {"missing": missing}
        return run
    finally:
        app.stop()


def test_a_token_from_the_environment_is_sent_and_never_written(token_run):
    missing = token_run.extra["missing"]
    assert missing.returncode == 2
    assert "needs the environment variable API_TOKEN" in missing.stderr
    assert token_run.ok().report()["load_test"]["error_rate"] == 0.0  # the token was sent
    for file in token_run.out.rglob("*"):
        if file.is_file():
            assert TOKEN not in file.read_text(errors="replace"), file
    assert TOKEN not in token_run.stdout + token_run.stderr


@shared_run
def openapi_mix_run(work: Path) -> Run:
    port = free_port()
    return runner(work, *SHORT, "--service-cmd",
                  f"{sys.executable} -m uvicorn openapi_app:app --port {port}",
                  "--service-cwd", str(PROGRAMS), "--url", f"http://127.0.0.1:{port}",
                  "--openapi", "/openapi.json", "--endpoints", "light,heavy")


def test_the_runner_builds_the_mix_from_the_services_openapi_document(openapi_mix_run):
    report = openapi_mix_run.ok().report()
    assert set(report["load_test"]["categories"]) == {"light", "heavy"}
    assert report["load_test"]["error_rate"] == 0.0
    assert any("GET /tenant: skipped" in note for note in report["problems"])


LOGIN_TOKEN, TENANT = "tok-81f2-never-in-a-file", "tenant-secret-4d1"


@shared_run
def login_run(work: Path) -> Run:
    port = free_port()
    return runner(work, *SHORT, "--service-cmd",
                  f"{sys.executable} -m uvicorn openapi_app:app --port {port}",
                  "--service-cwd", str(PROGRAMS), "--url", f"http://127.0.0.1:{port}",
                  "--openapi", "/openapi.json",
                  "--header", "Authorization: Bearer {env:API_TOKEN}",
                  "-H", f"X-Tenant: {TENANT}",
                  env={"API_TOKEN": LOGIN_TOKEN, "APP_TOKEN": LOGIN_TOKEN})


def test_headers_for_every_request_open_a_service_behind_a_login(login_run):
    """--openapi with --header: the token from the environment reaches every operation,
    a required header parameter is filled by it, and no file holds a header's value."""
    out = login_run.ok().out
    report = report_of(out)
    assert report["load_test"]["error_rate"] == 0.0, report["load_test"]["errors"]
    assert not any("/tenant" in note or "/me" in note for note in report["problems"])
    assert report["config"]["headers"] == ["Authorization", "X-Tenant"]
    load = json.loads((out / "load_test_during_analysis.json").read_text())
    assert {e["path"] for e in load["endpoints"]} >= {"/me", "/tenant"}
    assert load["config"]["headers"] == ["Authorization", "X-Tenant"]
    for file in out.rglob("*"):
        if file.is_file():
            text = file.read_text(errors="replace")
            assert LOGIN_TOKEN not in text and TENANT not in text, file
    assert LOGIN_TOKEN not in login_run.stdout + login_run.stderr


def test_a_header_that_is_not_one_is_refused(tmp_path):
    result = run_script("load_tester.py", "--header", "Authorization Bearer x", "--url",
                        "http://127.0.0.1:9", timeout=30)
    assert result.returncode == 2
    assert "--header must be 'Name: value'" in result.stderr


def test_unknown_endpoints_are_refused_with_the_known_ones(tmp_path):
    result = run_script("load_tester.py", "--endpoints", "nosuch", "--url",
                        "http://127.0.0.1:9", timeout=30)
    assert result.returncode == 2
    assert "--endpoints: no endpoint or category 'nosuch'" in result.stderr
    assert "categories: heavy, light, medium" in result.stderr
    runner = run_script("memory_analysis_runner.py", "--endpoints", "nosuch",
                        "--output-dir", str(tmp_path / "out"), timeout=30)
    assert runner.returncode == 2 and "--endpoints" in runner.stderr


def test_a_port_already_taken_is_named_before_anything_starts(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c",
                               "import socket,time\ns=socket.socket()\n"
                               "s.bind(('127.0.0.1',0))\ns.listen()\n"
                               "print(s.getsockname()[1],flush=True)\ntime.sleep(60)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None
        port = int(holder.stdout.readline())
        marker = tmp_path / "started"
        result = run_script("memory_analysis_runner.py", "--service-cmd", f"touch {marker}",
                            "--url", f"http://127.0.0.1:{port}", "--output-dir",
                            str(tmp_path / "out"), timeout=30)
    finally:
        holder.kill()
        holder.wait()
    assert result.returncode == 2
    assert f"port {port} is already in use by PID {holder.pid}" in result.stderr
    assert not marker.exists()


@shared_run
def too_big_run(work: Path) -> Run:
    # The demo's peak (tens of MB) is over 90 % of 20 MB, however busy the machine.
    return runner(work, *SHORT, "--target-memory", "20M", "--fail-on", "critical")


def test_ci_exit_codes_for_the_level_and_for_alerts(too_big_run, demo_run, tmp_path):
    assert too_big_run.returncode == 3, too_big_run.stdout + too_big_run.stderr
    assert "the level is CRITICAL, at or above --fail-on critical" in too_big_run.stderr
    assert too_big_run.report()["assessment"]["level"] == "critical"
    # The demo run is made with --fail-on critical too: healthy, it exits 0.
    assert demo_run.argv[demo_run.argv.index("--fail-on") + 1] == "critical"
    assert demo_run.returncode == 0, demo_run.stdout + demo_run.stderr
    assert demo_run.report()["assessment"]["level"] != "critical"
    # Any used memory at all is over a 0.1 % warning threshold.
    alert = run_script("memory_monitor.py", "--duration", "1", "--interval", "0.2",
                       "--warning", "0.1", "--critical", "99.9", "--fail-on-alert", "warning",
                       "-q", "-o", str(tmp_path / "m.json"), timeout=60)
    assert alert.returncode == 3 and "alert(s) at or above --fail-on-alert" in alert.stderr


@pytest.mark.skipif(shutil.which("tmux") is None and os.environ.get("CI") != "true",
                    reason="needs tmux")
def test_the_main_job_shows_its_figures_change_in_a_terminal(tmp_path):
    session = f"live{os.getpid()}"
    out = tmp_path / "out"
    command = (f"{sys.executable} {ROOT / 'memory_analysis_runner.py'} --baseline 1 "
               f"--load-test 12 --cooldown 1 --interval 0.25 --users 4 --output-dir {out}; "
               "sleep 30")
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "30",
                    command], check=True, timeout=10)
    try:
        def screen() -> str:
            return subprocess.run(["tmux", "capture-pane", "-p", "-t", session],
                                  capture_output=True, text=True, timeout=10).stdout

        def sent(text: str) -> int | None:
            found = re.search(r"^requests .* ([\d,]+) sent", text, re.MULTILINE)
            return int(found.group(1).replace(",", "")) if found else None

        counts = []
        deadline = time.monotonic() + 60
        while len(counts) < 2 and time.monotonic() < deadline:
            text = screen()
            count = sent(text)
            if count is not None and (not counts or count > counts[-1]):
                counts.append(count)
                assert "memory" in text and "MB now" in text
            time.sleep(0.2)
        assert len(counts) == 2 and counts[1] > counts[0], counts
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], timeout=10)

"""memory_monitor.py on real processes, as a user runs it: a subprocess, its exit code,
its report and its sample stream."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import pytest
from cgroups import LimitedCgroup, can_make_cgroups
from conftest import ROOT, run_script

MONITOR = str(ROOT / "memory_monitor.py")


def monitor(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, MONITOR, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT, **kwargs)


def read_stream(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def stream_samples(path: Path) -> list[dict]:
    return [record for record in read_stream(path) if "kind" not in record]


def wait_for_samples(path: Path, count: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while len(stream_samples(path)) < count:
        assert time.monotonic() < deadline, f"fewer than {count} samples in {path}"
        time.sleep(0.02)


def smaps(pid: int) -> dict[str, int]:
    values = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        key, _, rest = line.partition(":")
        values[key] = int(rest.split()[0])
    return values


def descendants(pid: int) -> list[int]:
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    stat = Path(f"/proc/{entry}/stat").read_text()
                except OSError:
                    continue
                if int(stat[stat.rindex(")") + 2:].split()[1]) == parent:
                    found.append(int(entry))
                    frontier.append(int(entry))
    return found


def test_allocation_is_seen_within_5_percent(memhog, tmp_path):
    hog = memhog()
    before = run_script("memory_monitor.py", "--pid", str(hog.pid), "--duration", "0.5",
                        "--interval", "0.25", "-o", str(tmp_path / "before.json"))
    assert before.returncode == 0, before.stderr
    hog.send("alloc 200")
    after = run_script("memory_monitor.py", "--pid", str(hog.pid), "--duration", "0.5",
                       "--interval", "0.25", "-o", str(tmp_path / "after.json"))
    assert after.returncode == 0, after.stderr
    first = json.loads((tmp_path / "before.json").read_text())["samples"][-1]["process"]
    second = json.loads((tmp_path / "after.json").read_text())["samples"][-1]["process"]
    for key in ("rss_mb", "pss_mb", "uss_mb", "tree_mb"):
        grown = second[key] - first[key]
        assert abs(grown - 200) <= 10, f"{key} grew {grown:.1f} MB for a 200 MB allocation"


def test_spike_between_two_samples_shows_in_peak(memhog, tmp_path):
    hog = memhog()
    output = tmp_path / "spike.json"
    proc = monitor("--pid", str(hog.pid), "--interval", "1", "--duration", "2", "-o", str(output))
    wait_for_samples(tmp_path / "spike.samples.jsonl", 1)
    hog.send("spike 150 300")  # done well before the sample at t=1
    assert proc.wait(timeout=20) == 0, proc.stderr.read()
    report = json.loads(output.read_text())
    sampled = [s["process"]["rss_mb"] for s in report["samples"]]
    assert len(sampled) == 3
    assert max(sampled) < min(sampled) + 50, "the spike should fall between samples"
    assert report["summary"]["peak_rss_mb"] >= min(sampled) + 140


def test_forked_tree_pss_lies_between_private_and_rss(memhog, tmp_path):
    hog = memhog()
    hog.send("alloc 60")
    hog.send("fork 3")
    members = [hog.pid, *descendants(hog.pid)]
    assert len(members) == 4
    output = tmp_path / "tree.json"
    result = run_script("memory_monitor.py", "--pid", str(hog.pid), "--duration", "1",
                        "--interval", "0.5", "-o", str(output))
    assert result.returncode == 0, result.stderr
    rollups = [smaps(pid) for pid in members]
    private_mb = sum(r["Private_Clean"] + r["Private_Dirty"] for r in rollups) / 1024
    rss_mb = sum(r["Rss"] for r in rollups) / 1024
    report = json.loads(output.read_text())
    last = report["samples"][-1]["process"]
    assert last["children"] == 3
    assert report["summary"]["tree_metric"] == "pss"
    assert private_mb < last["tree_mb"] < rss_mb
    assert private_mb < last["tree_service_mb"] < rss_mb
    assert last["tree_mb"] == last["tree_pss_mb"]
    assert abs(last["tree_rss_mb"] - rss_mb) < 5
    # The shared 60 MB is counted once in PSS, four times in RSS.
    assert rss_mb - last["tree_mb"] > 120
    # Each process by PID: the master and its three workers, whose PSS adds up to the
    # tree's, each holding a quarter of the shared 60 MB and 4 MB of its own.
    processes = last["processes"]
    assert set(processes) == {str(pid) for pid in members}
    assert processes[str(hog.pid)]["role"] == "master"
    workers = [processes[str(pid)] for pid in members[1:]]
    assert all(w["role"] == "worker" and w["name"].startswith("python") for w in workers)
    assert abs(sum(p["pss_mb"] for p in processes.values()) - last["tree_pss_mb"]) < 0.01
    for worker in workers:
        assert 15 + 4 - 2 < worker["anon_mb"] < 15 + 4 + 6, worker
        assert worker["uss_mb"] < worker["pss_mb"] < worker["rss_mb"]


def test_no_children_watches_the_process_alone(memhog, tmp_path):
    hog = memhog()
    hog.send("fork 2")
    output = tmp_path / "alone.json"
    result = run_script("memory_monitor.py", "--pid", str(hog.pid), "--no-children",
                        "--duration", "0.5", "--interval", "0.5", "-o", str(output))
    assert result.returncode == 0, result.stderr
    last = json.loads(output.read_text())["samples"][-1]["process"]
    assert last["children"] == 0
    assert last["tree_rss_mb"] == last["rss_mb"]


@pytest.mark.skipif(not can_make_cgroups(), reason="needs root and a writable memory cgroup")
def test_cgroup_limit_alert_and_oom_kill(memhog, tmp_path):
    group = LimitedCgroup(limit_mb=100)
    try:
        hog = memhog()
        group.add(hog.pid)
        output = tmp_path / "cgroup.json"
        proc = monitor("--pid", str(hog.pid), "--interval", "0.1", "--warning", "50",
                       "--critical", "95", "-o", str(output))
        wait_for_samples(tmp_path / "cgroup.samples.jsonl", 2)
        hog.send("alloc 50")
        wait_for_samples(tmp_path / "cgroup.samples.jsonl", 8)
        hog.send_nowait("alloc 200")  # beyond the limit: the kernel kills it
        assert hog.proc.wait(timeout=20) == -signal.SIGKILL
        assert proc.wait(timeout=20) == 0, proc.stderr.read()
    finally:
        group.remove()
    report = json.loads(output.read_text())
    assert report["end_reason"] == "target_exited"
    groups = [s["cgroup"] for s in report["samples"]]
    assert all(g is not None and g["limit_mb"] == 100 for g in groups)
    assert max(g["usage_mb"] for g in groups) > 50
    alerts = [a for a in report["alerts"] if a["metric"] == "cgroup_percent"]
    assert alerts and alerts[0]["level"] == "warning" and alerts[0]["threshold"] == 50
    assert report["summary"]["cgroup"]["oom_kills_during_run"] == 1
    assert report["summary"]["cgroup"]["oom_kills"] >= 1


@pytest.mark.skipif(not can_make_cgroups(), reason="needs root and a writable memory cgroup")
def test_the_cgroup_peak_is_the_runs_own_and_the_lifetime_one_says_so(memhog, tmp_path):
    """A group that held 300 MB before the run: the run's cgroup peak is its own (what it
    sampled, or what the kernel saw after a reset); the group's lifetime mark appears
    only as ``lifetime_peak_mb``. A spike during the run that the samples miss still
    counts, once it raises the kernel's mark."""
    group = LimitedCgroup(limit_mb=600)
    try:
        hog = memhog()
        group.add(hog.pid)
        hog.send("alloc 300")
        hog.send("free")  # given back: the group's lifetime peak predates the run
        quiet = tmp_path / "quiet.json"
        result = run_script("memory_monitor.py", "--pid", str(hog.pid), "--interval", "0.1",
                            "--duration", "1", "-o", str(quiet))
        assert result.returncode == 0, result.stderr
        spiky = tmp_path / "spiky.json"
        proc = monitor("--pid", str(hog.pid), "--interval", "0.5", "--duration", "3",
                       "-o", str(spiky))
        wait_for_samples(tmp_path / "spiky.samples.jsonl", 2)
        hog.send("spike 400 50")  # 50 ms between two samples half a second apart
        assert proc.wait(timeout=20) == 0, proc.stderr.read()
    finally:
        hog.stop()
        group.remove()
    before = json.loads(quiet.read_text())["summary"]["cgroup"]
    assert before["lifetime_peak_mb"] >= 300, before
    assert before["peak_mb"] < 150, before
    assert before["peak_basis"] in ("reset", "sampled")
    assert "Cgroup peak (this run): " in result.stdout and "lifetime peak: " in result.stdout
    during = json.loads(spiky.read_text())["summary"]["cgroup"]
    assert during["peak_mb"] >= 400, during
    assert during["lifetime_peak_mb"] >= 400, during


def test_target_exit_ends_the_run_cleanly(memhog, tmp_path):
    hog = memhog()
    output = tmp_path / "exit.json"
    proc = monitor("--pid", str(hog.pid), "--interval", "0.1", "-o", str(output))
    wait_for_samples(tmp_path / "exit.samples.jsonl", 3)
    hog.send_nowait("exit")
    hog.proc.wait(timeout=5)
    assert proc.wait(timeout=10) == 0, proc.stderr.read()
    report = json.loads(output.read_text())
    assert report["end_reason"] == "target_exited"
    assert report["complete"] is True  # without --duration the target's exit is the end
    stream = read_stream(tmp_path / "exit.samples.jsonl")
    assert stream[-1] == {"kind": "end", "end_reason": "target_exited", "complete": True}


def test_target_dying_before_duration_is_incomplete(memhog, tmp_path):
    hog = memhog()
    output = tmp_path / "died.json"
    proc = monitor("--pid", str(hog.pid), "--interval", "0.1", "--duration", "30",
                   "-o", str(output))
    wait_for_samples(tmp_path / "died.samples.jsonl", 3)
    hog.proc.kill()
    hog.proc.wait()
    assert proc.wait(timeout=10) == 1
    report = json.loads(output.read_text())
    assert report["end_reason"] == "target_exited" and report["complete"] is False
    assert report["summary"]["sample_count"] >= 3


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_mid_run_writes_every_sample_with_complete_false(memhog, tmp_path, signum, code):
    hog = memhog()
    output = tmp_path / "stop.json"
    proc = monitor("--pid", str(hog.pid), "--interval", "0.05", "--duration", "60",
                   "-o", str(output))
    wait_for_samples(tmp_path / "stop.samples.jsonl", 10)
    proc.send_signal(signum)
    assert proc.wait(timeout=10) == code
    assert "Traceback" not in proc.stderr.read()
    report = json.loads(output.read_text())
    assert report["complete"] is False and report["end_reason"] == "interrupted"
    streamed = stream_samples(tmp_path / "stop.samples.jsonl")
    assert report["samples"] == streamed
    assert len(streamed) >= 10


def test_kill_9_loses_at_most_one_interval(memhog, tmp_path):
    hog = memhog()
    output = tmp_path / "killed.json"
    proc = monitor("--pid", str(hog.pid), "--interval", "0.1", "--duration", "60",
                   "-o", str(output))
    wait_for_samples(tmp_path / "killed.samples.jsonl", 10)
    proc.kill()
    proc.wait()
    killed_at = time.time()
    assert not output.exists()
    records = read_stream(tmp_path / "killed.samples.jsonl")  # every line parses
    assert records[0]["kind"] == "header" and records[0]["tool"] == "memory_monitor"
    samples = [r for r in records if "kind" not in r]
    assert len(samples) >= 10
    assert killed_at - samples[-1]["time"] < 0.1 + 0.15  # one interval, plus slack


def test_whole_system_without_pid(tmp_path):
    output = tmp_path / "system.json"
    result = run_script("memory_monitor.py", "--duration", "1", "--interval", "0.5",
                        "-o", str(output))
    assert result.returncode == 0, result.stderr
    report = json.loads(output.read_text())
    assert report["tool"] == "memory_monitor" and report["schema_version"] == 1
    assert report["target"] is None
    assert len(report["samples"]) == 3
    for sample in report["samples"]:
        assert sample["process"] is None and sample["python"] is None
        assert 0 < sample["system"]["percent"] < 100
        assert sample["system"]["used_mb"] + sample["system"]["available_mb"] == pytest.approx(
            sample["system"]["total_mb"], abs=0.01)
    assert report["summary"]["peak_rss_mb"] is None


def test_fast_interval_keeps_schedule(memhog, tmp_path):
    hog = memhog()
    output = tmp_path / "fast.json"
    result = run_script("memory_monitor.py", "--pid", str(hog.pid), "--interval", "0.05",
                        "--duration", "2", "-o", str(output))
    assert result.returncode == 0, result.stderr
    report = json.loads(output.read_text())
    times = [s["t"] for s in report["samples"]]
    assert len(times) == 41 - report["summary"]["timing"]["missed_ticks"]
    assert report["summary"]["timing"]["missed_ticks"] <= 2
    # Deadline-based: sample k is taken at about k * interval, without accumulated drift.
    assert times[-1] == pytest.approx(2.0, abs=0.03)
    reads = report["reads"]
    assert reads["status"]["count"] >= len(times)
    assert reads["smaps_rollup"]["interval_s"] == 1.0
    rollups = reads["smaps_rollup"]  # walked, or found unchanged, once a second: 0, 1, 2
    assert rollups["count"] + rollups["unchanged"] == 3, rollups  # a missed tick too
    assert reads["process_scan"]["count"] == 3, reads
    assert rollups["count"] >= 1
    target = report["target"]
    assert target["pid"] == hog.pid and target["is_python"] is True
    assert target["runtime"] == "cpython" and target["runtime_process"]["pid"] == hog.pid
    assert any("memhog.py" in part for part in target["cmdline"])


def test_plain_and_quiet_output(memhog, tmp_path):
    hog = memhog()
    plain = run_script("memory_monitor.py", "--pid", str(hog.pid), "--duration", "1",
                       "--interval", "0.5", "-o", str(tmp_path / "plain.json"))
    assert plain.returncode == 0
    assert f"Monitoring PID {hog.pid}" in plain.stdout
    assert "Peak RSS" in plain.stdout and "Files written" in plain.stdout
    quiet = run_script("memory_monitor.py", "--pid", str(hog.pid), "--duration", "0.5",
                       "--quiet", "-o", str(tmp_path / "quiet.json"))
    assert quiet.returncode == 0 and quiet.stdout == "" and quiet.stderr == ""


def _nobody_can_run_python() -> bool:
    system_python = Path(f"/usr/bin/python{sys.version_info[0]}.{sys.version_info[1]}")
    return os.geteuid() == 0 and system_python.exists() and shutil.which("runuser") is not None


@pytest.mark.skipif(not _nobody_can_run_python(), reason="needs root, runuser and a system python")
def test_another_users_process_is_sampled_as_far_as_readable(memhog):
    # The monitor runs as 'nobody' on a root-owned target: status is readable by all,
    # smaps_rollup (PSS/USS) and the fd list are not. The project and its dependencies are
    # copied to a directory 'nobody' can read, run by the system's python of the same
    # version (the venv's interpreter lives under /root).
    hog = memhog()
    work = Path(tempfile.mkdtemp(prefix="monitor-nobody-"))
    try:
        os.chmod(work, 0o777)
        shutil.copytree(ROOT / "memory_analysis", work / "memory_analysis")
        shutil.copy(ROOT / "memory_monitor.py", work)
        site = Path(sysconfig.get_paths()["purelib"])
        for package in ("psutil", "click"):
            shutil.copytree(site / package, work / package)
        for path in work.rglob("*"):
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
        system_python = f"/usr/bin/python{sys.version_info[0]}.{sys.version_info[1]}"
        result = subprocess.run(
            ["runuser", "-u", "nobody", "--", system_python, "memory_monitor.py",
             "--pid", str(hog.pid), "--duration", "1", "--interval", "0.5", "-o", "r.json"],
            cwd=work, capture_output=True, text=True, timeout=30,
            env={"PATH": os.environ["PATH"], "PYTHONPATH": str(work)})
        assert result.returncode == 0, result.stderr
        assert "Not readable" in result.stdout
        report = json.loads((work / "r.json").read_text())
    finally:
        shutil.rmtree(work, ignore_errors=True)
    assert "pss" in report["unreadable"]
    assert report["summary"]["tree_metric"] == "rss"
    last = report["samples"][-1]["process"]
    assert last["rss_mb"] > 5 and last["pss_mb"] is None and last["open_fds"] is None
    assert last["tree_mb"] == last["tree_rss_mb"]


@pytest.mark.parametrize("args, message", [
    (["--pid", "99999999"], "no process with PID 99999999"),
    (["--interval", "0"], "--interval must be greater than 0"),
    (["--interval", "-1"], "--interval must be greater than 0"),
    (["--interval", "fast"], "'fast' is not a valid float"),
    (["--duration", "-5"], "--duration must be greater than 0"),
    (["--duration", "0"], "--duration must be greater than 0"),
    (["--warning", "150"], "--warning must be a percentage between 0 and 100"),
    (["--critical", "-1"], "--critical must be a percentage between 0 and 100"),
    (["--warning", "90", "--critical", "80"], "--warning (90) must be below --critical (80)"),
    (["--output", "/nonexistent-dir/report.json"], "directory /nonexistent-dir does not exist"),
    (["--output", "/proc/report.json"], "cannot write /proc/report.json"),
    (["--output", "/tmp"], "it is a directory"),
    (["--no-such-option"], "No such option"),
    (["--target-memory", "lots"], "--target-memory must be a memory size"),
    (["--target-memory", "100M"], "--target-memory needs --pid"),
    (["--target-name", "plan x"], "--target-name needs --target-memory"),
])
def test_bad_input_exits_2_with_one_line(args, message, tmp_path):
    result = run_script("memory_monitor.py", "--duration", "1", *args, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("memory_monitor.py: error: ")
    assert message in lines[0]
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_descendants_forked_mid_run_join_the_tree(memhog, tmp_path):
    hog = memhog()
    output = tmp_path / "join.json"
    proc = monitor("--pid", str(hog.pid), "--interval", "0.1", "--pss-interval", "0.5",
                   "--duration", "3", "-o", str(output))
    wait_for_samples(tmp_path / "join.samples.jsonl", 3)
    hog.send("fork 2")
    joined_at = time.time()
    assert proc.wait(timeout=20) == 0, proc.stderr.read()
    samples = json.loads(output.read_text())["samples"]
    assert samples[0]["process"]["children"] == 0
    first_seen = next(s for s in samples if s["process"]["children"] == 2)
    assert first_seen["time"] - joined_at <= 0.5 + 0.15  # within one --pss-interval
    assert samples[-1]["process"]["tree_rss_mb"] > samples[0]["process"]["tree_rss_mb"] + 10


def test_service_total_is_not_moved_by_other_processes_sharing_its_files(memhog, tmp_path):
    # Other processes map the same files (interpreters share libpython): the target's
    # PSS share of those pages shrinks while they run, its service total must not. A file
    # of the test's own, that nothing else on the machine maps, makes the share exact:
    # all of it alone, a fifth of it beside four others.
    shared = tmp_path / "shared.bin"
    shared.write_bytes(os.urandom(16 * 1024 * 1024))
    hog = memhog()
    hog.send("alloc 20")
    hog.send(f"map {shared}")

    def last_sample(name: str) -> dict:
        result = run_script("memory_monitor.py", "--pid", str(hog.pid), "--duration", "0.5",
                            "--interval", "0.5", "-o", str(tmp_path / name))
        assert result.returncode == 0, result.stderr
        return json.loads((tmp_path / name).read_text())["samples"][-1]["process"]

    alone = last_sample("alone.json")
    reader = ("import mmap, sys, time\n"
              "f = open(sys.argv[1], 'rb')\n"
              "m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)\n"
              "sum(m[i] for i in range(0, len(m), 4096))\n"
              "print('up', flush=True)\n"
              "time.sleep(60)\n")
    others = [subprocess.Popen([sys.executable, "-c", reader, str(shared)],
                               stdout=subprocess.PIPE, text=True) for _ in range(4)]
    try:
        for other in others:  # each has mapped and read the whole file
            assert other.stdout is not None and other.stdout.readline().strip() == "up"
        crowded = last_sample("crowded.json")
    finally:
        for other in others:
            other.kill()
            other.wait()
    assert alone["tree_pss_mb"] - crowded["tree_pss_mb"] > 10  # PSS is moved (16 -> 3.2)...
    assert abs(alone["tree_service_mb"] - crowded["tree_service_mb"]) < 0.3  # ...this is not
    # Between the private memory and the RSS, like PSS.
    assert alone["uss_mb"] < alone["tree_service_mb"] <= alone["tree_rss_mb"]


def test_pss_is_walked_again_only_when_the_trees_pages_changed(memhog):
    """smaps_rollup is the monitor's dearest read: an idle tree is not walked again but
    every PSS_REFRESH_S, while any fault or RSS change in any process of it (here a new
    allocation) has it walked at once."""
    from memory_analysis.monitor.sampler import PSS_REFRESH_S, TreeSampler

    hog = memhog()
    hog.send("fork 2")
    fds_before = len(os.listdir("/proc/self/fd"))
    sampler = TreeSampler(hog.pid, pss_interval=1.0)
    ticks = iter(range(10**6))

    def sample_with_pss() -> dict:  # every call a second later: a PSS read is due
        return sampler.sample(float(next(ticks)))

    try:
        first = sample_with_pss()
        assert sampler.counts.smaps_rollup == 3 and first["children"] == 2
        # Once the children have touched their own pages, the tree is idle.
        deadline = time.monotonic() + 30
        while sampler.counts.smaps_rollup_unchanged == 0:
            assert time.monotonic() < deadline, "the idle tree was walked again and again"
            time.sleep(0.05)
            idle = sample_with_pss()
        assert sampler.counts.smaps_rollup_unchanged == 3  # all of it, not walked
        # But at least every PSS_REFRESH_S, for pages others may share meanwhile.
        for _ in range(int(PSS_REFRESH_S)):
            sample_with_pss()
        walked = sampler.counts.smaps_rollup
        assert sampler.counts.smaps_rollup_unchanged >= 3 and walked >= 6
        hog.send("alloc 20")
        grown = sample_with_pss()
        assert sampler.counts.smaps_rollup == walked + 3  # the whole tree, once more
        assert grown["tree_pss_mb"] - idle["tree_pss_mb"] == pytest.approx(20, abs=2)
        # Each process's status and stat stay open between ticks, and are let go of.
        assert len(os.listdir("/proc/self/fd")) == fds_before + 2 * 3
    finally:
        sampler.close()
    assert len(os.listdir("/proc/self/fd")) == fds_before


def test_target_memory_alerts_fire_at_80_and_90_percent_of_it_naming_it(memhog, tmp_path):
    """--target-memory: the watched tree's memory is judged against the memory the
    service will get, not only the host's or a cgroup's, and the alerts say which."""
    hog = memhog()
    output = tmp_path / "target.json"
    stream = tmp_path / "target.samples.jsonl"
    proc = monitor("--pid", str(hog.pid), "--interval", "0.1", "--target-memory", "100M",
                   "--target-name", "plan tiny:small", "-o", str(output))
    try:
        wait_for_samples(stream, 2)
        process = stream_samples(stream)[-1]["process"]
        start_mb = process["tree_service_mb"] or process["tree_mb"]
        assert start_mb < 60, process
        hog.send(f"alloc {round(85 - start_mb)}")  # about 85 % of 100 MB
        wait_for_samples(stream, len(stream_samples(stream)) + 3)
        hog.send("alloc 10")  # about 95 %
        wait_for_samples(stream, len(stream_samples(stream)) + 3)
    finally:
        proc.send_signal(signal.SIGUSR1)  # the runner's "done": a normal end
        assert proc.wait(timeout=20) == 0, proc.stderr.read()
    alerts = [a for a in json.loads(output.read_text())["alerts"]
              if a["metric"] == "target_percent"]
    assert [a["level"] for a in alerts] == ["warning", "critical"], alerts
    assert [a["threshold"] for a in alerts] == [80, 90]
    assert alerts[0]["target_mb"] == 100 and alerts[0]["target"] == "plan tiny:small"
    assert 80 <= alerts[0]["value"] < 90 and alerts[1]["value"] >= 90
    assert alerts[0]["message"].startswith("WARNING: service memory ")
    assert "of plan tiny:small (100 MB) (threshold 80%)" in alerts[0]["message"]
    streamed = [r for r in read_stream(stream) if r.get("kind") == "alert"]
    assert [a["message"] for a in streamed if a["metric"] == "target_percent"] == [
        a["message"] for a in alerts]

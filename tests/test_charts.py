"""Pictures of a run: the runner draws its memory and load timelines as PNG files beside
its JSON, and memory_monitor.py --plot draws a monitor run; each is a valid PNG of the
size drawn, and a --plot that cannot be a PNG is refused before anything is sampled."""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path

from common_runs import SCRIPT_NAME
from conftest import run_script
from shared_runs import copy_of

from memory_analysis.reports.charts import SIZE_PX


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's header, after checking its signature."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def distinct_colours(path: Path) -> int:
    """Distinct bytes in the image data: a blank picture has only a handful."""
    import zlib
    data = path.read_bytes()
    chunks, offset = [], 8
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset:offset + 8])
        if kind == b"IDAT":
            chunks.append(data[offset + 8:offset + 8 + length])
        offset += 12 + length
    return len(set(zlib.decompress(b"".join(chunks))))


def test_the_runner_draws_its_timelines_beside_its_reports(demo_run, tmp_path):
    demo_run.ok()
    for name in ("memory_timeline.png", "load_timeline.png"):
        assert png_size(demo_run.out / name) == SIZE_PX
        assert distinct_colours(demo_run.out / name) > 20, f"{name} looks blank"
        assert str(demo_run.out / name) in demo_run.stdout  # listed among the files written
    # `report DIR` draws the same files again from the JSON alone.
    out = copy_of(demo_run, tmp_path)
    names = ("memory_timeline.png", "load_timeline.png", "memory_analysis_report.html")
    before = {name: (out / name).read_bytes() for name in names}
    for name in names:
        (out / name).unlink()
    again = run_script("memory_analysis_runner.py", "report", str(out))
    assert again.returncode == 0, again.stderr
    assert {name: (out / name).read_bytes() for name in names} == before
    missing = run_script("memory_analysis_runner.py", "report", str(tmp_path / "nothing"))
    assert missing.returncode == 2 and "no comprehensive_memory_analysis.json" in missing.stderr
    report = json.loads((out / "comprehensive_memory_analysis.json").read_text())
    # What the charts draw is in the report: the load run on the monitor's clock, and
    # where the warning and critical bands start.
    assert report["timeline"]["steps"][0]["start_t"] > 0
    judged = report["assessment"]["judged_against"]
    assert judged["warning_mb"] < judged["critical_mb"] <= judged["limit_mb"]


def test_the_html_report_is_one_offline_page_and_escapes_what_users_named(
        script_scenario_run):
    out = script_scenario_run.ok().out
    page = (out / "memory_analysis_report.html").read_text()
    assert str(out / "memory_analysis_report.html") in script_scenario_run.stdout
    assert "<script" not in page.lower()  # none of ours, and theirs only as text
    assert SCRIPT_NAME not in page
    assert "&lt;script&gt;alert(&#x27;endpoint&#x27;)&lt;/script&gt;" in page
    assert page.count("<svg") == 2  # the memory and the load timelines, inline
    # Nothing is fetched: no src or href leads anywhere, no stylesheet is linked.
    assert re.findall(r'(?:src|href)="(?!#)[^"]*"', page) == []
    assert "<link" not in page and "@import" not in page
    for heading in ("Verdict", "Latency", "Memory requirements and plans",
                    "Inside the service", "Configuration and environment"):
        assert f"<h2>{heading}</h2>" in page


def test_the_monitor_plots_a_run(tmp_path):
    plot = tmp_path / "memory.png"
    result = run_script("memory_monitor.py", "--duration", "1", "--interval", "0.1",
                        "--plot", str(plot), "--output", str(tmp_path / "m.json"), "-q")
    assert result.returncode == 0, result.stderr
    assert png_size(plot) == SIZE_PX and distinct_colours(plot) > 20
    assert result.stderr == ""
    # And again later from its report alone.
    again = run_script("memory_monitor.py", "plot", str(tmp_path / "m.json"))
    assert again.returncode == 0 and again.stdout.strip() == str(tmp_path / "m.png")
    assert png_size(tmp_path / "m.png") == SIZE_PX
    wrong = run_script("memory_monitor.py", "plot", str(tmp_path / "missing.json"))
    assert wrong.returncode == 2 and wrong.stderr.count("\n") == 1


def test_a_plot_that_cannot_be_a_png_is_refused(tmp_path):
    for plot, message in ((tmp_path / "memory.jpg", "ending in .png"),
                          (tmp_path / "missing" / "m.png", "cannot write")):
        result = run_script("memory_monitor.py", "--duration", "1", "--plot", str(plot),
                            "--output", str(tmp_path / "m.json"))
        assert result.returncode == 2 and message in result.stderr
        assert result.stderr.count("\n") == 1
        assert not (tmp_path / "m.json").exists()


def test_compare_names_the_run_with_the_bigger_peak(demo_run, held_run, tmp_path):
    # "after": the optimisation went wrong, and the service now holds 80 MB more.
    before, after = demo_run.ok().out, held_run.ok().out
    compared = run_script("memory_analysis_runner.py", "compare", str(before), str(after),
                          "--output-dir", str(tmp_path / "cmp"))
    assert compared.returncode == 0, compared.stderr
    assert compared.stdout.splitlines()[0] == f"Bigger peak: {after}"
    result = json.loads((tmp_path / "cmp" / "comparison.json").read_text())
    peak = next(row for row in result["figures"] if row["figure"] == "peak")
    assert peak["delta"] > 30 and result["bigger_peak"] == str(after)
    page = (tmp_path / "cmp" / "comparison.html").read_text()
    assert page.count("<svg") == 1 and "<script" not in page.lower()
    assert png_size(tmp_path / "cmp" / "comparison_timeline.png") == SIZE_PX
    refused = run_script("memory_analysis_runner.py", "compare", str(before),
                         str(tmp_path / "nothing"))
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1


def test_the_load_tester_writes_an_html_page(tmp_path):
    from demo_helpers import Demo
    demo = Demo()
    try:
        result = run_script("load_tester.py", "--url", demo.url, "--users", "2",
                            "--requests", "5", "-q", "--output", str(tmp_path / "l.json"),
                            "--html", str(tmp_path / "l.html"))
    finally:
        demo.stop()
    assert result.returncode == 0, result.stderr
    page = (tmp_path / "l.html").read_text()
    report = json.loads((tmp_path / "l.json").read_text())
    assert page.count("<svg") == 1 and "<script" not in page.lower()
    for endpoint in report["endpoints"]:
        assert endpoint["path"] in page
    refused = run_script("load_tester.py", "--url", "http://127.0.0.1:9", "--html",
                         str(tmp_path / "missing" / "l.html"), "-o", str(tmp_path / "x.json"))
    assert refused.returncode == 2 and "cannot write" in refused.stderr


def test_report_after_a_runner_killed_outright_merges_what_the_tools_left(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    from conftest import ROOT
    out = tmp_path / "out"
    runner = subprocess.Popen(
        [sys.executable, str(ROOT / "memory_analysis_runner.py"), "--baseline", "2",
         "--load-test", "4", "--cooldown", "60", "--interval", "0.25", "--users", "4",
         "--quiet", "--output-dir", str(out)], stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not (out / "load_test_during_analysis.json").exists():  # the load is over
            assert runner.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        runner.send_signal(signal.SIGKILL)
        runner.wait(timeout=30)
        # Its monitor is told to stop when it dies, and writes its report.
        while not (out / "memory_analysis.json").exists():
            assert time.monotonic() < deadline, "the monitor left no report"
            time.sleep(0.1)
    finally:
        if runner.poll() is None:
            runner.kill()
    assert not (out / "comprehensive_memory_analysis.json").exists()
    result = run_script("memory_analysis_runner.py", "report", str(out))
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "comprehensive_memory_analysis.json").read_text())
    assert report["complete"] is False and report["end_reason"] == "runner_killed"
    assert report["phases"]["load"]["samples"] > 0 and report["memory"]["peak_mb"] > 0
    assert report["load_test"]["requests"] > 0
    assert png_size(out / "memory_timeline.png") == SIZE_PX
    assert "runner_killed" in (out / "memory_analysis_report.html").read_text()

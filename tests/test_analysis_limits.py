"""What a service is judged against: sizes, plans, cgroup limits and the host."""

from __future__ import annotations

import pytest

from memory_analysis.analysis.catalogs import load_catalogs
from memory_analysis.analysis.limits import find_plan, judged_against, parse_size_mb
from memory_analysis.errors import BadInput


@pytest.mark.parametrize("text, mb", [("512", 512), ("512M", 512), ("512MB", 512),
                                      ("2G", 2048), ("2 GiB", 2048), ("1.5g", 1536),
                                      ("1024k", 1), ("1T", 1024 * 1024), ("2 gb", 2048)])
def test_sizes(text, mb):
    assert parse_size_mb(text) == pytest.approx(mb)


@pytest.mark.parametrize("text", ["", "lots", "-5M", "0", "2 GB RAM", "5X", "512B", "512ib",
                                  "1K", "0.5M"])
def test_bad_sizes(text):
    with pytest.raises(BadInput, match="--target-memory"):
        parse_size_mb(text)


def test_plans_are_found_without_case_and_unknown_ones_listed():
    catalogs = load_catalogs()
    plan = find_plan(catalogs, "Render:Standard")
    assert plan["plan"] == "render:standard" and plan["memory_mb"] == 2048
    with pytest.raises(BadInput, match="providers: render, aws"):
        find_plan(catalogs, "heroku:basic")
    with pytest.raises(BadInput, match="its plans: free, starter"):
        find_plan(catalogs, "render:huge")
    with pytest.raises(BadInput, match="PROVIDER:PLAN"):
        find_plan(catalogs, "render")


def test_the_tightest_known_limit_wins_and_the_host_is_the_last_resort():
    plan = {"plan": "render:standard", "memory_mb": 2048.0}
    assert judged_against(None, 24000.0)["source"] == "host"
    assert judged_against(None, 24000.0, 512.0) == {"source": "target_memory",
                                                    "limit_mb": 512.0, "host_mb": 24000.0,
                                                    "warning_mb": 409.6, "critical_mb": 460.8}
    tight = judged_against(1024.0, 24000.0, plan=plan)
    assert tight["source"] == "cgroup" and tight["limit_mb"] == 1024.0
    assert tight["plan"] == "render:standard"
    loose = judged_against(8192.0, 24000.0, plan=plan)
    assert loose["source"] == "plan" and loose["cgroup_limit_mb"] == 8192.0

"""Plan catalogs: the bundled files, validation of a user's file, and plan selection."""

from __future__ import annotations

import json

import pytest

from memory_analysis.analysis.catalogs import load_catalog_file, load_catalogs
from memory_analysis.analysis.plans import (
    plan_choice,
    plans_until_leak,
    recommend_plans,
    smallest_plan,
)
from memory_analysis.errors import BadInput

GIB = 1024


def by_id():
    return {c["id"]: c for c in load_catalogs()}


def memory_of(catalog):
    return {p["name"]: p["memory_mb"] for p in catalog["plans"]}


def test_bundled_catalogs_are_dated_and_hold_the_issues_plans():
    catalogs = by_id()
    assert list(catalogs) == ["render", "aws", "gcp", "azure", "generic"]
    assert all(c["as_of"] for c in catalogs.values())
    assert memory_of(catalogs["render"]) == {
        "free": 512, "starter": 512, "standard": 2 * GIB, "pro": 4 * GIB, "pro plus": 8 * GIB,
        "pro max": 16 * GIB, "pro ultra": 32 * GIB}
    assert memory_of(catalogs["aws"]) == {
        "t3.nano": 512, "t3.micro": GIB, "t3.small": 2 * GIB, "t3.medium": 4 * GIB,
        "t3.large": 8 * GIB, "t3.xlarge": 16 * GIB}
    assert memory_of(catalogs["gcp"]) == {
        "e2-micro": GIB, "e2-small": 2 * GIB, "e2-medium": 4 * GIB, "e2-standard-2": 8 * GIB,
        "e2-standard-4": 16 * GIB}
    assert memory_of(catalogs["azure"]) == {
        "Standard_B2ts_v2": GIB, "Standard_B2ls_v2": 4 * GIB, "Standard_B2s_v2": 8 * GIB,
        "Standard_B4s_v2": 16 * GIB}
    assert memory_of(catalogs["generic"]) == {
        "small (1 GB)": GIB, "small (2 GB)": 2 * GIB, "medium": 4 * GIB, "large": 8 * GIB}


def test_smallest_plan_holding_the_memory():
    render = by_id()["render"]
    assert smallest_plan(render, 400)["name"] == "starter"  # never the free tier
    assert smallest_plan(render, 512)["name"] == "starter"
    assert smallest_plan(render, 513)["name"] == "standard"
    assert smallest_plan(render, 40_000) is None


def test_plan_choice_headroom_and_min_plan():
    choice = plan_choice(by_id()["render"], min_mb=450, recommended_mb=600, peak_mb=300)
    assert choice["plan"] == "standard" and choice["memory_mb"] == 2048
    assert choice["headroom_percent"] == pytest.approx((2048 - 600) / 600 * 100, abs=0.1)
    # What the views show: the MB left beyond the recommended, and how many times it fits.
    assert choice["headroom_mb"] == 2048 - 600 and choice["times_recommended"] == 3.41
    assert choice["peak_percent_of_plan"] == pytest.approx(300 / 2048 * 100, abs=0.1)
    assert choice["min_plan"] == "starter" and choice["min_plan_memory_mb"] == 512
    assert choice["as_of"] and choice["catalog"] == "Render web services"


def test_plan_choice_when_nothing_is_big_enough():
    choice = plan_choice(by_id()["azure"], min_mb=15_000, recommended_mb=20_000, peak_mb=10_000)
    assert choice["plan"] is None and choice["headroom_percent"] is None
    assert choice["headroom_mb"] is None and choice["times_recommended"] is None
    assert choice["min_plan"] == "Standard_B4s_v2"
    assert "no plan holds" in choice["note"]


def test_recommend_plans_across_catalogs():
    plans = recommend_plans(load_catalogs(), 1500, 2000, 1000)
    assert {k: v["plan"] for k, v in plans.items()} == {
        "render": "standard", "aws": "t3.small", "gcp": "e2-small",
        "azure": "Standard_B2ls_v2", "generic": "small (2 GB)"}
    assert plans["render"]["headroom_percent"] == 2.4
    assert recommend_plans(load_catalogs(), None, None, None) == {}


def write(tmp_path, data, name="mine.json"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


GOOD = {"id": "mycloud", "name": "My cloud", "as_of": "2026-01-31",
        "plans": [{"name": "big", "memory_mb": 8192}, {"name": "small", "memory_mb": 1024}]}


def test_a_users_catalog_replaces_the_bundled_ones(tmp_path):
    catalogs = load_catalogs([write(tmp_path, GOOD)])
    assert [c["id"] for c in catalogs] == ["mycloud"]
    assert [p["name"] for p in catalogs[0]["plans"]] == ["small", "big"]  # sorted by memory
    several = write(tmp_path, {"catalogs": [GOOD, {**GOOD, "id": "other"}]}, "two.json")
    assert [c["id"] for c in load_catalog_file(several)] == ["mycloud", "other"]


@pytest.mark.parametrize("content, message", [
    ("{not json", "not valid JSON"),
    ([1, 2], "must be a JSON object"),
    ({**GOOD, "region": "eu"}, "unknown key 'region'"),
    ({k: v for k, v in GOOD.items() if k != "as_of"}, "missing key 'as_of'"),
    ({**GOOD, "id": "My Cloud"}, "'id' must be lower-case"),
    ({**GOOD, "as_of": "last week"}, "'as_of' must be a date"),
    ({**GOOD, "plans": []}, "'plans' must be a non-empty list"),
    ({**GOOD, "plans": [{"name": "x", "memory_mb": 0}]}, "'memory_mb' must be a number > 0"),
    ({**GOOD, "plans": [{"name": "x", "memory_mb": "2GB"}]}, "'memory_mb' must be a number > 0"),
    ({**GOOD, "plans": [{"name": "x", "memory_mb": True}]}, "'memory_mb' must be a number > 0"),
    ({**GOOD, "plans": [{"name": "x", "memory_mb": 1, "ram": 2}]}, "unknown key 'ram'"),
    ({**GOOD, "plans": [{"name": "x", "memory_mb": 1}, {"name": "x", "memory_mb": 2}]},
     "appears twice"),
    ({**GOOD, "plans": [{"memory_mb": 1}]}, "'name' must be a non-empty string"),
    ({**GOOD, "plans": [{"name": "x", "memory_mb": 1, "production": "yes"}]},
     "'production' must be true or false"),
    ({"catalogs": []}, "'catalogs' must be a non-empty list"),
])
def test_a_bad_catalog_names_the_file_and_the_fault(tmp_path, content, message):
    path = write(tmp_path, content)
    with pytest.raises(BadInput) as caught:
        load_catalogs([path])
    assert str(caught.value).startswith(f"catalog {path}")
    assert message in str(caught.value)


def test_missing_file_and_duplicate_ids(tmp_path):
    with pytest.raises(BadInput, match="no such file"):
        load_catalogs([tmp_path / "nope.json"])
    with pytest.raises(BadInput, match="is a directory"):
        load_catalogs([tmp_path])
    first, second = write(tmp_path, GOOD, "a.json"), write(tmp_path, GOOD, "b.json")
    with pytest.raises(BadInput, match="already defined in"):
        load_catalogs([first, second])
    assert BadInput("x").exit_code == 2


# -- a leaking service's plans: how long each lasts (issue 16, part 4) -------------------
def leak_of(slope, ci, shape="linear", verdict="leak"):
    return {"verdict": verdict, "slope_mb_per_min": slope, "slope_ci_mb_per_min": ci,
            "shape": shape, "time_to_limit_h": 1.0, "projected_growth_mb": slope * 60 * 72}


def test_each_plan_of_a_leak_lasts_its_headroom_over_the_leaks_rate():
    plans = recommend_plans(load_catalogs(), 300, 400, 200)
    lasting, note = plans_until_leak(plans, leak_of(10.0, [8.0, 12.5]), 200)
    render = lasting["render"]  # starter, 512 MB
    assert render["lasts_h"] == round((512 - 200) / 10.0 / 60, 2)
    assert render["lasts_h_ci"] == [round((512 - 200) / 12.5 / 60, 2),
                                    round((512 - 200) / 8.0 / 60, 2)]
    assert lasting["gcp"]["lasts_h"] == round((1024 - 200) / 10.0 / 60, 2)  # e2-micro
    assert {k: v for k, v in render.items() if not k.startswith("lasts")} == plans["render"]
    assert "only until the leak fills it" in note and "10.0 MB/min" in note
    assert "200 MB" in note and "shortest" not in note


def test_a_slowing_leak_says_its_times_are_the_shortest_and_an_open_interval_is_for_ever():
    plans = recommend_plans(load_catalogs(), 300, 400, 200)
    lasting, note = plans_until_leak(plans, leak_of(10.0, [-1.0, 20.0], "slowing"), 200)
    assert lasting["gcp"]["lasts_h_ci"][1] is None  # the rate may be nil: never full
    assert '"slowing"' in note and "shortest to expect" in note


def test_plans_without_a_leak_or_a_plan_are_left_as_they_are():
    plans = recommend_plans(load_catalogs(), 300, 400, 200)
    for leak in (leak_of(10.0, [8.0, 12.0], verdict="no leak"), leak_of(0.0, [-1.0, 1.0]),
                 {"verdict": "not judged"}):
        assert plans_until_leak(plans, leak, 200) == (plans, None)
    none_fits = {"x": {"plan": None, "memory_mb": None}}
    assert plans_until_leak(none_fits, leak_of(10.0, [8.0, 12.0]), 200)[0] == none_fits

"""Plan catalogs: the bundled files, validation of a user's file, and plan selection."""

from __future__ import annotations

import json

import pytest

from memory_analysis.analysis.catalogs import load_catalog_file, load_catalogs, validate_catalog
from memory_analysis.analysis.plans import (
    cheapest_plan,
    os_memory_mb,
    plan_choice,
    plans_until_leak,
    recommend_cheapest,
    recommend_plans,
    service_memory_mb,
    smallest_plan,
)
from memory_analysis.errors import BadInput

GIB = 1024


def by_id():
    return {c["id"]: c for c in load_catalogs()}


def memory_of(catalog):
    return {p["name"]: p["memory_mb"] for p in catalog["plans"]}


def test_bundled_catalogs_are_dated_priced_and_reach_the_sizes_users_buy():
    catalogs = by_id()
    assert list(catalogs) == ["render", "aws", "gcp", "azure", "generic"]
    for catalog in catalogs.values():
        assert catalog["as_of"] and catalog["note"]
    assert {c["id"]: c["kind"] for c in catalogs.values()} == {
        "render": "container", "aws": "vm", "gcp": "vm", "azure": "vm", "generic": "container"}
    # Every plan of a provider has its monthly on-demand price and names its pricing page.
    for provider in ("render", "aws", "gcp", "azure"):
        assert catalogs[provider]["source"].startswith("https://")
        assert all(p["monthly_usd"] >= 0 for p in catalogs[provider]["plans"])
    assert all("monthly_usd" not in p for p in catalogs["generic"]["plans"])
    # The clouds reach past 16 GB: AWS and Azure to 256 GiB, GCP's e2 to its largest, 128.
    largest = {k: max(memory_of(c).values()) for k, c in catalogs.items()}
    assert largest == {"render": 32 * GIB, "aws": 256 * GIB, "gcp": 128 * GIB,
                       "azure": 256 * GIB, "generic": 8 * GIB}
    assert memory_of(catalogs["render"]) == {
        "free": 512, "starter": 512, "standard": 2 * GIB, "pro": 4 * GIB, "pro plus": 8 * GIB,
        "pro max": 16 * GIB, "pro ultra": 32 * GIB}
    price = {k: {p["name"]: p.get("monthly_usd") for p in c["plans"]} for k, c in catalogs.items()}
    # Hourly x 730: t3.micro $0.0104, e2-standard-2 $0.06701142, E2s v5 $0.126 an hour.
    assert price["aws"]["t3.micro"] == 7.59 and price["aws"]["r7i.8xlarge"] == 1545.26
    assert price["gcp"]["e2-standard-2"] == 48.92 and price["azure"]["Standard_E2s_v5"] == 91.98
    assert price["render"]["starter"] == 7 and price["render"]["free"] == 0


def test_smallest_plan_holding_the_memory():
    render = by_id()["render"]
    assert smallest_plan(render, 400)["name"] == "starter"  # never the free tier
    assert smallest_plan(render, 512)["name"] == "starter"
    assert smallest_plan(render, 513)["name"] == "standard"
    assert smallest_plan(render, 40_000) is None


def vm(os_memory_mb=None, **plans):
    """A catalog of VMs: plan name -> (memory MB, price or None)."""
    catalog = {"id": "vms", "name": "VMs", "as_of": "2026-01-31", "kind": "vm",
               "plans": [{"name": n, "memory_mb": m, **({} if p is None else {"monthly_usd": p})}
                         for n, (m, p) in plans.items()]}
    if os_memory_mb is not None:
        catalog["os_memory_mb"] = os_memory_mb
    return validate_catalog(catalog, "test")


def test_a_vm_plan_holds_only_what_its_operating_system_leaves():
    vms = vm(one=(1024, 8.0), two=(2048, 15.0))
    # 200 MB of userland and 2 % of the plan's memory for the kernel: 803.5 MB left of 1 GiB.
    assert os_memory_mb(vms, vms["plans"][0]) == 220.5
    assert service_memory_mb(vms, vms["plans"][0]) == 803.5
    assert smallest_plan(vms, 803)["name"] == "one"
    assert smallest_plan(vms, 804)["name"] == "two"
    # A catalog that measured its image says what the OS takes.
    lean = vm(os_memory_mb=100, one=(1024, 8.0))
    assert smallest_plan(lean, 924)["name"] == "one" and smallest_plan(lean, 925) is None
    # A container's memory is all the service's.
    assert service_memory_mb(by_id()["render"], {"memory_mb": 512}) == 512


def test_of_plans_the_same_size_the_cheaper_is_chosen():
    aws = by_id()["aws"]
    # 16 GiB: t3.xlarge $121.47, m7i.xlarge $147.17, r7i.large $96.58.
    assert smallest_plan(aws, 9000)["name"] == "r7i.large"


def test_the_cheapest_plan_across_providers():
    paas = validate_catalog({"id": "paas", "name": "PaaS", "as_of": "2026-02-01",
                             "plans": [{"name": "p1", "memory_mb": 1024, "monthly_usd": 9.0},
                                       {"name": "p2", "memory_mb": 2048, "monthly_usd": 20.0},
                                       {"name": "dev", "memory_mb": 4096, "monthly_usd": 0,
                                        "production": False}]}, "test")
    vms = vm(one=(1024, 6.0), two=(2048, 12.0), big=(8192, None))
    # 700 MB: the VM's 1 GiB leaves 803.5 MB and costs less than the PaaS's 1 GiB.
    best = cheapest_plan([paas, vms], 700)
    assert best == {"provider": "vms", "catalog": "VMs", "plan": "one", "memory_mb": 1024,
                    "service_memory_mb": 803.5, "os_memory_mb": 220.5, "monthly_usd": 6.0,
                    "as_of": "2026-01-31"}
    # 900 MB: the OS leaves the VM's 1 GiB too little; the PaaS's 1 GiB holds it all.
    assert cheapest_plan([paas, vms], 900)["plan"] == "p1"
    # 2,000 MB: the VM's 2 GiB leaves only 1,807 MB, so the PaaS's dearer 2 GiB is the
    # cheapest that holds it; its free development tier never is.
    assert cheapest_plan([paas, vms], 2000)["plan"] == "p2"
    # 3,000 MB: only the unpriced 8 GiB VM holds it, and a plan without a price is never
    # the cheapest.
    assert cheapest_plan([paas, vms], 3000) is None
    assert recommend_cheapest([paas, vms], 700, 900) == {
        "minimum": cheapest_plan([paas, vms], 700),
        "recommended": cheapest_plan([paas, vms], 900)}
    assert recommend_cheapest([paas, vms], None, None) == {}


def test_plan_choice_headroom_and_min_plan():
    choice = plan_choice(by_id()["render"], min_mb=450, recommended_mb=600, peak_mb=300)
    assert choice["plan"] == "standard" and choice["memory_mb"] == 2048
    assert choice["monthly_usd"] == 25 and choice["service_memory_mb"] == 2048
    assert choice["os_memory_mb"] == 0
    assert choice["headroom_percent"] == pytest.approx((2048 - 600) / 600 * 100, abs=0.1)
    # What the views show: the MB left beyond the recommended, and how many times it fits.
    assert choice["headroom_mb"] == 2048 - 600 and choice["times_recommended"] == 3.41
    assert choice["peak_percent_of_plan"] == pytest.approx(300 / 2048 * 100, abs=0.1)
    assert choice["min_plan"] == "starter" and choice["min_plan_memory_mb"] == 512
    assert choice["as_of"] and choice["catalog"] == "Render web services"


def test_a_vm_plans_headroom_is_what_its_operating_system_leaves():
    choice = plan_choice(vm(one=(1024, 8.0), two=(2048, 15.0)), min_mb=700, recommended_mb=900,
                         peak_mb=450)
    assert choice["plan"] == "two" and choice["monthly_usd"] == 15.0
    assert choice["os_memory_mb"] == 241.0 and choice["service_memory_mb"] == 1807.0
    assert choice["headroom_mb"] == 907.0 and choice["peak_percent_of_plan"] == 24.9
    assert choice["min_plan"] == "one"


def test_plan_choice_when_nothing_is_big_enough():
    choice = plan_choice(by_id()["render"], min_mb=30_000, recommended_mb=40_000,
                         peak_mb=20_000)
    assert choice["plan"] is None and choice["headroom_percent"] is None
    assert choice["headroom_mb"] is None and choice["times_recommended"] is None
    assert choice["monthly_usd"] is None
    assert choice["min_plan"] == "pro ultra"
    assert "no plan holds" in choice["note"] and "operating system" not in choice["note"]
    # A VM's largest plan is named with what its operating system leaves.
    too_big = plan_choice(vm(one=(1024, 8.0)), min_mb=900, recommended_mb=1000, peak_mb=500)
    assert "largest: 1,024 MB, 804 MB of it the service's" in too_big["note"]


def test_recommend_plans_across_catalogs():
    plans = recommend_plans(load_catalogs(), 1500, 2000, 1000)
    # On the clouds' VMs the operating system's share leaves 2 GiB short of 2,000 MB.
    assert {k: v["plan"] for k, v in plans.items()} == {
        "render": "standard", "aws": "t3.medium", "gcp": "e2-medium",
        "azure": "Standard_B2ls_v2", "generic": "small (2 GB)"}
    assert {k: v["monthly_usd"] for k, v in plans.items()} == {
        "render": 25, "aws": 30.37, "gcp": 24.46, "azure": 30.37, "generic": None}
    assert plans["render"]["headroom_percent"] == 2.4
    assert plans["aws"]["min_plan"] == "t3.small"  # 1,807 MB of its 2 GiB hold 1,500
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
    # Without prices or a kind it still works: its memory is all the service's, and it
    # has no cheapest plan.
    assert catalogs[0]["kind"] == "container"
    assert recommend_plans(catalogs, 900, 1000, 500)["mycloud"]["plan"] == "small"
    assert cheapest_plan(catalogs, 1000) is None
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
    ({**GOOD, "plans": [{"name": "x", "memory_mb": 1, "monthly_usd": -1}]},
     "'monthly_usd' must be a number >= 0"),
    ({**GOOD, "plans": [{"name": "x", "memory_mb": 1, "monthly_usd": "$7"}]},
     "'monthly_usd' must be a number >= 0"),
    ({**GOOD, "plans": [{"name": "x", "memory_mb": 1, "monthly_usd": True}]},
     "'monthly_usd' must be a number >= 0"),
    ('{"id": "x", "name": "x", "as_of": "2026-01-31", '
     '"plans": [{"name": "x", "memory_mb": 1, "monthly_usd": NaN}]}',
     "'monthly_usd' must be a number >= 0"),
    ({**GOOD, "plans": [{"name": "x", "memory_mb": 1, "price": 7}]}, "unknown key 'price'"),
    ({**GOOD, "kind": "paas"}, "'kind' must be one of container, vm"),
    ({**GOOD, "os_memory_mb": 300}, "'os_memory_mb' is for a catalog of kind 'vm' only"),
    ({**GOOD, "kind": "vm", "os_memory_mb": -5}, "'os_memory_mb' must be a number >= 0"),
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
    # e2-micro: what its operating system leaves of 1 GiB, 803.5 MB, fills up.
    assert lasting["gcp"]["plan"] == "e2-micro"
    assert lasting["gcp"]["lasts_h"] == round((803.5 - 200) / 10.0 / 60, 2)
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

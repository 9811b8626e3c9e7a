"""Which scenario a load test runs: a scenario file, one built from an OpenAPI document,
or the default profile, narrowed to some endpoints. One home for the choice, used by
load_tester.py and by the runner (which checks it before a service is started)."""

from __future__ import annotations

from memory_analysis.loadgen.config import check_one_description
from memory_analysis.loadgen.openapi import scenario_from_openapi
from memory_analysis.loadgen.scenario import (
    Scenario,
    default_scenario,
    load_scenario,
    parse_headers,
    select_endpoints,
    with_headers,
)


def choose_scenario(scenario: str | None, openapi: str | None,
                    endpoints: list[str] | None, headers: list[str] | tuple[str, ...] = ()
                    ) -> tuple[Scenario, list[str]]:
    """(the scenario, notes: the OpenAPI operations skipped and why). ``headers``
    (``--header`` options) go with every request, and fill an OpenAPI operation's
    header parameters of those names."""
    check_one_description(scenario, openapi)
    extra = parse_headers(headers)
    notes: list[str] = []
    if openapi is not None:
        chosen, _profile, notes = scenario_from_openapi(
            openapi, frozenset(name.lower() for name in extra))
    elif scenario is not None:
        chosen = load_scenario(scenario)
    else:
        chosen = default_scenario()
    if endpoints is not None:
        chosen = select_endpoints(chosen, endpoints)
    return with_headers(chosen, extra), notes

"""Scenarios from OpenAPI documents nobody wrote for this suite: what a document gives is
sent as it is (braces included), servers' base paths are kept, broken parts are skipped
and named while the rest is used, YAML dates stay text, and values stay within bounds.
The load tester runs against a real server on 127.0.0.1 that records what it received."""

from __future__ import annotations

import json
import os

import pytest
from loadgen_helpers import CountingServer, load, run_tester

from memory_analysis.loadgen.openapi import profile_from_openapi


def document(paths: dict, **extra) -> dict:
    return {"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": paths,
            **extra}


def body_op(example) -> dict:
    return {"requestBody": {"required": True, "content": {"application/json": {
        "example": example}}}, "responses": {}}


@pytest.fixture
def server():
    with CountingServer() as srv:
        yield srv


def test_what_the_document_gives_is_sent_as_it_is_never_as_a_template(server, tmp_path):
    doc = document({
        "/notes": {"post": body_op({"note": "{env:SECRET_TOKEN}", "shape": "{x}",
                                    "json": "{{literal}}"})},
        "/tags": {"get": {"parameters": [
            {"name": "ids", "in": "query", "required": True,
             "schema": {"type": "array", "items": {"type": "integer"}}, "example": [1, 2]},
            {"name": "on", "in": "query", "required": True, "schema": {"type": "boolean"}}],
            "responses": {}}},
    }, servers=[{"url": "https://api.example.com/api/v1"}])
    spec = tmp_path / "doc.json"
    spec.write_text(json.dumps(doc))
    env = {**os.environ, "SECRET_TOKEN": "hunter2"}
    result = run_tester("--openapi", str(spec), "--url", server.url, "--users", "1",
                        "--requests", "20", "--output", "r.json", "--quiet", cwd=tmp_path,
                        env=env)
    assert result.returncode == 0, result.stderr
    sent = server.bodies["/api/v1/notes"]
    assert sent and all(body == {"note": "{env:SECRET_TOKEN}", "shape": "{x}",
                                 "json": "{{literal}}"} for body in sent)
    queries = {q for q in server.order if q.startswith("/api/v1/tags")}
    assert queries == {"/api/v1/tags?ids=1&ids=2&on=true"}
    assert "hunter2" not in (tmp_path / "r.json").read_text()


def test_a_broken_operation_is_skipped_and_named_the_rest_is_used(tmp_path):
    doc = document({
        "/ok": {"get": {"responses": {}}},
        "/null-item": None,
        "/bad-param": {"get": {"parameters": ["q"], "responses": {}}},
        "/bad-enum": {"get": {"parameters": [{"name": "c", "in": "query", "required": True,
                                              "schema": {"enum": {"a": 1}}}],
                              "responses": {}}},
        "/bad-required": {"post": {"requestBody": {"content": {"application/json": {
            "schema": {"type": "object", "required": True}}}}, "responses": {}}},
        "/bad-content": {"post": {"requestBody": {"content": ["application/json"]},
                                  "responses": {}}},
        "/string-body": {"post": {"requestBody": "json please", "responses": {}}},
    }, info="not an object")
    profile, skipped = profile_from_openapi(doc, "doc.json")
    assert [e["path"] for e in profile["endpoints"]] == ["/ok"]
    named = " ".join(skipped)
    for path in ("/null-item", "/bad-param", "/bad-enum", "/bad-required", "/bad-content",
                 "/string-body"):
        assert path in named


def test_the_load_tester_uses_the_good_operations_of_a_partly_broken_yaml_document(
        server, tmp_path):
    spec = tmp_path / "doc.yaml"
    spec.write_text("openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n"
                    "  /a:\n"
                    "  /b: {get: {responses: {}}}\n"
                    "  /events:\n"
                    "    post:\n"
                    "      requestBody:\n"
                    "        content:\n"
                    "          application/json:\n"
                    "            example: {day: 2024-05-01, at: 2024-05-01T10:00:00Z}\n"
                    "      responses: {}\n")
    result = run_tester("--openapi", str(spec), "--url", server.url, "--users", "1",
                        "--requests", "10", "--output", "r.json", "--quiet", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "/a" in result.stderr  # the empty path item, named as skipped
    assert server.bodies["/events"][0] == {"day": "2024-05-01", "at": "2024-05-01T10:00:00Z"}
    assert ("GET", "/b") in server.counts
    report = load(tmp_path / "r.json")
    assert report["config"]["scenario"] == f"--openapi {spec}"


@pytest.mark.parametrize("schema, expected", [
    ({"type": "integer", "maximum": 0}, 0),
    ({"type": "integer", "minimum": 5, "maximum": 10}, 5),
    ({"type": "integer", "exclusiveMinimum": 5}, 6),
    ({"type": "integer", "minimum": 3, "multipleOf": 5}, 5),
    ({"type": "number", "exclusiveMaximum": 1, "exclusiveMinimum": -5}, -4.0),
])
def test_a_number_lies_within_its_bounds(schema, expected):
    doc = document({"/n/{v}": {"get": {"parameters": [
        {"name": "v", "in": "path", "required": True, "schema": schema}], "responses": {}}}})
    profile, skipped = profile_from_openapi(doc, "doc.json")
    assert skipped == []
    assert profile["endpoints"][0]["path"] == f"/n/{expected}"


def test_a_number_no_value_satisfies_is_skipped():
    doc = document({"/n/{v}": {"get": {"parameters": [
        {"name": "v", "in": "path", "required": True,
         "schema": {"type": "integer", "minimum": 5, "maximum": 3}}], "responses": {}}},
        "/ok": {"get": {"responses": {}}}})
    profile, skipped = profile_from_openapi(doc, "doc.json")
    assert [e["path"] for e in profile["endpoints"]] == ["/ok"]
    assert "within its bounds" in skipped[0]


def test_the_printed_profile_keeps_the_chosen_endpoints_and_where_the_service_is(
        server, tmp_path):
    doc = document({"/health": {"get": {"responses": {}}},
                    "/orders": {"post": body_op({"sku": "a{b}"})}})
    spec = tmp_path / "doc.json"
    spec.write_text(json.dumps(doc))
    printed = run_tester("--openapi", str(spec), "--endpoints", "heavy", "--print-profile",
                         cwd=tmp_path)
    assert printed.returncode == 0, printed.stderr
    profile = json.loads(printed.stdout)
    assert [e["path"] for e in profile["endpoints"]] == ["/orders"]
    # Edited and run as a scenario file, it sends what the document gave.
    (tmp_path / "mine.json").write_text(printed.stdout)
    result = run_tester("--scenario", "mine.json", "--url", server.url, "--users", "1",
                        "--requests", "3", "--output", "r.json", "--quiet", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert server.bodies["/orders"] == [{"sku": "a{b}"}] * 3


def test_a_value_from_the_environment_is_never_read_as_a_template(server, tmp_path):
    scenario = {"variables": {"symbol": ["TCS"]}, "endpoints": [
        {"name": "quote", "method": "GET", "path": "/quote/{symbol}", "weight": 1,
         "headers": {"X-Item": "Bearer {env:TOK} {symbol} {{x}}"}}]}
    (tmp_path / "s.json").write_text(json.dumps(scenario))
    env = {**os.environ, "TOK": "s3cr{et}x{symbol}"}
    result = run_tester("--scenario", "s.json", "--url", server.url, "--users", "1",
                        "--requests", "5", "--output", "r.json", "--quiet", cwd=tmp_path,
                        env=env)
    assert result.returncode == 0, result.stderr
    assert {header for _path, header, _body in server.seen} == {
        "Bearer s3cr{et}x{symbol} TCS {x}"}


def test_the_runner_reads_an_absolute_path_that_is_a_file_as_that_file(tmp_path):
    from memory_analysis.runner.config import RunnerConfig

    spec = tmp_path / "doc.json"
    spec.write_text(json.dumps(document({"/ok": {"get": {"responses": {}}}})))
    as_file = RunnerConfig(openapi=str(spec))
    assert not as_file.openapi_on_service
    assert as_file.openapi_source("http://127.0.0.1:9") == str(spec)
    on_service = RunnerConfig(openapi="/openapi.json")
    assert on_service.openapi_on_service
    assert on_service.openapi_source("http://127.0.0.1:9/") == "http://127.0.0.1:9/openapi.json"

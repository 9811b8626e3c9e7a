"""Scenarios: which endpoints a load test calls, how often, with what data.

A scenario file (JSON or YAML) is an object::

    {"description": "...",                       # optional, free text
     "base_url": "http://localhost:8000",         # optional, --url wins when given
     "variables": {"symbol": ["TCS", "INFY"]},    # optional, name -> non-empty list
     "endpoints": [                               # required, non-empty
        {"path": "/stock/{symbol}/history",       # required, starts with "/"
         "method": "GET",                         # default GET
         "name": "history",                       # default the path; unique
         "weight": 1,                             # default 1, > 0
         "category": "light",                     # default "light"
         "headers": {"X-Key": "v"},               # optional, string -> string
         "body": {"symbol": "{symbol}"}}]}        # optional JSON body

``{name}`` placeholders in the path, header values and body strings take a value drawn
from ``variables`` for each request (one draw per name per request). A body string that
is exactly one placeholder is replaced by the value itself, so a list value stays a
list. ``{env:NAME}`` takes the value of the environment variable NAME when the request
is made, so that tokens stay out of scenario files: the scenario, its printout and the
reports keep the placeholder, never the value. Unknown keys are errors: a typo must not
silently change a test.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from memory_analysis.errors import BadInput

DEFAULT_PROFILE = "stock_analyzer.json"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
# A template's parts, read left to right in one pass: "{{" and "}}" are literal braces,
# "{env:NAME}" an environment variable, "{name}" a variable of the scenario. One pass, so
# that a value put in (a token, a variable's text) is never read as a template again.
TEMPLATE = re.compile(r"\{\{|\}\}|\{env:([A-Za-z_][A-Za-z0-9_]*)\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
TOP_KEYS = {"description", "base_url", "variables", "endpoints"}
ENDPOINT_KEYS = {"name", "method", "path", "weight", "category", "headers", "body"}


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    path: str
    weight: float
    category: str
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    has_body: bool = False
    #: variable names used anywhere in path, headers or body (sorted)
    uses: tuple[str, ...] = ()


@dataclass(frozen=True)
class Scenario:
    source: str
    endpoints: tuple[Endpoint, ...]
    variables: dict[str, list[Any]]
    base_url: str | None = None
    description: str | None = None

    def category_shares(self) -> dict[str, float]:
        """Each category's share of requests implied by the weights (sums to 1)."""
        total = sum(e.weight for e in self.endpoints)
        shares: dict[str, float] = {}
        for e in self.endpoints:
            shares[e.category] = shares.get(e.category, 0.0) + e.weight / total
        return shares

    def to_dict(self) -> dict[str, Any]:
        """The scenario as a file would hold it (workers get it this way)."""
        out: dict[str, Any] = {"variables": self.variables, "endpoints": []}
        if self.base_url:
            out["base_url"] = self.base_url
        if self.description:
            out["description"] = self.description
        for e in self.endpoints:
            item: dict[str, Any] = {"name": e.name, "method": e.method, "path": e.path,
                                    "weight": e.weight, "category": e.category}
            if e.headers:
                item["headers"] = e.headers
            if e.has_body:
                item["body"] = e.body
            out["endpoints"].append(item)
        return out


def _placeholders(value: Any, env: bool = False) -> set[str]:
    """Names of the ``{name}`` placeholders in ``value`` (``{env:NAME}`` with ``env``)."""
    if isinstance(value, str):
        group = 1 if env else 2
        return {m.group(group) for m in TEMPLATE.finditer(value) if m.group(group)}
    if isinstance(value, dict):
        found: set[str] = set()
        for k, v in value.items():
            found |= _placeholders(k, env) | _placeholders(v, env)
        return found
    if isinstance(value, list):
        found = set()
        for v in value:
            found |= _placeholders(v, env)
        return found
    return set()


def parse_scenario(data: Any, source: str) -> Scenario:
    """Validate a decoded scenario; BadInput naming ``source``, the key and the fault."""

    def bad(where: str, what: str) -> BadInput:
        return BadInput(f"{source}: {where}: {what}")

    if not isinstance(data, dict):
        raise BadInput(f"{source}: expected an object with an 'endpoints' list")
    unknown = sorted(set(data) - TOP_KEYS)
    if unknown:
        raise bad(unknown[0], "unknown key (allowed: " + ", ".join(sorted(TOP_KEYS)) + ")")
    description = data.get("description")
    if description is not None and not isinstance(description, str):
        raise bad("description", "must be a string")
    base_url = data.get("base_url")
    if base_url is not None and not isinstance(base_url, str):
        raise bad("base_url", "must be a string")

    variables = data.get("variables", {})
    if not isinstance(variables, dict):
        raise bad("variables", "must be an object mapping names to lists of values")
    for name, values in variables.items():
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise bad(f"variables.{name}", "a name must be letters, digits and _")
        if not isinstance(values, list) or not values:
            raise bad(f"variables.{name}", "must be a non-empty list of values")

    endpoints_raw = data.get("endpoints")
    if endpoints_raw is None:
        raise bad("endpoints", "missing (a list of endpoints is required)")
    if not isinstance(endpoints_raw, list) or not endpoints_raw:
        raise bad("endpoints", "must be a non-empty list")

    endpoints: list[Endpoint] = []
    names: set[str] = set()
    for i, raw in enumerate(endpoints_raw):
        where = f"endpoints[{i}]"
        if not isinstance(raw, dict):
            raise bad(where, "must be an object")
        unknown = sorted(set(raw) - ENDPOINT_KEYS)
        if unknown:
            raise bad(f"{where}.{unknown[0]}",
                      "unknown key (allowed: " + ", ".join(sorted(ENDPOINT_KEYS)) + ")")
        path = raw.get("path")
        if path is None:
            raise bad(f"{where}.path", "missing (required)")
        if not isinstance(path, str) or not path.startswith("/"):
            raise bad(f"{where}.path", f"must be a string starting with '/', got {path!r}")
        method = raw.get("method", "GET")
        if not isinstance(method, str) or method.upper() not in METHODS:
            raise bad(f"{where}.method", f"must be one of {', '.join(METHODS)}, got {method!r}")
        method = method.upper()
        name = raw.get("name", path)
        if not isinstance(name, str) or not name:
            raise bad(f"{where}.name", "must be a non-empty string")
        if name in names:
            raise bad(f"{where}.name", f"duplicate name {name!r} (names must be unique)")
        names.add(name)
        weight = raw.get("weight", 1)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not weight > 0 \
                or weight != weight or weight == float("inf"):
            raise bad(f"{where}.weight", f"must be a number > 0, got {weight!r}")
        category = raw.get("category", "light")
        if not isinstance(category, str) or not category:
            raise bad(f"{where}.category", "must be a non-empty string")
        headers = raw.get("headers", {})
        if not isinstance(headers, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
            raise bad(f"{where}.headers", "must be an object of string values")
        has_body = "body" in raw
        body = raw.get("body")
        if has_body:
            try:
                json.dumps(body)
            except (TypeError, ValueError):
                raise bad(f"{where}.body", "must be JSON (objects, lists, strings, numbers)") \
                    from None
        uses = _placeholders(path) | _placeholders(headers) | _placeholders(body)
        missing = sorted(uses - set(variables))
        if missing:
            raise bad(where, f"placeholder {{{missing[0]}}} has no entry in 'variables'")
        unset = sorted(name for name in (_placeholders(path, env=True)
                                         | _placeholders(headers, env=True)
                                         | _placeholders(body, env=True))
                       if name not in os.environ)
        if unset:
            raise bad(where, f"{{env:{unset[0]}}} needs the environment variable {unset[0]}, "
                             "which is not set")
        endpoints.append(Endpoint(name=name, method=method, path=path, weight=float(weight),
                                  category=category, headers=dict(headers), body=body,
                                  has_body=has_body, uses=tuple(sorted(uses))))
    return Scenario(source=source, endpoints=tuple(endpoints), variables=dict(variables),
                    base_url=base_url, description=description)


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file (``.json``, ``.yaml`` or ``.yml``)."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInput(f"{file}: no such scenario file") from None
    except IsADirectoryError:
        raise BadInput(f"{file}: is a directory, not a scenario file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"{file}: cannot read ({getattr(exc, 'strerror', None) or exc})") \
            from None
    if file.suffix.lower() in (".yaml", ".yml"):
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            raise BadInput(f"{file}: not valid YAML{where}") from None
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BadInput(f"{file}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    return parse_scenario(data, str(file))


def default_scenario() -> Scenario:
    """The shipped Stock Analyzer Pro profile."""
    ref = resources.files("memory_analysis.loadgen") / "profiles" / DEFAULT_PROFILE
    return parse_scenario(json.loads(ref.read_text(encoding="utf-8")),
                          f"default profile ({DEFAULT_PROFILE})")


def default_profile_path() -> Path:
    return Path(str(resources.files("memory_analysis.loadgen") / "profiles" / DEFAULT_PROFILE))


def render(value: Any, values: dict[str, Any]) -> Any:
    """``value`` with ``{name}`` placeholders replaced from ``values``, ``{env:NAME}``
    from the environment, and ``{{``/``}}`` by a brace. A string that is exactly
    ``{name}`` becomes the value itself (a list stays a list)."""
    if isinstance(value, str):
        match = PLACEHOLDER.fullmatch(value)
        if match:
            return values[match.group(1)]
        return render_text(value, values)
    if isinstance(value, dict):
        return {render_text(k, values): render(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, values) for v in value]
    return value


def render_text(value: str, values: dict[str, Any]) -> str:
    """Placeholders in a path or header: always text."""

    def part(match: re.Match[str]) -> str:
        env_name, name = match.groups()
        if env_name:
            return os.environ.get(env_name, "")
        if name:
            return str(values[name])
        return match.group(0)[0]  # "{{" or "}}"

    return TEMPLATE.sub(part, value)


def literal(text: str) -> str:
    """``text`` as a template that renders to exactly ``text`` (its braces doubled)."""
    return text.replace("{", "{{").replace("}", "}}")


def select_endpoints(scenario: Scenario, wanted: list[str]) -> Scenario:
    """The scenario with only the endpoints named in ``wanted`` (by name, or by category);
    their weights keep their proportions, so the shares renormalise among them.
    BadInput naming the known names and categories for anything unknown."""
    names = {e.name for e in scenario.endpoints}
    categories = {e.category for e in scenario.endpoints}
    unknown = [w for w in wanted if w not in names and w not in categories]
    if unknown or not wanted:
        raise BadInput(f"--endpoints: no endpoint or category {unknown[0] if unknown else ''!r}"
                       f" in {scenario.source}; endpoints: {', '.join(sorted(names))}; "
                       f"categories: {', '.join(sorted(categories))}")
    kept = tuple(e for e in scenario.endpoints if e.name in wanted or e.category in wanted)
    return Scenario(source=scenario.source, endpoints=kept, variables=scenario.variables,
                    base_url=scenario.base_url, description=scenario.description)


HEADER = re.compile(r"([!#$%&'*+.^_`|~0-9A-Za-z-]+):\s*(.*)")


def parse_headers(values: list[str] | tuple[str, ...]) -> dict[str, str]:
    """``--header "Name: value"`` options as a dict; BadInput for one that is not a header
    or names an environment variable that is not set."""
    headers: dict[str, str] = {}
    for text in values:
        match = HEADER.fullmatch(text.strip())
        if not match:
            raise BadInput(f"--header must be 'Name: value', got {text!r}")
        name, value = match.groups()
        unset = sorted(n for n in _placeholders(value, env=True) if n not in os.environ)
        if unset:
            raise BadInput(f"--header {name}: {{env:{unset[0]}}} needs the environment "
                           f"variable {unset[0]}, which is not set")
        headers[name] = value
    return headers


def header_names(values: list[str] | tuple[str, ...]) -> list[str]:
    """What a report may say of ``--header`` options: their names, never their values."""
    return [text.split(":", 1)[0].strip() for text in values]


def with_headers(scenario: Scenario, headers: dict[str, str]) -> Scenario:
    """Every endpoint also sends ``headers`` (they win over its own of the same name),
    checked as a scenario file's would be."""
    if not headers:
        return scenario
    wanted = {name.lower() for name in headers}
    data = scenario.to_dict()
    for item in data["endpoints"]:
        own = {k: v for k, v in (item.get("headers") or {}).items() if k.lower() not in wanted}
        item["headers"] = {**own, **headers}
    return parse_scenario(data, scenario.source)


def parse_endpoints(text: str | None) -> list[str] | None:
    """``--endpoints a,b,heavy`` as a list of names or categories."""
    if text is None:
        return None
    return [part.strip() for part in text.split(",") if part.strip()]

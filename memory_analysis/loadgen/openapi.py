"""A scenario from a service's OpenAPI document (FastAPI serves one at /openapi.json).

Every operation becomes an endpoint, its parameters and body filled with values the
document gives (an example, the first of several examples, the first enum value, the
default), or else a small value its schema allows (1 or the nearest number within its
bounds, "string", an object of its required properties...). An operation that cannot be
filled so (a string that must match a pattern, a body that is not JSON, a required
header or cookie, a description that breaks OpenAPI's rules) is listed and skipped,
never sent with a placeholder. Values from the document are sent as they are: a brace
in an example is text, not a placeholder. Paths get the path of the document's first
server (``/api/v1``); the load goes to the address the user gave, never to a host the
document names.

Categories follow one rule, which a user can change in the printed profile: an
operation without parameters or body is light (``GET /health``), one with parameters
medium (``GET /items/{id}``), one with a body, and every DELETE, heavy.
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import yaml

from memory_analysis.errors import BadInput
from memory_analysis.loadgen.scenario import Scenario, literal, parse_scenario

METHODS = ("get", "post", "put", "patch", "delete")
FETCH_TIMEOUT_S = 10.0
# Values for string formats whose smallest valid value is not "string".
FORMATS = {"uuid": "00000000-0000-4000-8000-000000000000", "date": "2026-01-01",
           "date-time": "2026-01-01T00:00:00Z", "email": "user@example.com",
           "uri": "http://example.com/", "url": "http://example.com/", "ipv4": "127.0.0.1",
           "hostname": "localhost", "time": "00:00:00"}
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Unfillable(Exception):
    """No valid value can be made for a schema."""


class Malformed(Unfillable):
    """The document describes an operation in a way OpenAPI does not allow."""


def is_url(source: str) -> bool:
    """The document is fetched from ``source`` rather than read from a file."""
    return urlsplit(source).scheme in ("http", "https")


def read_document(source: str) -> dict[str, Any]:
    """The OpenAPI document at a URL or in a file (JSON or YAML)."""
    if is_url(source):
        try:
            with _NO_PROXY.open(source, timeout=FETCH_TIMEOUT_S) as response:
                text = response.read().decode("utf-8", errors="replace")
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise BadInput(f"--openapi: cannot fetch {source}: {reason}") from None
    else:
        try:
            text = Path(source).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise BadInput(f"--openapi: no such file {source}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise BadInput(f"--openapi: cannot read {source} "
                           f"({getattr(exc, 'strerror', None) or exc})") from None
    try:
        data = json.loads(text)  # what frameworks serve, and far faster than YAML
    except ValueError:
        try:
            data = yaml.load(text, Loader=_TextDatesLoader)  # noqa: S506 (a safe loader)
        except yaml.YAMLError:
            raise BadInput(f"--openapi: {source} is neither JSON nor YAML") from None
    if not isinstance(data, dict) or not isinstance(data.get("paths"), dict):
        raise BadInput(f"--openapi: {source} is not an OpenAPI document (no 'paths')")
    return data


class _TextDatesLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """YAML's safe loader, but an unquoted 2024-05-01 stays the text an example means (a
    date object is not JSON)."""


_TextDatesLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers
            if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}


def _base_path(document: dict[str, Any]) -> str:
    """The path the document's first server puts before every path ("/api/v1" for
    ``servers: [{url: https://example.com/api/v1}]``). Only its path: the load goes to
    the address the user gave, never to a host the document names."""
    servers = document.get("servers")
    if isinstance(servers, list) and servers and isinstance(servers[0], dict):
        url = servers[0].get("url")
        if isinstance(url, str) and "{" not in url:
            return urlsplit(url).path.rstrip("/")
    return ""


def _literal(value: Any) -> Any:
    """A value from the document, made a template that sends exactly it: a brace in an
    example is text, never a placeholder (nor a way to read the environment)."""
    if isinstance(value, str):
        return literal(value)
    if isinstance(value, dict):
        return {literal(str(k)): _literal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_literal(v) for v in value]
    return value


class _Filler:
    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document

    def resolve(self, item: Any, depth: int = 0) -> Any:
        """``item`` with a local ``$ref`` followed (#/components/...)."""
        while isinstance(item, dict) and "$ref" in item:
            ref = item["$ref"]
            if not isinstance(ref, str) or not ref.startswith("#/") or depth > 20:
                raise Unfillable(f"reference {ref!r} cannot be followed")
            target: Any = self.document
            for part in ref[2:].split("/"):
                part = part.replace("~1", "/").replace("~0", "~")
                if not isinstance(target, dict) or part not in target:
                    raise Unfillable(f"reference {ref!r} points nowhere")
                target = target[part]
            item, depth = target, depth + 1
        return item

    def given(self, item: dict[str, Any]) -> tuple[bool, Any]:
        """(found, value) from what the document gives for a parameter, body or schema."""
        if "example" in item:
            return True, item["example"]
        examples = item.get("examples")
        if isinstance(examples, dict) and examples:
            first = self.resolve(next(iter(examples.values())))
            if isinstance(first, dict) and "value" in first:
                return True, first["value"]
        if isinstance(examples, list) and examples:
            return True, examples[0]
        return False, None

    def value(self, schema: Any, depth: int = 0) -> Any:
        """A valid value for ``schema``: one it gives, else the smallest it allows."""
        if depth > 12:
            raise Unfillable("the schema nests too deeply")
        schema = self.resolve(schema or {})
        if not isinstance(schema, dict):
            raise Unfillable("the schema is not an object")
        found, example = self.given(schema)
        if found:
            return example
        if "const" in schema:
            return schema["const"]
        if schema.get("enum"):
            return schema["enum"][0]
        if "default" in schema:
            return schema["default"]
        for key in ("oneOf", "anyOf"):
            if schema.get(key):
                for branch in schema[key]:
                    try:
                        return self.value(branch, depth + 1)
                    except Unfillable:
                        continue
                raise Unfillable(f"no branch of {key} can be filled")
        if schema.get("allOf"):
            merged: dict[str, Any] = {}
            for part in schema["allOf"]:
                part_value = self.value(part, depth + 1)
                if isinstance(part_value, dict):
                    merged.update(part_value)
                else:
                    return part_value
            return merged
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "null")
        if kind is None:
            kind = "object" if "properties" in schema else "string"
        return self._typed(kind, schema, depth)

    def _typed(self, kind: str, schema: dict[str, Any], depth: int) -> Any:
        if kind in ("integer", "number"):
            return self._number(kind, schema)
        if kind == "boolean":
            return True
        if kind == "null":
            return None
        if kind == "string":
            if schema.get("pattern"):
                raise Unfillable(f"a string must match the pattern {schema['pattern']!r}")
            if schema.get("format") in FORMATS:
                return FORMATS[schema["format"]]
            text = "string"
            length = int(schema.get("minLength", 0))
            if length > len(text):
                text = "s" * length
            if "maxLength" in schema:
                text = text[:max(int(schema["maxLength"]), length)]
            return text
        if kind == "array":
            count = int(schema.get("minItems", 0))
            return [self.value(schema.get("items", {}), depth + 1) for _ in range(count)]
        if kind == "object":
            properties = schema.get("properties") or {}
            return {name: self.value(properties.get(name, {}), depth + 1)
                    for name in schema.get("required", [])}
        raise Unfillable(f"a value of type {kind!r} cannot be made")


    @staticmethod
    def _number(kind: str, schema: dict[str, Any]) -> int | float:
        """1, or the smallest number the bounds and ``multipleOf`` allow."""
        low, exclusive = schema.get("minimum"), schema.get("exclusiveMinimum")
        high, exclusive_high = schema.get("maximum"), schema.get("exclusiveMaximum")
        step = schema.get("multipleOf")
        if isinstance(exclusive, bool):  # OpenAPI 3.0: a flag on minimum
            floor = None if low is None else low + (1 if exclusive else 0)
        else:  # 3.1: the bound itself
            floor = low if exclusive is None else exclusive + 1
        if isinstance(exclusive_high, bool):
            ceiling = None if high is None else high - (1 if exclusive_high else 0)
        else:
            ceiling = high if exclusive_high is None else exclusive_high - 1
        value = floor if floor is not None else min(1, ceiling) if ceiling is not None else 1
        if step:
            value = math.ceil(value / step) * step
        if ceiling is not None and value > ceiling:
            raise Unfillable(f"no {kind} lies within its bounds")
        return int(math.ceil(value)) if kind == "integer" else float(value)


def _parameters(filler: _Filler, path_item: dict[str, Any],
                operation: dict[str, Any]) -> list[dict[str, Any]]:
    """The operation's parameters, the path's own ones overridden by the operation's."""
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for raw in list(path_item.get("parameters") or []) + list(operation.get("parameters") or []):
        param = filler.resolve(raw)
        if not isinstance(param, dict) or not isinstance(param.get("name"), str):
            raise Malformed("a parameter is not an object with a name")
        merged[(param["name"], str(param.get("in")))] = param
    return list(merged.values())


def _query_pairs(query: dict[str, Any]) -> list[tuple[str, str]]:
    """Query parameters as OpenAPI's default style sends them (form, exploded): a list
    repeats its name (``ids=1&ids=2``), an object gives each property its own pair."""
    pairs: list[tuple[str, str]] = []

    def text(value: Any) -> str:
        return json.dumps(value) if isinstance(value, (bool, dict, list)) or value is None \
            else str(value)

    for name, value in query.items():
        if isinstance(value, list):
            pairs += [(name, text(item)) for item in value]
        elif isinstance(value, dict):
            pairs += [(str(key), text(item)) for key, item in value.items()]
        else:
            pairs.append((name, text(value)))
    return pairs


def _endpoint(filler: _Filler, path: str, method: str, path_item: dict[str, Any],
              operation: dict[str, Any], base_path: str = "",
              supplied_headers: frozenset[str] = frozenset()) -> dict[str, Any]:
    """One scenario endpoint; Unfillable when something required cannot be filled."""
    filled_path, query = path, {}  # type: tuple[str, dict[str, Any]]
    params = _parameters(filler, path_item, operation)
    for param in params:
        where, name = param.get("in"), param.get("name")
        if where == "header" and str(name).lower() in supplied_headers:
            continue  # the user's --header sends it
        required = where == "path" or bool(param.get("required"))
        found, value = filler.given(param)
        if not found:
            if not required:
                continue
            value = filler.value(param.get("schema"))
        if where == "path":
            text = json.dumps(value) if isinstance(value, bool) else str(value)
            filled_path = filled_path.replace("{" + str(name) + "}", quote(text, safe=""))
        elif where == "query":
            query[str(name)] = value
        elif required:
            hint = f" (give it with --header '{name}: ...')" if where == "header" else ""
            raise Unfillable(f"it needs a {where} parameter {name!r}{hint}")
    if "{" in filled_path:
        raise Unfillable("a path parameter is not described")
    operation_id = operation.get("operationId")
    entry: dict[str, Any] = {"name": operation_id if isinstance(operation_id, str) and
                             operation_id else f"{method.upper()} {path}",
                             "method": method.upper()}
    has_body = False
    body_spec = filler.resolve(operation.get("requestBody")) if operation.get("requestBody") \
        else None
    if body_spec:
        if not isinstance(body_spec, dict) or not isinstance(body_spec.get("content") or {},
                                                               dict):
            raise Malformed("its requestBody is not an object of content types")
        content = body_spec.get("content") or {}
        json_type = next((t for t in content if t.split(";")[0].strip().endswith("json")), None)
        if json_type is None:
            if body_spec.get("required"):
                kinds = ", ".join(content) or "no content type"
                raise Unfillable(f"it needs a body of {kinds}, not JSON")
        else:
            media = content[json_type] or {}
            if not isinstance(media, dict):
                raise Malformed(f"its {json_type} body is not described by an object")
            found, body = filler.given(media)
            entry["body"] = _literal(body if found else filler.value(media.get("schema")))
            has_body = True
    if query:
        filled_path += "?" + urlencode(_query_pairs(query))
    entry["path"] = base_path + filled_path
    if has_body or method == "delete":
        entry["category"] = "heavy"
    elif params:
        entry["category"] = "medium"
    else:
        entry["category"] = "light"
    return entry


def profile_from_openapi(document: dict[str, Any], source: str,
                         supplied_headers: frozenset[str] = frozenset()
                         ) -> tuple[dict[str, Any], list[str]]:
    """(a scenario file's content, the operations skipped, each with why). A header
    parameter named in ``supplied_headers`` is filled by the user's own --header."""
    filler = _Filler(document)
    endpoints, skipped = [], []
    names: set[str] = set()
    base_path = _base_path(document)
    for path, raw_item in (document.get("paths") or {}).items():
        try:
            path_item = filler.resolve(raw_item)
        except Unfillable as exc:
            skipped.append(f"{path}: {exc}")
            continue
        if not isinstance(path_item, dict) or not str(path).startswith("/"):
            skipped.append(f"{path}: skipped, not a path with operations")
            continue
        for method in METHODS:
            operation = path_item.get(method)
            if not isinstance(operation, dict):
                continue
            try:
                entry = _endpoint(filler, path, method, path_item, operation, base_path,
                                  supplied_headers)
            except Unfillable as exc:
                skipped.append(f"{method.upper()} {path}: skipped, {exc}")
                continue
            except (AttributeError, TypeError, KeyError, ValueError):
                # A document that breaks OpenAPI's own rules somewhere inside (a list where
                # an object belongs, ...): that operation cannot be trusted, the rest can.
                skipped.append(f"{method.upper()} {path}: skipped, its description is not "
                               "valid OpenAPI")
                continue
            if entry["name"] in names:
                entry["name"] = f"{method.upper()} {path}"
            names.add(entry["name"])
            endpoints.append(entry)
    if not endpoints:
        raise BadInput(f"--openapi: no operation of {source} could be filled"
                       + (f" ({skipped[0]})" if skipped else ""))
    info = document.get("info")
    title = (info.get("title") if isinstance(info, dict) else None) or source
    profile: dict[str, Any] = {"description": f"from the OpenAPI document of {title} "
                                              f"({source})", "endpoints": endpoints}
    if is_url(source):  # the service that serves the document is the one to load
        parts = urlsplit(source)
        profile["base_url"] = f"{parts.scheme}://{parts.netloc}"
    return profile, skipped


def scenario_from_openapi(source: str, supplied_headers: frozenset[str] = frozenset()
                          ) -> tuple[Scenario, dict[str, Any], list[str]]:
    """(the scenario, its file content, the operations skipped). ``supplied_headers``:
    names (lower case) of headers the user sends with every request."""
    profile, skipped = profile_from_openapi(read_document(source), source, supplied_headers)
    return parse_scenario(profile, f"--openapi {source}"), profile, skipped

"""A scenario from a service's OpenAPI document (FastAPI serves one at /openapi.json).

Every operation becomes an endpoint, its parameters and body filled with values the
document gives (an example, the first of several examples, the first enum value, the
default), or else the smallest value its schema allows (1 for an integer, "string" for a
string, an object of its required properties...). An operation that cannot be filled
so (a string that must match a pattern, a body that is not JSON, a required header or
cookie) is listed and skipped, never sent with a placeholder.

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
from memory_analysis.loadgen.scenario import Scenario, parse_scenario

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


def read_document(source: str) -> dict[str, Any]:
    """The OpenAPI document at a URL or in a file (JSON or YAML)."""
    if urlsplit(source).scheme in ("http", "https"):
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
        data = yaml.safe_load(text)  # JSON is YAML too
    except yaml.YAMLError:
        raise BadInput(f"--openapi: {source} is neither JSON nor YAML") from None
    if not isinstance(data, dict) or not isinstance(data.get("paths"), dict):
        raise BadInput(f"--openapi: {source} is not an OpenAPI document (no 'paths')")
    return data


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
            low, exclusive = schema.get("minimum"), schema.get("exclusiveMinimum")
            if isinstance(exclusive, bool):  # OpenAPI 3.0: a flag on minimum
                value = (low if low is not None else 1) + (1 if exclusive else 0)
            elif exclusive is not None:  # 3.1: the bound itself
                value = exclusive + 1
            else:
                value = low if low is not None else 1
            return int(math.ceil(value)) if kind == "integer" else float(value)
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


def _parameters(filler: _Filler, path_item: dict[str, Any],
                operation: dict[str, Any]) -> list[dict[str, Any]]:
    """The operation's parameters, the path's own ones overridden by the operation's."""
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for raw in list(path_item.get("parameters") or []) + list(operation.get("parameters") or []):
        param = filler.resolve(raw)
        merged[(param.get("name"), param.get("in"))] = param
    return list(merged.values())


def _endpoint(filler: _Filler, path: str, method: str, path_item: dict[str, Any],
              operation: dict[str, Any]) -> dict[str, Any]:
    """One scenario endpoint; Unfillable when something required cannot be filled."""
    filled_path, query = path, {}  # type: tuple[str, dict[str, Any]]
    params = _parameters(filler, path_item, operation)
    for param in params:
        where, name = param.get("in"), param.get("name")
        required = where == "path" or bool(param.get("required"))
        found, value = filler.given(param)
        if not found:
            if not required:
                continue
            value = filler.value(param.get("schema"))
        if where == "path":
            filled_path = filled_path.replace("{" + str(name) + "}", quote(str(value), safe=""))
        elif where == "query":
            query[str(name)] = value
        elif required:
            raise Unfillable(f"it needs a {where} parameter {name!r}")
    if "{" in filled_path:
        raise Unfillable("a path parameter is not described")
    entry: dict[str, Any] = {"name": operation.get("operationId") or f"{method.upper()} {path}",
                             "method": method.upper()}
    has_body = False
    body_spec = filler.resolve(operation.get("requestBody")) if operation.get("requestBody") \
        else None
    if body_spec:
        content = body_spec.get("content") or {}
        json_type = next((t for t in content if t.split(";")[0].strip().endswith("json")), None)
        if json_type is None:
            if body_spec.get("required"):
                kinds = ", ".join(content) or "no content type"
                raise Unfillable(f"it needs a body of {kinds}, not JSON")
        else:
            media = content[json_type] or {}
            found, body = filler.given(media)
            entry["body"] = body if found else filler.value(media.get("schema"))
            has_body = True
    if query:
        filled_path += "?" + urlencode({k: (json.dumps(v) if isinstance(v, (dict, list))
                                            else str(v).lower() if isinstance(v, bool)
                                            else v) for k, v in query.items()})
    entry["path"] = filled_path
    if has_body or method == "delete":
        entry["category"] = "heavy"
    elif params:
        entry["category"] = "medium"
    else:
        entry["category"] = "light"
    return entry


def profile_from_openapi(document: dict[str, Any], source: str
                         ) -> tuple[dict[str, Any], list[str]]:
    """(a scenario file's content, the operations skipped, each with why)."""
    filler = _Filler(document)
    endpoints, skipped = [], []
    names: set[str] = set()
    for path, raw_item in (document.get("paths") or {}).items():
        try:
            path_item = filler.resolve(raw_item)
        except Unfillable as exc:
            skipped.append(f"{path}: {exc}")
            continue
        for method in METHODS:
            operation = path_item.get(method)
            if not isinstance(operation, dict):
                continue
            try:
                entry = _endpoint(filler, path, method, path_item, operation)
            except Unfillable as exc:
                skipped.append(f"{method.upper()} {path}: skipped, {exc}")
                continue
            if entry["name"] in names:
                entry["name"] = f"{method.upper()} {path}"
            names.add(entry["name"])
            endpoints.append(entry)
    if not endpoints:
        raise BadInput(f"--openapi: no operation of {source} could be filled"
                       + (f" ({skipped[0]})" if skipped else ""))
    title = (document.get("info") or {}).get("title") or source
    profile = {"description": f"from the OpenAPI document of {title} ({source})",
               "endpoints": endpoints}
    return profile, skipped


def scenario_from_openapi(source: str) -> tuple[Scenario, dict[str, Any], list[str]]:
    """(the scenario, its file content for --print-profile, the operations skipped)."""
    profile, skipped = profile_from_openapi(read_document(source), source)
    return parse_scenario(profile, f"--openapi {source}"), profile, skipped

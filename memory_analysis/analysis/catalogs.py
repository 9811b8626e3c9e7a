"""Plan catalogs: dated JSON files of plans and their memory, bundled or the user's.

A catalog file holds one catalog, or ``{"catalogs": [...]}`` with several:

    {"id": "render", "name": "Render web services", "as_of": "2026-11-25",
     "source": "https://...", "note": "...", "kind": "container",
     "plans": [{"name": "standard", "memory_mb": 2048, "vcpu": 1, "monthly_usd": 25,
                "production": true, "note": "..."}]}

Required: ``id`` (lower-case letters, digits, ``-`` or ``_``), ``name``, ``as_of``
(YYYY-MM-DD: when the figures were taken; plans change), ``plans`` (at least one, each
with a unique ``name`` and ``memory_mb`` > 0). Optional: ``source``, ``note``, ``kind``
("container": a PaaS instance or container whose memory is all the service's, the
default; "vm": a virtual machine, whose operating system takes part of it), for a VM
catalog ``os_memory_mb`` (MB >= 0 the operating system takes on each plan; default
``plans.os_memory_mb``'s rule), and per plan ``vcpu``, ``monthly_usd`` (the monthly
on-demand price in US dollars, >= 0; a plan without one is never the cheapest), ``note``
and ``production`` (false: never recommended, e.g. a free tier for development). Unknown
keys are errors, so a typo never silently drops a figure.

This module reads files; choosing a plan (``plans.py``) is pure.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from memory_analysis.errors import BadInput

BUNDLED_DIR = Path(__file__).resolve().parent / "catalogs"
CATALOG_KEYS = {"id", "name", "as_of", "source", "note", "kind", "os_memory_mb", "plans"}
REQUIRED_CATALOG_KEYS = {"id", "name", "as_of", "plans"}
PLAN_KEYS = {"name", "memory_mb", "vcpu", "monthly_usd", "note", "production"}
# What a catalog's plans are: a container (or PaaS instance) gives the service all its
# memory; a virtual machine's operating system keeps part of it. The first is the default.
KINDS = ("container", "vm")
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
# The order the report lists the bundled catalogs in; others follow by name.
BUNDLED_ORDER = ("render", "aws", "gcp", "azure", "generic")


def _number(value: Any) -> bool:
    """A finite JSON number (not a boolean; Python's json reads NaN and Infinity too)."""
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def validate_catalog(data: Any, where: str) -> dict[str, Any]:
    """``data`` checked as one catalog; BadInput naming ``where`` and what is wrong.

    Returns the catalog with ``plans`` sorted by memory (smallest first) and
    ``production`` filled in (default true).
    """
    if not isinstance(data, dict):
        raise BadInput(f"{where}: a catalog must be a JSON object")
    unknown = sorted(set(data) - CATALOG_KEYS)
    if unknown:
        allowed = ", ".join(sorted(CATALOG_KEYS))
        raise BadInput(f"{where}: unknown key {unknown[0]!r} (allowed: {allowed})")
    missing = sorted(REQUIRED_CATALOG_KEYS - set(data))
    if missing:
        raise BadInput(f"{where}: missing key {missing[0]!r}")
    if not isinstance(data["id"], str) or not ID_PATTERN.match(data["id"]):
        raise BadInput(f"{where}: 'id' must be lower-case letters, digits, '-' or '_' "
                       f"(got {data['id']!r})")
    where = f"{where} (catalog {data['id']!r})"
    for key in ("name", "source", "note"):
        if key in data and (not isinstance(data[key], str) or not data[key].strip()):
            raise BadInput(f"{where}: {key!r} must be a non-empty string")
    kind = data.get("kind", KINDS[0])
    if kind not in KINDS:
        raise BadInput(f"{where}: 'kind' must be one of {', '.join(KINDS)} (got {kind!r})")
    if "os_memory_mb" in data:
        if kind != "vm":
            raise BadInput(f"{where}: 'os_memory_mb' is for a catalog of kind 'vm' only "
                           "(a container's memory is all the service's)")
        if not _number(data["os_memory_mb"]) or data["os_memory_mb"] < 0:
            raise BadInput(f"{where}: 'os_memory_mb' must be a number >= 0 "
                           f"(got {data['os_memory_mb']!r})")
    try:
        dt.date.fromisoformat(str(data["as_of"]))
    except ValueError:
        raise BadInput(f"{where}: 'as_of' must be a date YYYY-MM-DD "
                       f"(got {data['as_of']!r})") from None
    plans = data["plans"]
    if not isinstance(plans, list) or not plans:
        raise BadInput(f"{where}: 'plans' must be a non-empty list")
    checked: list[dict[str, Any]] = []
    names: set[str] = set()
    for index, plan in enumerate(plans):
        checked.append(_validate_plan(plan, f"{where}: plans[{index}]", names))
    checked.sort(key=lambda p: p["memory_mb"])
    return {**data, "kind": kind, "plans": checked}


def _validate_plan(plan: Any, where: str, names: set[str]) -> dict[str, Any]:
    if not isinstance(plan, dict):
        raise BadInput(f"{where}: a plan must be an object")
    unknown = sorted(set(plan) - PLAN_KEYS)
    if unknown:
        allowed = ", ".join(sorted(PLAN_KEYS))
        raise BadInput(f"{where}: unknown key {unknown[0]!r} (allowed: {allowed})")
    name = plan.get("name")
    if not isinstance(name, str) or not name.strip():
        raise BadInput(f"{where}: 'name' must be a non-empty string")
    if name in names:
        raise BadInput(f"{where}: plan name {name!r} appears twice")
    names.add(name)
    memory = plan.get("memory_mb")
    if not _number(memory) or memory <= 0:  # type: ignore[operator]
        raise BadInput(f"{where} ({name!r}): 'memory_mb' must be a number > 0 (got {memory!r})")
    if "vcpu" in plan and (not _number(plan["vcpu"]) or plan["vcpu"] <= 0):
        raise BadInput(f"{where} ({name!r}): 'vcpu' must be a number > 0")
    if "monthly_usd" in plan and (not _number(plan["monthly_usd"]) or plan["monthly_usd"] < 0):
        raise BadInput(f"{where} ({name!r}): 'monthly_usd' must be a number >= 0 (US dollars "
                       f"a month; got {plan['monthly_usd']!r})")
    if "production" in plan and not isinstance(plan["production"], bool):
        raise BadInput(f"{where} ({name!r}): 'production' must be true or false")
    if "note" in plan and not isinstance(plan["note"], str):
        raise BadInput(f"{where} ({name!r}): 'note' must be a string")
    return {**plan, "production": plan.get("production", True)}


def load_catalog_file(path: str | Path) -> list[dict[str, Any]]:
    """The catalogs in one file (one object, or ``{"catalogs": [...]}``), validated."""
    where = f"catalog {path}"
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        raise BadInput(f"{where}: no such file") from None
    except IsADirectoryError:
        raise BadInput(f"{where}: is a directory, not a file") from None
    except json.JSONDecodeError as exc:
        raise BadInput(f"{where}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except UnicodeDecodeError:
        raise BadInput(f"{where}: not a UTF-8 text file") from None
    except OSError as exc:
        raise BadInput(f"{where}: {exc.strerror or exc}") from None
    if isinstance(data, dict) and set(data) == {"catalogs"}:
        if not isinstance(data["catalogs"], list) or not data["catalogs"]:
            raise BadInput(f"{where}: 'catalogs' must be a non-empty list")
        return [validate_catalog(item, f"{where}: catalogs[{i}]")
                for i, item in enumerate(data["catalogs"])]
    return [validate_catalog(data, where)]


def load_catalogs(paths: Sequence[str | Path] | None = None) -> list[dict[str, Any]]:
    """The user's catalogs when ``paths`` are given (they replace the bundled ones), else
    the bundled catalogs. A catalog id given twice is an error."""
    files = list(paths) if paths else sorted(
        BUNDLED_DIR.glob("*.json"),
        key=lambda f: (BUNDLED_ORDER.index(f.stem) if f.stem in BUNDLED_ORDER else 99, f.stem))
    catalogs: list[dict[str, Any]] = []
    seen: dict[str, str] = {}
    for path in files:
        for catalog in load_catalog_file(path):
            if catalog["id"] in seen:
                raise BadInput(f"catalog {path}: id {catalog['id']!r} is already defined in "
                               f"{seen[catalog['id']]}")
            seen[catalog["id"]] = str(path)
            catalogs.append(catalog)
    return catalogs

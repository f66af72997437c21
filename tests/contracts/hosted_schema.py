"""The hosted API's OpenAPI document (the vendored copy) and JSON Schema validators of its shapes."""
from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

import jsonschema

VENDORED = Path(__file__).with_name("hosted-openapi.json")
SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "hosted-api" / "openapi.json"
PREFIX = "/api/v2"

#: the hosted README's error envelope (every error of the API, "Error Format")
ENVELOPE = {
    "type": "object", "required": ["error", "request_id"],
    "properties": {"error": {"type": "object", "required": ["code", "message"],
                             "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                                            "details": {"type": ["object", "null"]}}},
                   "request_id": {"type": "string"}},
}
#: statuses the hosted README lists for every route ("HTTP Status Codes")
GLOBAL_STATUSES = {400, 401, 402, 403, 404, 409, 422, 429, 500, 502, 503}


@functools.lru_cache(maxsize=1)
def spec() -> dict[str, Any]:
    return json.loads(VENDORED.read_text(encoding="utf-8"))


def validator(schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    """A 2020-12 validator (OpenAPI 3.1's dialect) of ``schema``, resolving ``#/components/...``."""
    root = {**schema, "components": spec()["components"]}
    return jsonschema.Draft202012Validator(root, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def component(name: str) -> jsonschema.Draft202012Validator:
    return validator({"$ref": f"#/components/schemas/{name}"})


def problems(v: jsonschema.Draft202012Validator, body: Any) -> list[str]:
    """Every way ``body`` breaks the schema, each naming its field (``$.results[3].item_id: ...``)."""
    return sorted(f"{e.json_path}: {e.message}" for e in v.iter_errors(body))


def operation(path: str, method: str) -> dict[str, Any]:
    """The hosted operation of a concrete request path (``/api/v2/batch/<uuid>``), or KeyError."""
    for template, operations in spec()["paths"].items():
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, path) and method.lower() in operations:
            return operations[method.lower()]
    raise KeyError(f"the hosted API has no {method.upper()} {path}")


def response_schema(op: dict[str, Any], status: int) -> dict[str, Any] | None:
    """The JSON schema the hosted operation gives ``status`` (None: documented without a JSON body)."""
    response = op["responses"].get(str(status))
    if response is None:
        return None
    return (response.get("content") or {}).get("application/json", {}).get("schema")


def check_response(method: str, path: str, status: int, body: Any, content_type: str) -> list[str]:
    """What is wrong with one answer of ours on a route the hosted API also has (empty: nothing)."""
    op = operation(path, method)
    where = f"{method.upper()} {path} {status}"
    documented = {int(s) for s in op["responses"] if s.isdigit()}
    if status not in documented and status not in GLOBAL_STATUSES:
        return [f"{where}: status not in the hosted document ({sorted(documented)})"]
    schema = response_schema(op, status)
    if status >= 400 and not schema:  # no shape of its own: the README's envelope
        schema = ENVELOPE
    if schema and content_type.startswith("application/json"):
        return [f"{where} {p}" for p in problems(validator(schema), body)]
    return [f"{where}: a JSON body was documented, {content_type!r} sent"] if schema and status >= 400 else []

"""TGI's OpenAPI description as JSON Schema validators, for the replay server.

OpenAPI 3.0 is read as JSON Schema 2020-12: `nullable` becomes "or null", and
`exclusiveMinimum` keeps its numeric meaning, which is what TGI's validation enforces
(e.g. a temperature must be above 0). Requests are checked more strictly than the
description says in one way: a field TGI does not know is an error, because TGI would
silently ignore a misspelt parameter. Replies are checked more leniently in one way: an
optional field may be null, as TGI really sends it (`"top_tokens": null` in the recorded
snapshots), though the description does not say so.
"""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator

STRICT = {"GenerateRequest", "GenerateParameters", "ChatRequest", "StreamOptions"}


class Contract:
    """TGI's OpenAPI schemas as JSON Schema validators (`replies`: optional may be null)."""

    def __init__(self, openapi: dict[str, Any], *, replies: bool = False) -> None:
        schemas = {
            name: _convert(_optional_nullable(s) if replies else s, name in STRICT and not replies)
            for name, s in openapi["components"]["schemas"].items()
        }
        self.root = {"components": {"schemas": schemas}}

    def problems(self, schema: str, value: Any) -> list[str]:
        """What is wrong with `value` as a `schema` (empty if nothing)."""
        validator = Draft202012Validator({**self.root, "$ref": f"#/components/schemas/{schema}"})
        return [f"{schema}: {e.json_path}: {e.message}" for e in validator.iter_errors(value)]


def _convert(node: Any, strict: bool = False) -> Any:
    """OpenAPI 3.0 schema -> JSON Schema 2020-12 (`nullable`), optionally closed to extras."""
    if isinstance(node, list):
        return [_convert(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _convert(v) for k, v in node.items() if k not in ("nullable", "discriminator")}
    if strict and out.get("type") == "object":
        out["additionalProperties"] = False
    if node.get("nullable"):
        if "type" in out and not {"allOf", "oneOf", "$ref"} & out.keys():
            out["type"] = [out["type"], "null"]
        else:
            out = {"anyOf": [{"type": "null"}, out]}
    return out


def _optional_nullable(node: Any) -> Any:
    """Mark every property that is not required as nullable (how TGI serialises `None`)."""
    if isinstance(node, list):
        return [_optional_nullable(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _optional_nullable(v) for k, v in node.items()}
    required = set(node.get("required", []))
    for name, prop in (out.get("properties") or {}).items():
        if name not in required and isinstance(prop, dict):
            out["properties"][name] = {**prop, "nullable": True}
    return out

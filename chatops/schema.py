"""The config file's JSON Schema, generated from the pydantic model, and its copy in the chart.

`chatops config-schema` prints it; `chatops config-schema --chart helm/chatops/values.schema.json`
(what `scripts/sync-schema` runs) embeds it under `properties.config`, so `helm install`
rejects a typo'd config key before a pod crash-loops on it. The schema is what the model
validates, with one widening: a field whose pydantic validator runs before the type check
accepts more than its type says (durations such as `4h` for a float of seconds), and its
schema says so. Rules a schema cannot express (cross-field checks) stay with
`chatops check-config`.
"""

from __future__ import annotations

import json
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from chatops.config import DURATION, AppConfig

CONFIG_DESCRIPTION = (
    "The service config file, generated from its pydantic model by `chatops config-schema`; "
    "`chatops check-config` is the full check."
)
DEFS = "$defs"


def config_json_schema() -> dict[str, Any]:
    """The JSON Schema of the YAML config file (AppConfig), `$defs` at its root."""
    schema = AppConfig.model_json_schema()
    for model in _models(AppConfig):
        node = schema if model is AppConfig else schema.get(DEFS, {}).get(model.__name__)
        if node is not None:
            _widen_pre_validated(model, node)
    return schema


def embed_in_chart_schema(chart: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """`chart` (a values.schema.json) with `config` as `properties.config`.

    The config schema's `$defs` become the chart schema's root `$defs` (its `$ref`s point
    at `#/$defs/...`), which this function owns; the chart's own shared definitions live
    under `definitions`.
    """
    body = {key: value for key, value in config.items() if key != DEFS}
    body["description"] = CONFIG_DESCRIPTION
    result = {key: value for key, value in chart.items() if key != DEFS}
    result["properties"] = {**chart["properties"], "config": body}
    if config.get(DEFS):
        result[DEFS] = config[DEFS]
    return result


def write_chart_schema(path: Path) -> bool:
    """Embed the current config schema into the chart schema at `path`; True if it changed."""
    before = path.read_text(encoding="utf-8")
    updated = embed_in_chart_schema(json.loads(before), config_json_schema())
    after = json.dumps(updated, indent=2) + "\n"
    if after != before:
        path.write_text(after, encoding="utf-8")
    return after != before


def _models(root: type[BaseModel]) -> list[type[BaseModel]]:
    """`root` and every model reachable through its fields' annotations."""
    found: list[type[BaseModel]] = []
    pending: list[object] = [root]
    while pending:
        item = pending.pop()
        if isinstance(item, type) and issubclass(item, BaseModel):
            if item in found:
                continue
            found.append(item)
            pending.extend(field.annotation for field in item.model_fields.values())
        elif isinstance(item, types.UnionType) or typing.get_origin(item) is not None:
            pending.extend(typing.get_args(item))
    return found


def _widen_pre_validated(model: type[BaseModel], node: dict[str, Any]) -> None:
    """Let the schema accept what a field's before-validator accepts."""
    properties: dict[str, Any] = node.get("properties", {})
    validators = model.__pydantic_decorators__.field_validators.values()
    for validator in validators:
        if validator.info.mode != "before":
            continue
        code = getattr(validator.func, "__func__", validator.func).__code__
        for name in validator.info.fields:
            if name not in properties:
                continue
            keep = {k: v for k, v in properties[name].items() if k in ("title", "default")}
            if "parse_duration" in code.co_names:
                seconds = {"type": "number"}
                text = {"type": "string", "pattern": DURATION.pattern}
                properties[name] = {**keep, "anyOf": [seconds, text]}
            else:  # unknown widening: leave the value to check-config
                properties[name] = keep

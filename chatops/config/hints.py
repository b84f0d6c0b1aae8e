"""Friendlier config errors: a did-you-mean for unknown keys, YAML errors with their line.

Kept apart from the models (`chatops.config.loading` calls these) so the hints follow the models by
introspection: a field added to a model is suggested without touching this module.
"""

from __future__ import annotations

import difflib
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import BaseModel


def did_you_mean(model: type[BaseModel], loc: Sequence[str | int]) -> str | None:
    """The known key closest to the unknown one at `loc` (the last part), if any is close."""
    if not loc:
        return None
    known = _keys_at(model, loc[:-1])
    matches = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6)
    return matches[0] if matches else None


def yaml_problem(path: Path, error: Exception) -> str:
    """`chatops.yaml:3:7: not valid YAML: mapping values are not allowed here`."""
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
    if isinstance(error, yaml.MarkedYAMLError) and error.problem:
        context = f" ({error.context})" if error.context else ""
        return f"{where}: not valid YAML: {error.problem}{context}"
    return f"{where}: not valid YAML ({error})"


def _keys_at(model: type[BaseModel], path: Sequence[str | int]) -> list[str]:
    current: Any = model
    for part in path:
        current = _step(current, part)
        if current is None:
            return []
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _step(annotation: Any, part: str | int) -> Any:
    """The type found one step down `annotation` at `part` (a field, a dict key, a tag)."""
    tp = _unwrap(annotation)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        field = tp.model_fields.get(str(part))
        return field.annotation if field is not None else None
    origin = get_origin(tp)
    if origin is dict:
        return get_args(tp)[1]
    if origin is list:
        return get_args(tp)[0]
    if origin in (Union, types.UnionType):  # a discriminated union: `part` is the tag
        for member in get_args(tp):
            if _tag_of(member) == part:
                return member
    return None


def _tag_of(member: Any) -> str | None:
    if not (isinstance(member, type) and issubclass(member, BaseModel)):
        return None
    for field in member.model_fields.values():
        if get_origin(field.annotation) is Literal and len(get_args(field.annotation)) == 1:
            return str(get_args(field.annotation)[0])
    return None


def _unwrap(annotation: Any) -> Any:
    """Strip Annotated[...] and Optional[...] down to the type that holds the keys."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            members = [m for m in get_args(annotation) if m is not type(None)]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        else:
            return annotation

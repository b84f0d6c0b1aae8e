"""How the bot keeps its records in the store: pydantic's TypeAdapter over frozen dataclasses.

The gateway does the same (`gateway.incidents`, `gateway.promotions`). The bot's stored JSON
predates this codec and carries a `"format"` number, so `Stored` adds it on writing and checks
it on reading; the other annotations here keep the exact old layout (`isoformat()` times, plain
objects for read-only mappings), so records written before and after the change read alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from annotated_types import GroupedMetadata
from pydantic import BeforeValidator, PlainSerializer, WrapSerializer

# A datetime as `datetime.isoformat()` writes it ("+00:00", as stored before; pydantic's own
# is "Z").
Time = Annotated[datetime, PlainSerializer(datetime.isoformat, return_type=str)]
# A (read-only) mapping of strings, stored as a plain object.
Strings = Annotated[Mapping[str, str], PlainSerializer(dict, return_type=dict[str, str])]


def _checked(version: int) -> Callable[[Any], Any]:
    def check(raw: Any) -> Any:
        if isinstance(raw, Mapping):
            if raw.get("format") != version:
                raise ValueError(f"format: expected {version}, got {raw.get('format')!r}")
            return {k: v for k, v in raw.items() if k != "format"}
        return raw

    return check


def _marked(version: int) -> Callable[[Any, Any], Any]:
    def mark(value: Any, handler: Any) -> Any:
        return {"format": version, **handler(value)}

    return mark


@dataclass(frozen=True)
class Stored(GroupedMetadata):
    """`Annotated[T, Stored(n)]`: T stored as an object with `"format": n` first."""

    version: int

    def __iter__(self) -> Iterator[object]:
        yield BeforeValidator(_checked(self.version))
        yield WrapSerializer(_marked(self.version))

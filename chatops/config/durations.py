"""Durations in the config file: `30s`, `5m`, `4h`, `1d`, `250ms`, or a number of seconds."""

from __future__ import annotations

import math
import re
from typing import Final

DURATION: Final = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_UNIT_SECONDS: Final = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: object) -> float:
    """'4h' -> 14400.0; plain numbers are seconds.

    Anything else (a list, a YAML date, a bool, NaN, a number too big for a float) raises
    ValueError, so pydantic reports it by path instead of the config load crashing.
    """
    if isinstance(value, str):
        match = DURATION.match(value)
        if not match:
            raise ValueError(f"not a duration: {value[:40]!r} (use e.g. 30s, 5m, 4h, 1d)")
        number, unit = match.group(1), _UNIT_SECONDS[match.group(2)]
    elif isinstance(value, int | float) and not isinstance(value, bool):
        number, unit = value, 1
    else:
        raise ValueError(f"not a duration: {str(value)[:40]!r} (use e.g. 30s, 5m, 4h, 1d)")
    try:
        seconds = float(number) * unit
    except OverflowError as e:
        raise ValueError("duration too large") from e
    if not math.isfinite(seconds):
        raise ValueError("duration must be a finite number of seconds")
    return seconds

"""structlog configured once: JSON lines in production, readable console on a TTY.

Secrets never reach the output: a processor replaces any configured secret value, and any
key that looks like a credential, with "***".
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any, Literal

import structlog

_SECRET_KEYS = frozenset({"token", "secret", "password", "authorization", "signing_secret"})
_STRUCTLOG_META = frozenset({"_record", "_from_structlog"})  # stdlib bridge, not output


class _Redactor:
    def __init__(self, secrets: Iterable[str]) -> None:
        self._secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def __call__(
        self, logger: Any, method: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        for key, value in list(event.items()):
            if key.lower() in _SECRET_KEYS:
                event[key] = "***"
            elif key not in _STRUCTLOG_META:
                event[key] = self._clean(value)
        return event

    def _clean(self, value: Any) -> Any:
        """Scrub strings anywhere in nested values; other objects as the renderer shows them."""
        if isinstance(value, str):
            return self._scrub(value)
        if isinstance(value, dict):
            return {
                k: "***" if str(k).lower() in _SECRET_KEYS else self._clean(v)
                for k, v in value.items()
            }
        if isinstance(value, list | tuple | set | frozenset):
            return [self._clean(v) for v in value]
        if value is None or isinstance(value, bool | int | float):
            return value
        text = str(value)  # an exception, a URL object...: blank it if it carries a secret
        scrubbed = self._scrub(text)
        return value if scrubbed == text else scrubbed

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, "***")
        return text


def configure_logging(
    *, fmt: Literal["json", "console"] | None = None, secrets: Iterable[str] = ()
) -> None:
    """Set up structlog and stdlib logging for the whole process (call once, in main)."""
    if fmt is None:
        fmt = "console" if sys.stderr.isatty() else "json"
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    # Tracebacks are formatted before the redactor runs, so it scrubs them too (stdlib records
    # bring `exc_info` as well: aiohttp logs a malformed request's raw header line in one).
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        _Redactor(secrets),
    ]
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)

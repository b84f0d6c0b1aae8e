"""The pieces of a command's text, each checked: tokens, `KEY=VALUE` variables, names, refs.

Every check raises `UsageError` with the command's usage text; nothing else escapes.
"""

from __future__ import annotations

import re
import shlex
import unicodedata

from bot.ci.provider import RESERVED_VARIABLES
from bot.errors import UsageError
from slackio.blocks import clip, escape

MAX_TEXT = 2000
MAX_VARIABLES = 20
MAX_VALUE = 256
MAX_KEY = 128

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")
_KEY = re.compile(r"[A-Z_][A-Z0-9_]*")
_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/+-]{0,254}")
_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+:@/-]{0,127}")
_HIDDEN = frozenset({"Cc", "Cf", "Cs"})
HELP_WORDS = frozenset({"help", "-h", "--help"})
_SMART_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"'})


def show(value: str, limit: int = 40) -> str:
    """User text made safe to echo in mrkdwn: shortened, and Slack's control characters escaped."""
    return escape(clip(value, limit))


def split_words(text: str, usage: str) -> list[str]:
    """Split like a shell: whitespace-tolerant, quotes group words, Slack's escaping undone."""
    if len(text) > MAX_TEXT:
        raise UsageError(
            f"the command text is too long ({len(text)} characters; at most {MAX_TEXT})", usage
        )
    # Slack sends &, < and > escaped; clients may turn straight quotes into curly ones.
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    text = text.translate(_SMART_QUOTES)
    text = "".join(" " if ch.isspace() else ch for ch in text)
    try:
        return shlex.split(text)
    except ValueError as e:
        raise UsageError(f"could not read the command text: {e} (check your quotes)", usage) from e


def split_variables(
    tokens: list[str], usage: str, *, allow_ref: bool = False
) -> tuple[list[str], dict[str, str], str | None]:
    """Separate positional words from `KEY=VALUE` variables (and `ref=`, where allowed)."""
    positional: list[str] = []
    variables: dict[str, str] = {}
    ref: str | None = None
    for token in tokens:
        key, sep, value = token.partition("=")
        if not sep:
            positional.append(token)
        elif key == "ref" and allow_ref:
            if ref is not None:
                raise UsageError("ref= is given twice", usage)
            ref = valid_ref(value, usage)
        else:
            _check_key(key, usage)
            if key in variables:
                raise UsageError(f"variable {show(key)} is given twice", usage)
            variables[key] = _value(key, value, usage)
    if len(variables) > MAX_VARIABLES:
        raise UsageError(f"too many variables ({len(variables)}; at most {MAX_VARIABLES})", usage)
    return positional, variables, ref


def _check_key(key: str, usage: str) -> None:
    if key == "ref":
        raise UsageError("ref= is only for /retrain", usage)
    if not key:
        raise UsageError("a variable needs a name before `=` (KEY=VALUE)", usage)
    if len(key) > MAX_KEY:
        raise UsageError(f"variable name {show(key)} is too long (at most {MAX_KEY})", usage)
    if not _KEY.fullmatch(key):
        if _KEY.fullmatch(key.upper()):
            raise UsageError(
                f"variable names are upper-case: write {show(key.upper())}=... "
                f"instead of {show(key)}=...",
                usage,
            )
        raise UsageError(
            f"{show(key)} is not a valid variable name (A-Z, 0-9 and _, not starting with a digit)",
            usage,
        )
    if key in RESERVED_VARIABLES:
        raise UsageError(f"variable {key} is set by the bot and cannot be given", usage)


def _value(key: str, value: str, usage: str) -> str:
    if len(value) > MAX_VALUE:
        raise UsageError(f"the value of {key} is too long (at most {MAX_VALUE} characters)", usage)
    # Cc: control characters; Cf: bidi overrides/isolates, zero-width spaces and joiners, BOM;
    # Cs: lone surrogates. Any of them can make what approvers read differ from what runs.
    hidden = sorted({f"U+{ord(ch):04X}" for ch in value if unicodedata.category(ch) in _HIDDEN})
    if hidden:
        raise UsageError(
            f"the value of {key} contains invisible or control characters ({', '.join(hidden)})",
            usage,
        )
    return value


def valid_name(value: str, what: str, usage: str) -> str:
    if not _NAME.fullmatch(value):
        raise UsageError(
            f"{show(value)} is not a valid {what} name "
            "(letters, digits, `.`, `_`, `-`; at most 63 characters)",
            usage,
        )
    return value


def valid_ref(value: str, usage: str) -> str:
    ok = (
        _REF.fullmatch(value) is not None
        and ".." not in value
        and "//" not in value
        and not value.endswith(("/", ".", ".lock"))
    )
    if not ok:
        raise UsageError(f"ref={show(value)} is not a valid branch or tag name", usage)
    return value


def valid_version(value: str, usage: str) -> str:
    if not _VERSION.fullmatch(value):
        raise UsageError(f"{show(value)} is not a valid version", usage)
    return value


def unexpected(extra: list[str], usage: str) -> UsageError:
    return UsageError(f"unexpected argument {show(extra[0])}", usage)

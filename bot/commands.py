"""Slash-command text -> typed, validated command objects.

`parse_command("/deploy", "fraud-detector production v12 FOO=1")` returns a frozen
`DeployCommand`; anything it cannot understand raises `UsageError` carrying that command's usage
text, so a listener can answer every bad input with one ephemeral message. No other exception
escapes, whatever the text: the parser sits right behind Slack and sees arbitrary user input.
"""

from __future__ import annotations

import re
import shlex
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import ClassVar

from bot.ci.provider import RESERVED_VARIABLES
from bot.errors import UsageError
from bot.policy import Action
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
_HELP_WORDS = frozenset({"help", "-h", "--help"})
_SMART_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"'})

USAGE: dict[str, str] = {
    "/retrain": (
        "`/retrain &lt;model&gt; [ref=&lt;branch&gt;] [KEY=VALUE ...]`\n"
        "Start the model's retrain pipeline (on `ref`, default: the configured branch; "
        "other refs only if the model's `allowed_refs` lists them)."
    ),
    "/deploy": (
        "`/deploy &lt;model&gt; &lt;environment&gt; [version] [KEY=VALUE ...]`\n"
        "Deploy a model version to an environment (default: the registry's champion, for a "
        "model with a registry); may need approval by a second person."
    ),
    "/rollback": (
        "`/rollback &lt;model&gt; &lt;environment&gt; [to &lt;version&gt;] [KEY=VALUE ...]`\n"
        "Roll an environment back (default: to the previous successful deployment, from the "
        "service's deployment ledger, else the CI system's history)."
    ),
    "/drift": (
        "`/drift status [model]`\n"
        "Current drift score, p-value, drift events in the last 24 h and the last drift time."
    ),
    "/chatops": (
        "`/chatops help` | `/chatops audit [model]` | `/chatops models [model]`\n"
        "This help; the recent requests, approvals and pipeline results; or per model the "
        "champion, the version live in each environment and the drift state."
    ),
}
_VARS_NOTE = (
    "`KEY=VALUE` adds a pipeline variable, if the model's config allows that name "
    '(upper-case; quote values with spaces: `KEY="a b"`).'
)


def _frozen(variables: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(variables))


@dataclass(frozen=True)
class RetrainCommand:
    """`/retrain`: run the model's retrain pipeline, optionally on another branch."""

    action: ClassVar[Action] = "retrain"
    model: str
    ref: str | None = None
    variables: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "variables", _frozen(self.variables))

    @property
    def environment(self) -> None:
        """Retrain has no environment; the policy looks it up under "*"."""
        return None


@dataclass(frozen=True)
class DeployCommand:
    """`/deploy`: deploy a model (a given version, or the pipeline's default) to an environment."""

    action: ClassVar[Action] = "deploy"
    model: str
    environment: str
    version: str | None = None
    variables: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "variables", _frozen(self.variables))


@dataclass(frozen=True)
class RollbackCommand:
    """`/rollback`: roll an environment back to a version, or to its previous good deployment."""

    action: ClassVar[Action] = "rollback"
    model: str
    environment: str
    to_version: str | None = None
    variables: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "variables", _frozen(self.variables))


@dataclass(frozen=True)
class DriftStatusCommand:
    """`/drift status [model]`: drift numbers from Prometheus, for one model or all of them."""

    model: str | None = None


@dataclass(frozen=True)
class HelpCommand:
    """`/chatops help`, or `help` given to any command (`topic` is then that command)."""

    topic: str | None = None


@dataclass(frozen=True)
class AuditCommand:
    """`/chatops audit [model]`: the recent audit trail, for one model or all."""

    model: str | None = None


@dataclass(frozen=True)
class ModelsCommand:
    """`/chatops models [model]`: champion, live versions and drift, for one model or all."""

    model: str | None = None


Command = (
    RetrainCommand
    | DeployCommand
    | RollbackCommand
    | DriftStatusCommand
    | HelpCommand
    | AuditCommand
    | ModelsCommand
)


def help_text(topic: str | None = None) -> str:
    """Usage of every command (or of one, given its name with the slash), as Slack mrkdwn."""
    if topic in USAGE:
        return USAGE[topic]
    parts = ["*Pipeline ChatOps commands*", *USAGE.values(), _VARS_NOTE]
    return "\n\n".join(parts)


def parse_command(command: str, text: str) -> Command:
    """Parse one slash command (`command` with its slash, e.g. "/deploy") and its text.

    Returns a command object or raises `UsageError`; never anything else.
    """
    name = _command_name(command)
    parser = _PARSERS.get(name)
    if parser is None:
        raise UsageError(f"unknown command {_show(command)}", help_text())
    usage = USAGE[name]
    tokens = _tokens(text, usage)
    if len(tokens) == 1 and tokens[0].lower() in _HELP_WORDS:
        return HelpCommand(None if name == "/chatops" else name)
    return parser(tokens, usage)


def _command_name(command: str) -> str:
    name = command.strip().lower()
    return name if name.startswith("/") else "/" + name


def _show(value: str, limit: int = 40) -> str:
    """User text made safe to echo in mrkdwn: shortened, and Slack's control characters escaped."""
    return escape(clip(value, limit))


def _tokens(text: str, usage: str) -> list[str]:
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


def _split(
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
            ref = _ref(value, usage)
        else:
            _check_key(key, usage)
            if key in variables:
                raise UsageError(f"variable {_show(key)} is given twice", usage)
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
        raise UsageError(f"variable name {_show(key)} is too long (at most {MAX_KEY})", usage)
    if not _KEY.fullmatch(key):
        if _KEY.fullmatch(key.upper()):
            raise UsageError(
                f"variable names are upper-case: write {_show(key.upper())}=... "
                f"instead of {_show(key)}=...",
                usage,
            )
        raise UsageError(
            f"{_show(key)} is not a valid variable name "
            "(A-Z, 0-9 and _, not starting with a digit)",
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


def _name(value: str, what: str, usage: str) -> str:
    if not _NAME.fullmatch(value):
        raise UsageError(
            f"{_show(value)} is not a valid {what} name "
            "(letters, digits, `.`, `_`, `-`; at most 63 characters)",
            usage,
        )
    return value


def _ref(value: str, usage: str) -> str:
    ok = (
        _REF.fullmatch(value) is not None
        and ".." not in value
        and "//" not in value
        and not value.endswith(("/", ".", ".lock"))
    )
    if not ok:
        raise UsageError(f"ref={_show(value)} is not a valid branch or tag name", usage)
    return value


def _version(value: str, usage: str) -> str:
    if not _VERSION.fullmatch(value):
        raise UsageError(f"{_show(value)} is not a valid version", usage)
    return value


def _unexpected(extra: list[str], usage: str) -> UsageError:
    return UsageError(f"unexpected argument {_show(extra[0])}", usage)


def _parse_retrain(tokens: list[str], usage: str) -> Command:
    positional, variables, ref = _split(tokens, usage, allow_ref=True)
    if not positional:
        raise UsageError("/retrain needs a model", usage)
    if len(positional) > 1:
        raise _unexpected(positional[1:], usage)
    return RetrainCommand(_name(positional[0], "model", usage), ref, variables)


def _model_and_environment(positional: list[str], command: str, usage: str) -> tuple[str, str]:
    if len(positional) < 2:
        raise UsageError(f"{command} needs a model and an environment", usage)
    return _name(positional[0], "model", usage), _name(positional[1], "environment", usage)


def _parse_deploy(tokens: list[str], usage: str) -> Command:
    positional, variables, _ = _split(tokens, usage)
    model, environment = _model_and_environment(positional, "/deploy", usage)
    rest = positional[2:]
    if len(rest) > 1:
        raise _unexpected(rest[1:], usage)
    version = _version(rest[0], usage) if rest else None
    return DeployCommand(model, environment, version, variables)


def _parse_rollback(tokens: list[str], usage: str) -> Command:
    positional, variables, _ = _split(tokens, usage)
    model, environment = _model_and_environment(positional, "/rollback", usage)
    rest = positional[2:]
    if rest and rest[0].lower() == "to":
        if len(rest) < 2:
            raise UsageError("/rollback needs a version after `to`", usage)
        rest = rest[1:]
    if len(rest) > 1:
        raise _unexpected(rest[1:], usage)
    version = _version(rest[0], usage) if rest else None
    return RollbackCommand(model, environment, version, variables)


def _parse_drift(tokens: list[str], usage: str) -> Command:
    if not tokens:
        raise UsageError("/drift needs a subcommand: status", usage)
    if tokens[0].lower() != "status":
        raise UsageError(f"unknown /drift subcommand {_show(tokens[0])}", usage)
    if len(tokens) > 2:
        raise _unexpected(tokens[2:], usage)
    model = _name(tokens[1], "model", usage) if len(tokens) == 2 else None
    return DriftStatusCommand(model)


def _parse_chatops(tokens: list[str], usage: str) -> Command:
    if not tokens:
        return HelpCommand()
    sub, rest = tokens[0].lower(), tokens[1:]
    if sub in _HELP_WORDS:
        if len(rest) > 1:
            raise _unexpected(rest[1:], usage)
        topic = _command_name(rest[0]) if rest else None
        return HelpCommand(topic if topic in USAGE else None)
    if sub == "audit":
        if len(rest) > 1:
            raise _unexpected(rest[1:], usage)
        return AuditCommand(_name(rest[0], "model", usage) if rest else None)
    if sub == "models":
        if len(rest) > 1:
            raise _unexpected(rest[1:], usage)
        return ModelsCommand(_name(rest[0], "model", usage) if rest else None)
    raise UsageError(f"unknown /chatops subcommand {_show(tokens[0])}", usage)


_PARSERS = {
    "/retrain": _parse_retrain,
    "/deploy": _parse_deploy,
    "/rollback": _parse_rollback,
    "/drift": _parse_drift,
    "/chatops": _parse_chatops,
}

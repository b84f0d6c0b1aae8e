"""Slash-command text -> a command object, or `UsageError` carrying that command's usage."""

from __future__ import annotations

from bot.commands.types import (
    AuditCommand,
    Command,
    DeployCommand,
    DriftStatusCommand,
    HelpCommand,
    ModelsCommand,
    RetrainCommand,
    RollbackCommand,
)
from bot.commands.usage import USAGE, help_text
from bot.commands.values import (
    HELP_WORDS,
    show,
    split_variables,
    split_words,
    unexpected,
    valid_name,
    valid_version,
)
from bot.errors import UsageError


def parse_command(command: str, text: str) -> Command:
    """Parse one slash command (`command` with its slash, e.g. "/deploy") and its text.

    Returns a command object or raises `UsageError`; never anything else.
    """
    name = _command_name(command)
    parser = _PARSERS.get(name)
    if parser is None:
        raise UsageError(f"unknown command {show(command)}", help_text())
    usage = USAGE[name]
    tokens = split_words(text, usage)
    if len(tokens) == 1 and tokens[0].lower() in HELP_WORDS:
        return HelpCommand(None if name == "/chatops" else name)
    return parser(tokens, usage)


def _command_name(command: str) -> str:
    name = command.strip().lower()
    return name if name.startswith("/") else "/" + name


def _parse_retrain(tokens: list[str], usage: str) -> Command:
    positional, variables, ref = split_variables(tokens, usage, allow_ref=True)
    if not positional:
        raise UsageError("/retrain needs a model", usage)
    if len(positional) > 1:
        raise unexpected(positional[1:], usage)
    return RetrainCommand(valid_name(positional[0], "model", usage), ref, variables)


def _model_and_environment(
    positional: list[str], command: str, usage: str
) -> tuple[str, str, list[str]]:
    """The model and environment a command names first, and the words after them."""
    if len(positional) < 2:
        raise UsageError(f"{command} needs a model and an environment", usage)
    model = valid_name(positional[0], "model", usage)
    return model, valid_name(positional[1], "environment", usage), positional[2:]


def _last(rest: list[str], usage: str) -> str | None:
    """The one optional word left, if any; more is an error."""
    if len(rest) > 1:
        raise unexpected(rest[1:], usage)
    return rest[0] if rest else None


def _version_at_end(rest: list[str], usage: str) -> str | None:
    version = _last(rest, usage)
    return valid_version(version, usage) if version is not None else None


def _parse_deploy(tokens: list[str], usage: str) -> Command:
    positional, variables, _ = split_variables(tokens, usage)
    model, environment, rest = _model_and_environment(positional, "/deploy", usage)
    version = _version_at_end(rest, usage)
    return DeployCommand(model, environment, version, variables)


def _parse_rollback(tokens: list[str], usage: str) -> Command:
    positional, variables, _ = split_variables(tokens, usage)
    model, environment, rest = _model_and_environment(positional, "/rollback", usage)
    if rest and rest[0].lower() == "to":
        if len(rest) < 2:
            raise UsageError("/rollback needs a version after `to`", usage)
        rest = rest[1:]
    version = _version_at_end(rest, usage)
    return RollbackCommand(model, environment, version, variables)


def _parse_drift(tokens: list[str], usage: str) -> Command:
    if not tokens:
        raise UsageError("/drift needs a subcommand: status", usage)
    if tokens[0].lower() != "status":
        raise UsageError(f"unknown /drift subcommand {show(tokens[0])}", usage)
    model = _last(tokens[1:], usage)
    return DriftStatusCommand(valid_name(model, "model", usage) if model is not None else None)


def _parse_chatops(tokens: list[str], usage: str) -> Command:
    if not tokens:
        return HelpCommand()
    sub, rest = tokens[0].lower(), tokens[1:]
    word = _last(rest, usage) if sub in (*HELP_WORDS, "audit", "models") else None
    if sub in HELP_WORDS:
        topic = _command_name(word) if word is not None else None
        return HelpCommand(topic if topic in USAGE else None)
    model = valid_name(word, "model", usage) if word is not None else None
    if sub == "audit":
        return AuditCommand(model)
    if sub == "models":
        return ModelsCommand(model)
    raise UsageError(f"unknown /chatops subcommand {show(tokens[0])}", usage)


_PARSERS = {
    "/retrain": _parse_retrain,
    "/deploy": _parse_deploy,
    "/rollback": _parse_rollback,
    "/drift": _parse_drift,
    "/chatops": _parse_chatops,
}

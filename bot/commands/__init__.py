"""Slash-command text -> typed, validated command objects.

`parse_command("/deploy", "fraud-detector production v12 FOO=1")` returns a frozen
`DeployCommand`; anything it cannot understand raises `UsageError` carrying that command's usage
text, so a listener can answer every bad input with one ephemeral message. No other exception
escapes, whatever the text: the parser sits right behind Slack and sees arbitrary user input.

    types.py    the command objects          parse.py    text -> a command object
    values.py   tokens, variables, names     usage.py    usage and help texts
"""

from bot.commands.parse import parse_command
from bot.commands.types import (
    AuditCommand,
    Command,
    DeployCommand,
    DriftStatusCommand,
    HelpCommand,
    ModelsCommand,
    PipelineCommand,
    RetrainCommand,
    RollbackCommand,
)
from bot.commands.usage import USAGE, help_text
from bot.commands.values import MAX_KEY, MAX_TEXT, MAX_VALUE, MAX_VARIABLES

__all__ = [
    "MAX_KEY",
    "MAX_TEXT",
    "MAX_VALUE",
    "MAX_VARIABLES",
    "USAGE",
    "AuditCommand",
    "Command",
    "DeployCommand",
    "DriftStatusCommand",
    "HelpCommand",
    "ModelsCommand",
    "PipelineCommand",
    "RetrainCommand",
    "RollbackCommand",
    "help_text",
    "parse_command",
]

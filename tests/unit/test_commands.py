"""Slash-command parsing: every text is a typed command or a UsageError with usage text."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.ci.provider import RESERVED_VARIABLES
from bot.commands import (
    MAX_TEXT,
    MAX_VALUE,
    MAX_VARIABLES,
    USAGE,
    AuditCommand,
    DeployCommand,
    DriftStatusCommand,
    HelpCommand,
    ModelsCommand,
    RetrainCommand,
    RollbackCommand,
    help_text,
    parse_command,
)
from bot.errors import BotError, UsageError


def variables(command: str, text: str) -> Mapping[str, str]:
    cmd = parse_command(command, text)
    assert isinstance(cmd, RetrainCommand | DeployCommand | RollbackCommand)
    return cmd.variables


def usage_error(command: str, text: str) -> UsageError:
    with pytest.raises(UsageError) as info:
        parse_command(command, text)
    return info.value


# --- /retrain ---------------------------------------------------------------------------


def test_retrain_model_only() -> None:
    assert parse_command("/retrain", "fraud-detector") == RetrainCommand("fraud-detector")


def test_retrain_with_ref_and_variables() -> None:
    cmd = parse_command("/retrain", "fraud-detector ref=feature/new-data EPOCHS=3 LR=0.01")
    assert cmd == RetrainCommand(
        "fraud-detector", "feature/new-data", {"EPOCHS": "3", "LR": "0.01"}
    )
    assert cmd.action == "retrain"
    assert cmd.environment is None


def test_retrain_options_in_any_order_and_extra_whitespace() -> None:
    cmd = parse_command("/retrain", "  EPOCHS=3 \t ref=main\n  fraud-detector  ")
    assert cmd == RetrainCommand("fraud-detector", "main", {"EPOCHS": "3"})


def test_non_breaking_space_separates_words() -> None:
    assert parse_command("/retrain", "fraud\u00a0A=1") == RetrainCommand("fraud", None, {"A": "1"})


def test_retrain_needs_a_model() -> None:
    err = usage_error("/retrain", "   ")
    assert "needs a model" in err.message
    assert err.usage == USAGE["/retrain"]


def test_retrain_rejects_second_positional() -> None:
    assert "unexpected argument extra" in usage_error("/retrain", "fraud extra").message


@pytest.mark.parametrize("ref", ["", "-x", "a..b", "a//b", "feature/", "x.lock", "a b"])
def test_retrain_rejects_bad_ref(ref: str) -> None:
    usage_error("/retrain", f'fraud "ref={ref}"')


def test_retrain_ref_twice() -> None:
    assert "twice" in usage_error("/retrain", "fraud ref=a ref=b").message


# --- /deploy ----------------------------------------------------------------------------


def test_deploy_minimal() -> None:
    assert parse_command("/deploy", "fraud production") == DeployCommand("fraud", "production")


def test_deploy_with_version_and_variables() -> None:
    cmd = parse_command("/deploy", "fraud production v1.4.0+build.7 CANARY=10")
    assert cmd == DeployCommand("fraud", "production", "v1.4.0+build.7", {"CANARY": "10"})
    assert cmd.action == "deploy"


def test_deploy_needs_environment() -> None:
    err = usage_error("/deploy", "fraud")
    assert "needs a model and an environment" in err.message
    assert err.usage == USAGE["/deploy"]


def test_deploy_too_many_positionals() -> None:
    assert "unexpected argument extra" in usage_error("/deploy", "m prod v1 extra").message


def test_deploy_refuses_ref() -> None:
    assert "only for /retrain" in usage_error("/deploy", "m prod ref=main").message


@pytest.mark.parametrize("name", ["-fraud", ".x", "a/b", "a" * 64, "ünï", "a:b"])
def test_invalid_model_names(name: str) -> None:
    err = usage_error("/deploy", f"'{name}' prod")
    assert "not a valid model name" in err.message


def test_invalid_environment_name() -> None:
    assert "not a valid environment name" in usage_error("/deploy", "m pr@d").message


def test_longest_valid_model_name() -> None:
    name = "a" + "b" * 62
    assert parse_command("/deploy", f"{name} prod") == DeployCommand(name, "prod")


# --- /rollback --------------------------------------------------------------------------


def test_rollback_to_previous() -> None:
    assert parse_command("/rollback", "fraud production") == RollbackCommand("fraud", "production")


def test_rollback_to_version() -> None:
    cmd = parse_command("/rollback", "fraud production to v12 REASON=latency")
    assert cmd == RollbackCommand("fraud", "production", "v12", {"REASON": "latency"})
    assert cmd.action == "rollback"


def test_rollback_version_without_to() -> None:
    assert parse_command("/rollback", "m prod v12") == RollbackCommand("m", "prod", "v12")


def test_rollback_to_without_version() -> None:
    assert "needs a version after `to`" in usage_error("/rollback", "m prod to").message


def test_rollback_extra_after_version() -> None:
    assert "unexpected argument v13" in usage_error("/rollback", "m prod to v12 v13").message


# --- variables --------------------------------------------------------------------------


def test_quoted_value_with_spaces() -> None:
    assert variables("/deploy", "m prod NOTE=\"hot fix for #123\" OTHER='x y'") == {
        "NOTE": "hot fix for #123",
        "OTHER": "x y",
    }


def test_curly_quotes_from_slack_clients() -> None:
    assert variables("/deploy", "m prod NOTE=\u201ca b\u201d") == {"NOTE": "a b"}


def test_slack_html_escapes_are_undone() -> None:
    assert variables("/deploy", "m prod Q=a&amp;b CMP=&lt;5 X=&amp;lt;") == {
        "Q": "a&b",
        "CMP": "<5",
        "X": "&lt;",
    }


def test_value_may_contain_equals_and_be_empty() -> None:
    assert variables("/deploy", "m prod QUERY=a=b EMPTY=") == {"QUERY": "a=b", "EMPTY": ""}


def test_unbalanced_quote_is_a_usage_error() -> None:
    err = usage_error("/deploy", 'm prod NOTE="oops')
    assert "quotes" in err.message
    assert err.usage == USAGE["/deploy"]


def test_lower_case_key_is_named() -> None:
    err = usage_error("/deploy", "m prod epochs=3")
    assert "upper-case" in err.message
    assert "EPOCHS" in err.message
    assert "epochs" in err.message


@pytest.mark.parametrize("key", ["1ABC", "A-B", "A.B", "É"])
def test_invalid_key(key: str) -> None:
    assert "not a valid variable name" in usage_error("/deploy", f"m prod {key}=1").message


def test_empty_key() -> None:
    assert "needs a name" in usage_error("/deploy", "m prod =1").message


@pytest.mark.parametrize(
    "key", ["ACTION", "MODEL_NAME", "ENVIRONMENT", "MODEL_VERSION", "ROLLBACK_TO"]
)
def test_reserved_keys_are_refused(key: str) -> None:
    err = usage_error("/rollback", f"m prod {key}=x")
    assert key in err.message
    assert "set by the bot" in err.message


def test_duplicate_key() -> None:
    assert "A is given twice" in usage_error("/deploy", "m prod A=1 A=2").message


def test_variable_limits() -> None:
    ok = " ".join(f"V{i}=x" for i in range(MAX_VARIABLES))
    assert len(variables("/deploy", f"m prod {ok}")) == MAX_VARIABLES
    assert "too many variables" in usage_error("/deploy", f"m prod {ok} ONE_MORE=1").message
    assert variables("/deploy", f"m prod A={'x' * MAX_VALUE}")["A"] == "x" * MAX_VALUE
    assert "too long" in usage_error("/deploy", f"m prod A={'x' * (MAX_VALUE + 1)}").message


def test_control_characters_in_value() -> None:
    assert "control characters" in usage_error("/deploy", "m prod A=x\x07y").message


def test_text_length_limit() -> None:
    err = usage_error("/deploy", "m prod " + "A=1 " * MAX_TEXT)
    assert "too long" in err.message


def test_variables_are_read_only() -> None:
    with pytest.raises(TypeError):
        variables("/deploy", "m prod A=1")["A"] = "2"  # type: ignore[index]


def test_commands_are_hashable_and_frozen() -> None:
    cmd = parse_command("/deploy", "m prod A=1")
    assert isinstance(cmd, DeployCommand)
    assert hash(cmd) == hash(DeployCommand("m", "prod", None, {"A": "1"}))
    with pytest.raises(AttributeError):
        cmd.model = "other"  # type: ignore[misc]


def test_error_messages_escape_slack_markup() -> None:
    err = usage_error("/deploy", "'<!channel>' prod")
    assert "<!channel>" not in err.message
    assert "&lt;!channel&gt;" in err.message


# --- /drift, /chatops, help -------------------------------------------------------------


def test_drift_status() -> None:
    assert parse_command("/drift", "status") == DriftStatusCommand()
    assert parse_command("/drift", "Status fraud") == DriftStatusCommand("fraud")


@pytest.mark.parametrize("text", ["", "   ", "history", "status a b", "status bad/name"])
def test_drift_usage_errors(text: str) -> None:
    assert usage_error("/drift", text).usage == USAGE["/drift"]


def test_chatops_subcommands() -> None:
    assert parse_command("/chatops", "") == HelpCommand()
    assert parse_command("/chatops", "help") == HelpCommand()
    assert parse_command("/chatops", "HELP deploy") == HelpCommand("/deploy")
    assert parse_command("/chatops", "help nothing") == HelpCommand()
    assert parse_command("/chatops", "audit") == AuditCommand()
    assert parse_command("/chatops", "audit fraud") == AuditCommand("fraud")
    assert parse_command("/chatops", "models") == ModelsCommand()
    assert parse_command("/chatops", "Models fraud") == ModelsCommand("fraud")


@pytest.mark.parametrize("text", ["frobnicate", "audit a b", "help a b", "models a b", "models !"])
def test_chatops_usage_errors(text: str) -> None:
    usage_error("/chatops", text)


@pytest.mark.parametrize("command", ["/retrain", "/deploy", "/rollback", "/drift"])
def test_help_word_on_any_command(command: str) -> None:
    assert parse_command(command, "help") == HelpCommand(command)
    assert parse_command(command, " --help ") == HelpCommand(command)


def test_command_name_is_normalised() -> None:
    assert parse_command(" /DEPLOY ", "m prod") == DeployCommand("m", "prod")
    assert parse_command("deploy", "m prod") == DeployCommand("m", "prod")


def test_unknown_command_gets_full_help() -> None:
    err = usage_error("/frobnicate", "x")
    assert "unknown command" in err.message
    assert err.usage == help_text()


def test_help_text_lists_every_command() -> None:
    text = help_text()
    for name, usage in USAGE.items():
        assert usage in text
        assert name in text
    assert help_text("/deploy") == USAGE["/deploy"]
    # mrkdwn: a raw "<" would be read as a link or mention by Slack.
    assert "<" not in text
    assert ">" not in text


def test_usage_error_is_a_bot_error() -> None:
    assert isinstance(usage_error("/deploy", ""), BotError)


# --- properties -------------------------------------------------------------------------

COMMANDS = ["/retrain", "/deploy", "/rollback", "/drift", "/chatops", "/other", ""]
WORDS = st.sampled_from(
    [
        "fraud",
        "prod",
        "to",
        "v1",
        "ref=main",
        "A=1",
        "a=1",
        "ACTION=x",
        "help",
        "status",
        "audit",
        '"',
        "'",
        "\\",
        "=",
        "&amp;",
        "\u201c",
        "x" * 300,
        "K=" + "v" * 300,
    ]
)


@settings(max_examples=400)
@given(command=st.sampled_from(COMMANDS), text=st.text(max_size=300))
def test_any_text_is_a_command_or_usage_error(command: str, text: str) -> None:
    try:
        parse_command(command, text)
    except UsageError as e:
        error = e
    else:
        return
    assert error.message
    assert error.usage


@settings(max_examples=400)
@given(
    command=st.sampled_from(COMMANDS),
    words=st.lists(st.one_of(WORDS, st.text(max_size=12)), max_size=8),
)
def test_any_word_soup_is_a_command_or_usage_error(command: str, words: list[str]) -> None:
    try:
        cmd = parse_command(command, " ".join(words))
    except UsageError:
        return
    given_vars: Mapping[str, str] = getattr(cmd, "variables", {})
    assert len(given_vars) <= MAX_VARIABLES
    for key, value in given_vars.items():
        assert re.fullmatch(r"[A-Z_][A-Z0-9_]*", key)
        assert key not in RESERVED_VARIABLES
        assert len(value) <= MAX_VALUE


@given(st.text(max_size=MAX_TEXT + 50))
def test_long_text_never_crashes(text: str) -> None:
    with contextlib.suppress(UsageError):
        parse_command("/deploy", text * 10)

"""Each command's usage text, and the help that lists them (Slack mrkdwn)."""

from __future__ import annotations

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


def help_text(topic: str | None = None) -> str:
    """Usage of every command (or of one, given its name with the slash), as Slack mrkdwn."""
    if topic in USAGE:
        return USAGE[topic]
    parts = ["*Pipeline ChatOps commands*", *USAGE.values(), _VARS_NOTE]
    return "\n\n".join(parts)

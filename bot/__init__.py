"""The Slack bot: slash commands, buttons, four-eyes approvals, pipelines, registry promotions.

One concept per folder, higher layers import lower ones only (the `bot` layers contract in
pyproject.toml; docs/architecture.md draws the map):

    slack/        the Bolt app, its listeners and middleware, the app manifest
    service/      the use cases behind one facade (`Bot`), fed by the listeners with plain values:
                  command and click dispatch, answers to errors, the sweeper, the object graph
    alerts/       clicks on the gateway's alert messages; Alertmanager and Grafana silences
    releases/     the registry loop: Promote, approved promotions, versions, /chatops models
    drift/        `/drift status` and the Prometheus adapter
    approvals/    tickets: request, decisions, approval state machine, store, runs, rendering
    audit/        the audit trail and `/chatops audit`
    deployments/  the deployment ledger and which deployment a /rollback goes back to
    replies.py    ephemeral answers, help and usage
    commands/     slash-command text to typed commands: types, checked values, usage, parsing
    options.py, buttons.py                the bot's configuration, button ids
    ci/           the pipeline provider Protocol, GitLab and GitHub adapters, following a run
    policy.py     who may request and approve what
    errors.py, tasks.py, threads.py       the exception tree, owned tasks, adapter thread pools
"""

__all__ = [
    "alerts",
    "buttons",
    "ci",
    "drift",
    "errors",
    "options",
    "policy",
    "releases",
    "service",
    "slack",
    "tasks",
]

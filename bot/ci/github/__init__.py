"""GitHub Actions behind `PipelineProvider`; the only package that imports PyGithub.

A request becomes a ``workflow_dispatch`` of the action's workflow file, or, when the
model's config names a ``repository_dispatch`` event type for the action (existing drift
workflows listen for ``drift-detected``), that event with the values in
``client_payload``. The run it created is then identified: directly, when GitHub
answers the dispatch with the run id (``return_run_details``), otherwise by listing the
runs that appeared after the dispatch and were not there before it.

PyGithub is synchronous: each call runs in a worker thread with a timeout, and every
attribute of an SDK object is read inside that thread (lazy objects fetch on access).
PyGithub's own retries and request throttling (which sleep for minutes on rate limits)
are off; the bot reports the provider's answer instead.

    actions.py      `GitHubActions`, the adapter: what the bot and the doctor call
    client.py       the SDK client, its worker threads, and error translation (once, here)
    runs.py         dispatching a workflow or event, identifying its run, runs and jobs read
    deployments.py  an environment's deployments and their outcome, for /rollback
"""

from bot.ci.github.actions import GitHubActions, RepoAccess
from bot.ci.github.runs import dispatch_inputs

__all__ = ["GitHubActions", "RepoAccess", "dispatch_inputs"]

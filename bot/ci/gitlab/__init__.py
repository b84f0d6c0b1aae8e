"""GitLab pipelines behind `PipelineProvider`; the only package that imports python-gitlab.

python-gitlab is synchronous, so every call runs in a worker thread with a timeout
(the SDK's own per-request timeout, and an overall guard around the thread).
Rate-limit sleeps and transient retries inside the SDK are turned off: the bot
reports a provider error at once instead of hanging a Slack command for minutes.

    ci.py           `GitLabCI`, the adapter: pipelines started, read, their failed jobs
    client.py       the SDK client, its worker threads, and error translation (once, here)
    deployments.py  an environment's deployments and the model version each deployed
    access.py       what the doctor reads: the token's user and scopes, a project's settings
"""

from bot.ci.gitlab.access import GitLabToken, ProjectAccess
from bot.ci.gitlab.ci import GitLabCI

__all__ = ["GitLabCI", "GitLabToken", "ProjectAccess"]

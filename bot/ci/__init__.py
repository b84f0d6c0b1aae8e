"""CI: the `PipelineProvider` Protocol and types, the GitLab and GitHub adapters, following runs.

provider.py   the seam: `PipelineProvider`, its frozen data types, variable and ref rules
gitlab/       `GitLabCI`, the only package importing python-gitlab
github/       `GitHubActions`, the only package importing PyGithub
follow.py     following a run until it ends, reporting each change
"""

__all__ = ["follow", "github", "gitlab", "provider"]

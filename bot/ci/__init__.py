"""CI: the `PipelineProvider` Protocol and types, the GitLab and GitHub adapters, following runs."""

__all__ = ["follow", "github", "gitlab", "provider"]

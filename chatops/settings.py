"""The one typed Settings object: secrets and endpoints from the environment.

See docs/configuration.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from urls import credentials


class Settings(BaseSettings):
    """Built once in `main` (or a test) and passed down; nothing else reads os.environ."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    gitlab_url: str = "https://gitlab.com"
    gitlab_token: SecretStr | None = None
    github_token: SecretStr | None = None
    github_api_url: str = "https://api.github.com"
    prometheus_url: str | None = None
    alertmanager_url: str | None = None
    grafana_url: str | None = Field(
        default=None, description="Grafana base URL: Silence on Grafana alerts creates it there."
    )
    grafana_token: SecretStr | None = Field(
        default=None, description="Grafana service account token (Bearer) allowed to silence."
    )
    mlflow_tracking_uri: str | None = None
    mlflow_tracking_token: SecretStr | None = None
    chatops_mlflow_webhook_secret: SecretStr | None = None
    chatops_webhook_token: SecretStr | None = None
    chatops_drift_secret: SecretStr | None = None
    chatops_store_url: str = "sqlite:///./chatops.db"
    chatops_config: Path | None = None
    chatops_log_format: Literal["json", "console"] | None = None
    chatops_slack_pacing: float = Field(
        default=1.0, ge=0, description="Seconds between Slack messages to one channel."
    )
    chatops_slack_max_backoff: float = Field(
        default=300.0, gt=0, description="Longest wait between retries of one Slack message."
    )
    chatops_slack_timeout: int = Field(
        default=10, ge=1, le=120, description="Seconds to wait for one Slack API answer."
    )
    chatops_body_timeout: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="Seconds to receive a whole request body (webhooks, Slack); 408 after.",
    )
    chatops_defer_after: int | None = Field(
        default=4,
        ge=0,
        le=10_000,
        description=(
            "Alert notifications being folded at once past which a new one is parked in the "
            "store, answered 202 and folded later with its group's next ones (`off`: never)."
        ),
    )
    chatops_defer_recover_after: float = Field(
        default=30.0,
        ge=0.5,
        le=3600,
        description=(
            "Seconds after which a replica folds the notifications another one parked and did "
            "not fold (it died); a starting replica folds every parked one at once."
        ),
    )

    @field_validator("chatops_defer_after", mode="before")
    @classmethod
    def _defer_off(cls, value: object) -> object:
        """`off` (or empty) turns deferred folds off; anything else must be a number."""
        if isinstance(value, str) and value.strip().lower() in ("", "off"):
            return None
        return value

    chatops_outbox_lease: float = Field(
        default=30.0,
        gt=0,
        description="Seconds a replica holds an outbox item; a crashed holder's expires.",
    )
    chatops_show_blocks: bool = Field(
        default=False,
        description="Console sink: also print each message's Block Kit JSON and preview link.",
    )
    chatops_public_url: str | None = Field(
        default=None, description="External base URL, used in the Slack app manifest."
    )

    def secret_values(self) -> list[str]:
        """Every secret's value, so the log redactor can blank them wherever they appear."""
        secrets = (
            self.slack_bot_token,
            self.slack_signing_secret,
            self.slack_app_token,
            self.gitlab_token,
            self.github_token,
            self.chatops_webhook_token,
            self.chatops_drift_secret,
            self.grafana_token,
        )
        values = [s.get_secret_value() for s in secrets if s is not None]
        urls = [self.prometheus_url, self.alertmanager_url, self.grafana_url]
        urls.append(self.chatops_store_url)
        logins = [credentials(url) for url in urls if url]
        return values + [login[1] for login in logins if login and login[1]]

    @property
    def console_sink(self) -> bool:
        """True when no bot token is set: messages are printed, not posted."""
        return secret_value(self.slack_bot_token) is None

    def problems(self, *, socket_mode: bool = False) -> list[str]:
        """Environment combinations that cannot work, for `check-config` and start-up."""
        found = []
        if socket_mode:
            if self.slack_app_token is None:
                found.append("SLACK_APP_TOKEN: required for --socket-mode")
        elif not self.console_sink and not _filled(self.slack_signing_secret):
            found.append("SLACK_SIGNING_SECRET: required when SLACK_BOT_TOKEN is set (HTTP mode)")
        found += self.grafana_problems()
        scheme = self.chatops_store_url.split(":", 1)[0]
        if scheme not in {"sqlite", "redis", "rediss", "unix"}:
            found.append(f"CHATOPS_STORE_URL: unsupported scheme {scheme!r}")
        return found

    def grafana_problems(self) -> list[str]:
        url = (self.grafana_url or "").strip()
        if not url:
            return ["GRAFANA_TOKEN: set without GRAFANA_URL"] if _filled(self.grafana_token) else []
        if not url.lower().startswith(("http://", "https://")):
            return ["GRAFANA_URL: must be an http(s) URL"]
        if not _filled(self.grafana_token) and credentials(url) is None:
            return ["GRAFANA_TOKEN: required when GRAFANA_URL is set (a service account token)"]
        return []

    @property
    def grafana_silences(self) -> bool:
        """Grafana is configured: the Silence button on Grafana alerts can work."""
        return bool((self.grafana_url or "").strip()) and not self.grafana_problems()


def secret_value(value: SecretStr | None) -> str | None:
    """The secret's value, or None when unset or empty."""
    return value.get_secret_value() or None if value is not None else None


def _filled(secret: SecretStr | None) -> bool:
    """Set to something other than blanks (Slack's verifier refuses a blank signing secret)."""
    return secret is not None and bool(secret.get_secret_value().strip())

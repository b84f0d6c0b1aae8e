"""`/chatops models [model]`: per model, in one glance, the registry's champion, the version
live in each environment and the drift state.

Live versions come from the deployment ledger (`deployments.ledger`), else from the provider's last
successful deployment (a commit is named as one). The drift state is the gateway's, read through
`DriftStates`, which the composition root implements (the bot does not import the gateway).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from bot.ci.provider import DeploymentStatus, PipelineProvider
from bot.deployments.ledger import Ledger
from bot.deployments.rollback import RollbackTarget
from bot.errors import BotError
from bot.options import BotOptions
from bot.releases.apply import PromoteTarget
from registry import ModelRegistry, RegistryError
from slackio.blocks import Rendered, clip, date_token, escape, section

MAX_MODELS = 40  # one section each, within Slack's 50 blocks


@dataclass(frozen=True)
class DriftState:
    """The latest drift verdict the gateway recorded for a model."""

    detected: bool
    at: datetime
    events: int = 0  # drift events in the current drift message (0 for a no-drift check)


class DriftStates(Protocol):
    """Read access to the gateway's drift records (implemented by the composition root)."""

    async def drift_state(self, model: str) -> DriftState | None:
        """The newest verdict for `model`, or None when no drift webhook named it yet."""
        ...


@dataclass(frozen=True)
class ModelsView:
    """Looks up and renders `/chatops models`."""

    options: BotOptions
    ledger: Ledger
    provider_for: Callable[[str], PipelineProvider]
    targets: Mapping[str, PromoteTarget]
    registry: ModelRegistry | None
    drift: DriftStates | None

    async def show(self, model: str | None) -> Rendered:
        names = [self.options.model(model).name] if model else sorted(self.options.models)
        if not names:
            text = "No models are configured."
            return Rendered(text, [section(text)])
        blocks = [section(clip(await self._model(name), 3000)) for name in names[:MAX_MODELS]]
        if len(names) > MAX_MODELS:
            blocks.append(section(f"… and {len(names) - MAX_MODELS} more: name one model."))
        return Rendered(f"Models: {', '.join(names)}"[:3000], blocks)

    async def _model(self, name: str) -> str:
        lines = [f"*{escape(name)}*", f"champion: {await self._champion(name)}"]
        for environment in self.options.model(name).environments:
            lines.append(f"{escape(environment)}: {await self._live(name, environment)}")
        lines.append(f"drift: {await self._drift(name)}")
        return "\n".join(lines)

    async def _champion(self, name: str) -> str:
        target = self.targets.get(name)
        if target is None:
            return "no registry configured"
        if self.registry is None:
            return "unknown (MLFLOW_TRACKING_URI is not set)"
        try:
            found = await self.registry.get_alias(name=target.registered_name, alias=target.alias)
        except RegistryError as e:
            return f"unknown (registry: {escape(clip(str(e), 200))})"
        if found is None:
            return f"none (alias `{escape(target.alias)}` is not set)"
        return f"`{escape(found.version)}` (alias `{escape(target.alias)}`)"

    async def _live(self, name: str, environment: str) -> str:
        entries = await self.ledger.entries(name, environment)
        if entries:
            last = entries[0]
            return f"`{escape(last.label)}` since {date_token(_at(last.at))} (ledger)"
        try:
            provider = self.provider_for(name)
            target = self.options.target(name)
            history = await provider.deployments(target=target, environment=environment)
        except BotError as e:  # no pipeline, no token, the provider did not answer
            return f"unknown ({escape(clip(e.message, 200))})"
        successes = [d for d in history if d.status is DeploymentStatus.SUCCESS]
        if not successes:
            return "nothing deployed yet"
        last_deploy = max(successes, key=lambda d: d.created_at)
        label = RollbackTarget.of(last_deploy).label
        return (
            f"`{escape(label)}` since {date_token(last_deploy.created_at)} "
            f"({provider.name} history)"
        )

    async def _drift(self, name: str) -> str:
        if self.drift is None:
            return "unknown (the gateway is not running in this process)"
        state = await self.drift.drift_state(name)
        if state is None:
            return "no drift check received yet"
        if state.detected:
            return f"⚠️ drift detected, {state.events} event(s), last {date_token(state.at)}"
        return f"✅ no drift at the last check, {date_token(state.at)}"


def _at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)

"""The bot's slice of the config file: its options, pipeline targets, rollback and promote targets.

The bot never imports the config package; this module turns the validated YAML into the bot's
own frozen option types.
"""

from __future__ import annotations

from bot.ci.provider import PipelineTarget
from bot.options import BotOptions, DriftQueries, ModelOptions, Tuning, rollback_environment
from bot.releases.promote import PromoteTarget
from chatops.config import AppConfig, GitHubPipeline, GitLabPipeline, policy_of


def pipeline_target(model: str, pipeline: GitLabPipeline | GitHubPipeline) -> PipelineTarget:
    """The adapters' view of one model's pipeline config."""
    if isinstance(pipeline, GitLabPipeline):
        return PipelineTarget(
            model=model,
            provider="gitlab",
            project=str(pipeline.project),
            ref=pipeline.ref,
            variables=pipeline.variables,
            allowed_variables=tuple(pipeline.allowed_variables),
            allowed_refs=tuple(pipeline.allowed_refs),
        )
    return PipelineTarget(
        model=model,
        provider="github",
        repo=pipeline.repo,
        ref=pipeline.ref,
        variables=pipeline.variables,
        workflows={str(k): v for k, v in pipeline.workflows.items()},
        dispatch={str(k): v for k, v in pipeline.dispatch.items()},
        allowed_variables=tuple(pipeline.allowed_variables),
        allowed_refs=tuple(pipeline.allowed_refs),
    )


def bot_options(config: AppConfig, tuning: Tuning | None = None) -> BotOptions:
    """The bot's slice of the config file."""
    models = {
        name: ModelOptions(
            name=name,
            channel=config.channel_for(name),
            environments=tuple(model.environments),
            target=pipeline_target(name, model.pipeline) if model.pipeline else None,
        )
        for name, model in config.models.items()
    }
    policy = policy_of(config)
    q = config.drift.queries
    return BotOptions(
        default_channel=config.slack.default_channel,
        models=models,
        policy=policy,
        queries=DriftQueries(score=q.score, p_value=q.p_value, events_24h=q.events_24h),
        default_drift_model=config.drift.default_model,
        expire_after=config.approvals.expire_after,
        tuning=tuning or Tuning(),
    )


def rollback_defaults(config: AppConfig) -> dict[str, str]:
    """Each model's default Rollback environment (`bot.options.rollback_environment`)."""
    defaults: dict[str, str] = {}
    for name, model in config.models.items():
        options = ModelOptions(name=name, channel="", environments=tuple(model.environments))
        environment = rollback_environment(options, {})
        if environment is not None:
            defaults[name] = environment
    return defaults


def promote_targets(config: AppConfig) -> dict[str, PromoteTarget]:
    """Model name -> where it lives in the registry, for the Promote button."""
    return {
        name: PromoteTarget(
            model=name,
            registered_name=m.registry.name,
            alias=m.registry.champion_alias,
            deploy_on_promote=tuple(m.registry.deploy_on_promote),
        )
        for name, m in config.models.items()
        if m.registry is not None
    }

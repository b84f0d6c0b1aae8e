"""The promotion card of one registered model version."""

from __future__ import annotations

from typing import Final

from gateway.promotions import CardStatus, MetricRow, PromotionCard, Verdict
from gateway.render.parts import actions_block, actor_mention, record_block
from slackio.blocks import (
    MAX_BLOCKS,
    Block,
    Rendered,
    button,
    clip,
    code,
    confirm_dialog,
    context,
    escape,
    fallback_text,
    fields_block,
    header_block,
    link,
    safe_url,
    section,
)
from slackio.buttons import DISMISS, PROMOTE, button_value

_HEADINGS: Final = {
    CardStatus.CANDIDATE: ("🆕", "New version"),
    CardStatus.CHAMPION: ("🏆", "Champion"),
    CardStatus.REPLACED: ("🗄️", "Former champion"),
}
_MARKS: Final = {
    Verdict.BETTER: "✅",
    Verdict.WORSE: "⚠️",
    Verdict.SAME: "🟰",
    Verdict.UNKNOWN: "❔",
}
_MAX_TAGS: Final = 10


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def _metric_line(row: MetricRow, champion_version: str | None) -> str:
    arrow = "↑" if row.direction == "max" else "↓"
    line = f"{_MARKS[row.verdict]} `{code(row.name, 60)}` {arrow} *{_num(row.value)}*"
    if champion_version is None:
        return line
    line += f" vs {_num(row.champion)} (v{escape(clip(champion_version, 20))})"
    if row.value is not None and row.champion is not None:
        line += f", {row.value - row.champion:+.4g}"
    return line


def _comparison(card: PromotionCard) -> str:
    if not card.metrics:
        return "No metrics configured for this model (`registry.metrics`)."
    if card.champion_version is None and card.status is CardStatus.CHAMPION:
        head = "*This version is the champion*: its metrics"
    elif card.champion_version is None:
        head = "*No champion yet*: nothing to compare with."
    else:
        head = f"*Compared with champion v{escape(clip(card.champion_version, 20))}*"
    rows = [_metric_line(row, card.champion_version) for row in card.metrics]
    return "\n".join([head, *rows])


def _fields(card: PromotionCard) -> list[tuple[str, str]]:
    pairs = [
        ("Model", escape(clip(card.model, 200))),
        ("Version", f"v{escape(clip(card.version, 50))}"),
    ]
    run = escape(clip(card.run_name or card.run_id or "unknown", 100))
    pairs.append(("Run", link(card.run_link, run) if safe_url(card.run_link) else run))
    if card.registered_name != card.model:
        pairs.append(("Registered as", escape(clip(card.registered_name, 200))))
    return pairs


def _promoted_by(card: PromotionCard) -> list[Block]:
    if card.requested_by is None:
        return []
    line = f"🏆 Promoted at the request of {actor_mention(card.requested_by)}"
    if card.approved_by:
        line += ", approved by " + ", ".join(actor_mention(a) for a in card.approved_by)
    return [context([line], block_id="chatops.promoted")]


def _buttons(card: PromotionCard) -> list[Block]:
    """Promote (with a confirm dialog) and Dismiss, while the card is an undismissed candidate."""
    if card.status is not CardStatus.CANDIDATE or card.dismissed:
        return []
    key, model = card.message_key, card.model
    name, version = escape(clip(card.registered_name, 100)), escape(clip(card.version, 20))
    confirm = confirm_dialog(
        "Promote to champion?",
        f"Ask to point {name}'s champion alias at v{version} (approval may be needed).",
        "Promote",
    ) | {"style": "primary"}
    promote = button_value(PROMOTE, key=key, model=model)
    dismiss = button_value(DISMISS, key=key, model=model)
    return [
        actions_block(
            key,
            [
                button(
                    "Promote to champion",
                    PROMOTE,
                    promote,
                    style="primary",
                    confirm=confirm,
                ),
                button("Dismiss", DISMISS, dismiss),
            ],
        )
    ]


def render_promotion(card: PromotionCard) -> Rendered:
    """The card: version, run, metrics beside the champion's, tags, what happened since."""
    emoji, word = _HEADINGS[card.status]
    blocks: list[Block] = [header_block(f"{emoji} {word}: {card.model} v{card.version}")]
    blocks.append(fields_block("chatops.version", _fields(card)))
    blocks.append(section(_comparison(card), block_id="chatops.metrics"))
    if card.problem:
        blocks.append(context([f"⚠️ {escape(clip(card.problem, 500))}"], block_id="chatops.problem"))
    if card.tags:
        tags = [f"`{code(k, 40)}`={code(v, 60)}" for k, v in card.tags[:_MAX_TAGS]]
        blocks.append(context([" ".join(tags)], block_id="chatops.tags"))
    if card.notes:
        blocks.append(context([escape(n) for n in card.notes], block_id="chatops.notes"))
    blocks += _promoted_by(card)
    blocks += record_block(card.message_key, card.actions)
    blocks += _buttons(card)
    better = sum(r.verdict is Verdict.BETTER for r in card.metrics)
    worse = sum(r.verdict is Verdict.WORSE for r in card.metrics)
    if card.champion_version:
        summary = f"{better} better, {worse} worse"
    else:
        summary = "the champion" if card.status is CardStatus.CHAMPION else "no champion yet"
    text = f"{emoji} {word}: {escape(card.model)} v{escape(card.version)} ({summary})"
    return Rendered(text=fallback_text(text), blocks=blocks[:MAX_BLOCKS])

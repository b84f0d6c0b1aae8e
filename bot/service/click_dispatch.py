"""A button click to the use case that applies it: Approve/Deny, Promote, or an alert button."""

from __future__ import annotations

import structlog

from bot.buttons import APPROVE, BOT_ACTIONS, parse_ticket_id
from bot.service.answering import Answer
from bot.service.calls import ButtonClick
from bot.service.graph import UseCases
from slackio.buttons import PROMOTE, BadButtonValue, parse_button_value

log = structlog.get_logger("bot")


class ClickDispatch:
    """Applies one click; its answer (None: the request was already received)."""

    def __init__(self, uses: UseCases) -> None:
        self._uses = uses

    async def run(self, click: ButtonClick) -> Answer:
        try:
            if click.action_id in BOT_ACTIONS:
                ticket_id = parse_ticket_id(click.value)
                approving = click.action_id == APPROVE
                return await self._uses.decisions.decide(
                    ticket_id, user=click.user, approving=approving
                )
            button = parse_button_value(click.action_id, click.value)
        except BadButtonValue as e:
            log.warning("button_rejected", action=click.action_id, error=str(e))
            return "This button is not valid any more."
        if button.action_id == PROMOTE:
            return await self._uses.promotions.click(button, user=click.user, click_id=click.key)
        return await self._uses.alert_buttons.click(button, user=click.user, click_id=click.key)

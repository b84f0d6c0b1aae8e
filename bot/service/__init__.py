"""The bot's use cases behind one facade, fed by the Bolt listeners with plain values.

facade.py            `Bot`: dispatch in owned tasks, answer, lifecycle
calls.py             what the listeners hand over: `CommandCall`, `ButtonClick`, `Refusal`
graph.py             `BotDeps` from the composition root; every use case built once
command_dispatch.py  a parsed command to its use case
click_dispatch.py    a click to its use case
answering.py         each request once; errors turned into answers in one place
sweeper.py           expiry, following and resuming runs, pruning
"""

from bot.service.calls import ButtonClick, CommandCall, Refusal
from bot.service.facade import Bot
from bot.service.graph import BotDeps

__all__ = ["Bot", "BotDeps", "ButtonClick", "CommandCall", "Refusal"]

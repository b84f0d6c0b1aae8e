"""Typed AppKeys for what the composition root hangs on the aiohttp application."""

from __future__ import annotations

import aiohttp
from aiohttp import web

from chatops.config import AppConfig
from chatops.settings import Settings
from slackio.metrics import Metrics
from slackio.outbox import OutboxSender
from slackio.transport import SlackTransport
from storage import Store

SETTINGS = web.AppKey("settings", Settings)
CONFIG = web.AppKey("config", AppConfig)
STORE = web.AppKey("store", Store)
METRICS = web.AppKey("metrics", Metrics)
TRANSPORT = web.AppKey("transport", SlackTransport)
SENDER = web.AppKey("sender", OutboxSender)
HTTP = web.AppKey("http_session", aiohttp.ClientSession)

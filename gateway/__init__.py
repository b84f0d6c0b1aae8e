"""Webhooks in (Alertmanager, Grafana, drift, MLflow), one living Slack message per concern out.

What the composition root uses: the ingest service, its options and routes, the records of who
clicked what, the drift states, and the promotion cards with the registry events behind them.
"""

__all__ = [
    "drift",
    "folder",
    "options",
    "promotions",
    "records",
    "registry_events",
    "routes",
    "service",
]

"""Clicks on the gateway's alert messages (Ack, Silence, Retrain...) and silences."""

__all__ = ["alertmanager", "buttons", "grafana"]

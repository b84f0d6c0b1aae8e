"""Placeholder: the fake Slack Web API server is being written."""

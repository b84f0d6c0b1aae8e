"""The composition root: settings, the config file, `create_app` and the `chatops` command.

The one package that imports both sides (gateway and bot); nothing imports it. What it offers
is the app factory (`chatops.app.create_app`) and the command (`chatops.cli.main`).
"""

__all__ = ["app", "cli"]

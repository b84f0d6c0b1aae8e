"""Moved to the `urls` package; kept so that bot/ modules importing it from here still do.

The bot regroup imports `urls` directly, then this module goes.
"""

from urls import credentials, without_userinfo

__all__ = ["credentials", "without_userinfo"]

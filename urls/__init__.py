"""URLs with credentials in them: the credentials for the call, the rest for what is shown.

A leaf: it imports nothing of the project, so every package that shows or calls a configured
URL (slackio, registry, bot, chatops) takes it from here.
"""

from urls.userinfo import credentials, without_userinfo

__all__ = ["credentials", "without_userinfo"]

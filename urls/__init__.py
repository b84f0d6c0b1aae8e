"""URLs with credentials in them: the credentials for the call, the rest for what is shown.

`auth_headers` is the one way a client turns a URL (and a token) into its `Authorization`.

A leaf: it imports nothing of the project, so every package that shows or calls a configured
URL (slackio, registry, bot, chatops) takes it from here.
"""

from urls.userinfo import auth_headers, credentials, without_userinfo

__all__ = ["auth_headers", "credentials", "without_userinfo"]

"""URLs with credentials in them (`http://user:pass@host`): used for the call, never shown.

Settings like ALERTMANAGER_URL may carry basic-auth userinfo. Clients take the credentials
out once (`credentials`) and keep only `without_userinfo` for anything they render, log or
put in an error, so a password never reaches Slack, logs or a user-facing message.
"""

from __future__ import annotations

import re
import urllib.parse

import aiohttp

# The authority ends at the first `/`, `?` or `#`; its userinfo at the last `@` before that.
_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/?#]*@")


def without_userinfo(url: str) -> str:
    """`http://user:pass@host:9093/x` -> `http://host:9093/x`; other URLs unchanged."""
    return _USERINFO.sub(r"\1", url.strip(), count=1)


def credentials(url: str) -> tuple[str, str] | None:
    """The (user, password) of a URL's userinfo, percent-decoded; None without userinfo."""
    if not _USERINFO.match(url.strip()):
        return None
    try:
        parts = urllib.parse.urlsplit(url.strip())
    except ValueError:
        return None
    if parts.username is None:
        return None
    password = parts.password or ""
    return urllib.parse.unquote(parts.username), urllib.parse.unquote(password)


def auth_headers(url: str, token: str | None = None) -> dict[str, str]:
    """The `Authorization` header for a client of `url`: `Bearer <token>` when a token is
    given, else basic auth from the URL's userinfo, else none."""
    if token:
        return {"Authorization": f"Bearer {token}"}
    login = credentials(url)
    return {"Authorization": aiohttp.encode_basic_auth(*login)} if login else {}

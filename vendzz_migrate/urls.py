"""URL helpers. Every URL that is shown, logged, stored or reported goes through :func:`mask`."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:@/]*):(?P<pw>[^@/]*)@", re.I)
_BARE_USERINFO = re.compile(r"^(?P<user>[^:@/\s]*):(?P<pw>[^@\s]*)@")
_PW_PARAM = re.compile(r"(?P<k>\bpassword=)(?P<v>[^&\s]+)", re.I)


def mask(url: str | None) -> str:
    """Return ``url`` with any password replaced by ``***`` (also in ``?password=``)."""
    if not url:
        return ""
    masked = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:***@", url)
    return _PW_PARAM.sub(lambda m: f"{m['k']}***", masked)


def mask_bare(url: str) -> str:
    """Like :func:`mask`, also for a URL without a scheme (``user:password@host/db``)."""
    masked = mask(url)
    if "://" in masked:
        return masked
    return _BARE_USERINFO.sub(lambda m: f"{m['user']}:***@", masked, count=1)


def mask_text(text: str) -> str:
    """Mask every URL-looking password inside free text (error messages from drivers)."""
    return mask(text)


def identity(url: str) -> str:
    """A password-free identity of a database URL: scheme, user, host, port, path."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}@{host}:{parts.port or ''}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query and mask(parts.query), ""))


def http_request(url: str, headers: dict[str, str] | None = None) -> Any:
    """A ``urllib`` request for ``url`` whose ``user:password@`` (which urllib would take for
    part of the host name) is sent as HTTP basic auth instead."""
    import base64
    import urllib.request
    from urllib.parse import unquote

    parts = urlsplit(url)
    extra = dict(headers or {})
    if parts.username is not None:
        creds = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        extra["Authorization"] = "Basic " + base64.b64encode(creds).decode()
        netloc = parts.hostname or ""
        if ":" in netloc:  # an IPv6 literal
            netloc = f"[{netloc}]"
        if parts.port is not None:
            netloc = f"{netloc}:{parts.port}"
        url = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return urllib.request.Request(url, headers=extra)

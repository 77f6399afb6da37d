"""PostgreSQL URLs that are safe to print: the password masked, wherever it was written.

A URL given on the command line (`--db postgresql://user:secret@host/db`) ends up in log lines
and error messages; every one of them goes through `mask_url`/`scrub` first.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, unquote, urlsplit

_KV_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)
_QUERY_PASSWORD = re.compile(r"([?&]password=)[^&#]*", re.IGNORECASE)


def mask_url(url: str) -> str:
    """`postgresql://user:secret@host:5432/db` → `postgresql://user:***@host:5432/db`; a
    `password=` query parameter or key=value conninfo entry is masked the same way."""
    if "://" not in url:
        return _KV_PASSWORD.sub(r"\1***", url)
    head, rest = url.split("://", 1)
    netloc, sep, tail = rest.partition("/")
    if "@" in netloc:
        cred, host = netloc.rsplit("@", 1)
        user = cred.split(":", 1)[0]
        netloc = f"{user}:***@{host}" if ":" in cred else f"{user}@{host}"
    return _QUERY_PASSWORD.sub(r"\1***", f"{head}://{netloc}{sep}{tail}")


def passwords_in(url: str) -> list[str]:
    """Every password written in `url` (userinfo, query parameter or conninfo entry)."""
    found: list[str] = []
    if "://" in url:
        parts = urlsplit(url)
        if parts.password:
            found += [parts.password, unquote(parts.password)]
        found += [v for k, v in parse_qsl(parts.query) if k.lower() == "password" and v]
    else:
        found += [m.group(2).strip("'") for m in _KV_PASSWORD.finditer(url)]
    return found


def scrub(message: str, url: str) -> str:
    """`message` with every password of `url` replaced by *** (driver messages may echo them)."""
    for secret in sorted(set(passwords_in(url)), key=len, reverse=True):
        if len(secret) >= 3:  # masking a 1-2 character password would garble the message
            message = message.replace(secret, "***")
    return message

"""Where a `--db` points: a DuckDB file, or a PostgreSQL server plus a local anchor for side files.

Commands keep files beside the history (ledger, twin state, overlays: `<stem>.ledger.jsonl`,
`<stem>.state/`). With a `postgresql://` URL there is no local file to sit beside, so they go
beside `./edgetwin-<database>.pg` in the working directory instead. A URL that passed through
`pathlib.Path` (typer's `Path` options) has lost one slash of `://`; it is restored here so
such a URL still reaches the PostgreSQL store (and is never taken for a DuckDB file name).
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

_SCHEME = re.compile(r"^(postgresql|postgres):/+")


def is_url(db: str | Path) -> bool:
    """Is `--db` a PostgreSQL URL (also after Path squashed its `//`)?"""
    return bool(_SCHEME.match(str(db)))


def store_location(db: str | Path) -> tuple[str, Path]:
    """(what to give `open_store`, the local path side files are named after)."""
    text = str(db)
    if not is_url(text):
        return text, Path(text)
    url = _SCHEME.sub(lambda m: f"{m.group(1)}://", text, count=1)
    name = urlsplit(url).path.lstrip("/") or "postgres"
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    return url, Path(f"edgetwin-{safe}.pg")


def display_name(db: str | Path) -> str:
    """`--db` as it may be printed: a URL with its password masked, a path as it is."""
    from edgetwin.store.pg_url import mask_url

    return mask_url(store_location(db)[0]) if is_url(db) else str(db)

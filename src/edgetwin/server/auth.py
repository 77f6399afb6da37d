"""API tokens: created from the CLI, shown once, stored only as SHA-256 hashes.

Tokens are 256 random bits, so a plain SHA-256 is enough (a slow KDF protects low-entropy
passwords, not random keys) and verification stays a dict lookup, cheap on every write call.
The file lives under `$EDGETWIN_HOME` (default `~/.config/edgetwin/tokens.json`), or wherever
the caller says, with mode 0600.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import threading
import time
from pathlib import Path
from typing import Any

from edgetwin.core.errors import AuthError

PREFIX = "et_"


def edgetwin_home() -> Path:
    return Path(os.environ.get("EDGETWIN_HOME", Path.home() / ".config" / "edgetwin"))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class TokenStore:
    """Named tokens in a JSON file (or in memory when `path` is None)."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = None if path is None else Path(path)
        self._lock = threading.Lock()
        self._by_hash: dict[str, dict[str, Any]] = {}
        self._mtime: float | None = None
        self._load()

    @classmethod
    def default(cls) -> TokenStore:
        return cls(edgetwin_home() / "tokens.json")

    def _load(self) -> None:
        if self.path is None or not self.path.exists():
            return
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise AuthError(
                f"token file {self.path} is unreadable ({exc}); remove it and create tokens again"
            ) from None
        self._by_hash = {t["sha256"]: t for t in raw.get("tokens", [])}
        self._mtime = self.path.stat().st_mtime

    def _save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(
            json.dumps({"tokens": list(self._by_hash.values())}, indent=1), encoding="utf-8"
        )
        os.chmod(tmp, 0o600)
        tmp.replace(self.path)
        self._mtime = self.path.stat().st_mtime

    def create(self, name: str) -> str:
        """Create a token for `name` (a person or a system); returns it — it is not stored."""
        if not name or not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
            raise AuthError(f"token name {name!r}: use letters, digits, '-', '_' or '.'")
        token = PREFIX + secrets.token_urlsafe(32)
        with self._lock:
            self._load()
            self._by_hash[_digest(token)] = {
                "name": name,
                "sha256": _digest(token),
                "created_ns": time.time_ns(),
            }
            self._save()
        return token

    def verify(self, token: str | None) -> str | None:
        """The token's name, or None when unknown; picks up tokens created by the CLI meanwhile."""
        if not token:
            return None
        entry = self._by_hash.get(_digest(token))
        if entry is None and self.path is not None and self.path.exists():
            if self.path.stat().st_mtime != self._mtime:
                with self._lock:
                    self._load()
                entry = self._by_hash.get(_digest(token))
        return None if entry is None else str(entry["name"])

    def revoke(self, name: str) -> int:
        """Remove every token of `name`; return how many."""
        with self._lock:
            self._load()
            keep = {h: t for h, t in self._by_hash.items() if t["name"] != name}
            n = len(self._by_hash) - len(keep)
            self._by_hash = keep
            self._save()
        return n

    def list(self) -> list[dict[str, Any]]:
        return [{"name": t["name"], "created_ns": t["created_ns"]} for t in self._by_hash.values()]

"""Ed25519 signing of edge modules, a local development key and a trust list.

A module's signature covers the sha256 of every file in the zip (names included), so editing,
adding or removing any file breaks it. A signature only counts when its public key is in the
trust list: `$EDGETWIN_HOME/trusted_keys.json` (default `~/.config/edgetwin`). The first call
that needs a key creates the development key `$EDGETWIN_HOME/keys/dev_ed25519.pem` and trusts
it, so a single box works out of the box; a fleet distributes its release key's public half
with `edgetwin module trust` instead.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from edgetwin.core.errors import ModuleError, SignatureError

log = logging.getLogger(__name__)

ALGORITHM = "ed25519"
DEV_KEY_NAME = "dev_ed25519.pem"


def edgetwin_home() -> Path:
    """`$EDGETWIN_HOME`, default `~/.config/edgetwin`."""
    return Path(os.environ.get("EDGETWIN_HOME", Path.home() / ".config" / "edgetwin"))


def public_key_bytes(key: Ed25519PublicKey | Ed25519PrivateKey) -> bytes:
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(key: Ed25519PublicKey | Ed25519PrivateKey | bytes) -> str:
    """Short fingerprint of a public key: first 16 hex digits of sha256 of its raw bytes."""
    raw = key if isinstance(key, bytes) else public_key_bytes(key)
    return hashlib.sha256(raw).hexdigest()[:16]


def generate_key(
    path: str | Path, trust: bool = True, name: str | None = None
) -> Ed25519PrivateKey:
    """Create a new private key file (PEM, mode 0600); refuse to overwrite an existing one."""
    p = Path(path)
    if p.exists():
        raise ModuleError(f"key file {p} exists; choose another path or delete it first")
    p.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    if trust:
        trust_key(public_key_bytes(key), name or p.stem)
    log.info("created signing key %s (id %s)", p, key_id(key))
    return key


def load_private_key(path: str | Path) -> Ed25519PrivateKey:
    p = Path(path)
    try:
        key = serialization.load_pem_private_key(p.read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise ModuleError(f"signing key {p}: cannot read an unencrypted PEM key ({exc})") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ModuleError(f"signing key {p}: expected an Ed25519 key, got {type(key).__name__}")
    return key


def dev_key() -> Ed25519PrivateKey:
    """The local development key, created (and trusted) on first use."""
    path = edgetwin_home() / "keys" / DEV_KEY_NAME
    if path.exists():
        return load_private_key(path)
    return generate_key(path, trust=True, name="local-dev")


def _trust_path() -> Path:
    return edgetwin_home() / "trusted_keys.json"


def trusted_keys() -> dict[str, dict[str, str]]:
    """The trust list: key id -> {"name", "public_key" (base64 raw)}."""
    path = _trust_path()
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModuleError(f"trust list {path} is unreadable ({exc}); fix or delete it") from exc
    return {str(k): dict(v) for k, v in data.items()}


def trust_key(public_key: bytes, name: str) -> str:
    """Add a raw 32-byte public key to the trust list; return its id."""
    if len(public_key) != 32:
        raise ModuleError(f"public key: expected 32 raw bytes, got {len(public_key)}")
    keys = trusted_keys()
    kid = key_id(public_key)
    keys[kid] = {"name": name, "public_key": base64.b64encode(public_key).decode()}
    path = _trust_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(keys, indent=2, sort_keys=True), encoding="utf-8")
    tmp.replace(path)
    return kid


def signed_payload(file_hashes: dict[str, str]) -> bytes:
    """The exact bytes signed: canonical JSON of {file name: sha256}."""
    return json.dumps(file_hashes, sort_keys=True, separators=(",", ":")).encode()


def sign(file_hashes: dict[str, str], key: Ed25519PrivateKey) -> dict[str, object]:
    """The `signature.json` document for a set of file hashes."""
    return {
        "algorithm": ALGORITHM,
        "key_id": key_id(key),
        "public_key": base64.b64encode(public_key_bytes(key)).decode(),
        "files": dict(sorted(file_hashes.items())),
        "signature": base64.b64encode(key.sign(signed_payload(file_hashes))).decode(),
    }


@dataclass(frozen=True)
class SignatureInfo:
    """Who signed a verified module."""

    key_id: str
    signer: str
    files: dict[str, str]


def verify(
    document: dict[str, object],
    actual_hashes: dict[str, str],
    trusted: dict[str, dict[str, str]] | None = None,
    where: str = "module",
) -> SignatureInfo:
    """Check a `signature.json` document against the files actually present.

    Raises `SignatureError` naming what is wrong: a changed, added or missing file, a bad
    signature, or a key that is not in the trust list.
    """
    if document.get("algorithm") != ALGORITHM:
        raise SignatureError(
            f"{where}: signature algorithm {document.get('algorithm')!r}, expected 'ed25519'"
        )
    listed = document.get("files")
    if not isinstance(listed, dict):
        raise SignatureError(f"{where}: signature.json has no 'files' listing; re-sign the module")
    for name in sorted(set(listed) | set(actual_hashes)):
        if name not in actual_hashes:
            raise SignatureError(f"{where}: tampered: signed file {name!r} is missing")
        if name not in listed:
            raise SignatureError(f"{where}: tampered: file {name!r} was added after signing")
        if listed[name] != actual_hashes[name]:
            raise SignatureError(
                f"{where}: tampered: {name!r} changed after signing (sha256 mismatch)"
            )
    try:
        raw_pub = base64.b64decode(str(document["public_key"]))
        sig = base64.b64decode(str(document["signature"]))
        Ed25519PublicKey.from_public_bytes(raw_pub).verify(sig, signed_payload(actual_hashes))
    except (KeyError, ValueError, InvalidSignature) as exc:
        raise SignatureError(
            f"{where}: tampered: the signature does not match the file list"
        ) from exc
    kid = key_id(raw_pub)
    trust = trusted_keys() if trusted is None else trusted
    entry = trust.get(kid)
    if entry is None or base64.b64decode(entry["public_key"]) != raw_pub:
        raise SignatureError(
            f"{where}: signed by untrusted key {kid}; if you trust its author, add the key with "
            f"`edgetwin module trust` (trust list: {_trust_path()})"
        )
    return SignatureInfo(key_id=kid, signer=entry.get("name", kid), files=dict(actual_hashes))

"""Certificates and trust lists for OPC UA secure channels (Basic256Sha256 Sign / SignAndEncrypt).

`ensure_certificate` creates an application instance certificate (RSA 2048, SHA-256, with the
application URI in subjectAltName as OPC 10000-6 requires) when the files are missing.
A trust list is a folder of DER/PEM certificates: a peer is trusted when its certificate's
SHA-256 fingerprint matches one in the folder. Self-signed application certificates have no CA
to chain to, so exact-certificate pinning is what plant operators do ("copy the cert to
trusted/").
"""

from __future__ import annotations

import hashlib
import logging
import socket
from pathlib import Path

from asyncua import ua
from asyncua.crypto import cert_gen
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID

from edgetwin.core.errors import ConnectError

log = logging.getLogger(__name__)


def ensure_certificate(
    cert_path: str | Path,
    key_path: str | Path,
    app_uri: str,
    *,
    server: bool,
    host: str | None = None,
    common_name: str = "edgetwin",
    days: int = 365,
) -> tuple[Path, Path]:
    """Create a self-signed application certificate (DER) and key (PEM) unless both exist."""
    cert_p, key_p = Path(cert_path), Path(key_path)
    if cert_p.is_file() and key_p.is_file():
        return cert_p, key_p
    host = host or socket.gethostname()
    cert_p.parent.mkdir(parents=True, exist_ok=True)
    key_p.parent.mkdir(parents=True, exist_ok=True)
    key = cert_gen.generate_private_key()
    usage = [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]
    alt_names: list[x509.GeneralName] = [
        x509.UniformResourceIdentifier(app_uri),
        x509.DNSName(host),
        x509.DNSName("localhost"),
    ]
    cert = cert_gen.generate_self_signed_app_certificate(
        key, common_name, {"organizationName": "edgetwin"}, alt_names, extended=usage, days=days
    )
    key_p.write_bytes(cert_gen.dump_private_key_as_pem(key))
    key_p.chmod(0o600)
    cert_p.write_bytes(cert.public_bytes(Encoding.DER))
    log.info("created OPC UA certificate %s for %s", cert_p, app_uri)
    return cert_p, key_p


def load_cert(path: str | Path) -> x509.Certificate:
    data = Path(path).read_bytes()
    if data.lstrip().startswith(b"-----BEGIN"):
        return x509.load_pem_x509_certificate(data)
    return x509.load_der_x509_certificate(data)


def fingerprint(cert: x509.Certificate | bytes) -> str:
    der = cert if isinstance(cert, bytes) else cert.public_bytes(Encoding.DER)
    return hashlib.sha256(der).hexdigest()


class TrustList:
    """A folder of trusted peer certificates, re-read on each check so operators can add files."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def add(self, cert: x509.Certificate | str | Path, name: str | None = None) -> Path:
        c = cert if isinstance(cert, x509.Certificate) else load_cert(cert)
        out = self.folder / f"{name or fingerprint(c)[:16]}.der"
        out.write_bytes(c.public_bytes(Encoding.DER))
        return out

    def fingerprints(self) -> set[str]:
        out: set[str] = set()
        for p in sorted(self.folder.iterdir()):
            if p.suffix.lower() in (".der", ".pem", ".crt", ".cer"):
                try:
                    out.add(fingerprint(load_cert(p)))
                except ValueError:
                    log.warning(
                        "trust list %s: %s is not a certificate; ignored", self.folder, p.name
                    )
        return out

    def is_trusted(self, cert: x509.Certificate | bytes) -> bool:
        return fingerprint(cert) in self.fingerprints()

    async def validate(self, cert: x509.Certificate, app: ua.ApplicationDescription) -> None:
        """asyncua server certificate validator: reject clients whose cert is not in the list."""
        if not self.is_trusted(cert):
            log.warning(
                "rejected OPC UA peer %s: certificate %s not in trust list %s",
                app.ApplicationUri,
                fingerprint(cert)[:16],
                self.folder,
            )
            raise ua.uaerrors.BadCertificateUntrusted

    def require(self, cert_der: bytes, peer: str) -> None:
        """Client side: refuse a server whose certificate is not trusted."""
        if not self.is_trusted(cert_der):
            raise ConnectError(
                f"OPC UA server {peer} presented certificate {fingerprint(cert_der)[:16]}… which is "
                f"not in the trust list {self.folder}; copy the server certificate there to trust it"
            )

"""Who may connect to our OPC UA servers, over which channels, and who may write.

Endpoints: None (only when explicitly allowed), Basic256Sha256 Sign and SignAndEncrypt. Users
are name -> (password, role) with role `reader` (browse, read, subscribe, history) or `writer`
(also Write and Call, i.e. alarm Acknowledge/Shelve). Anonymous sessions may at most read, and
only when `allow_anonymous_read` is set: anonymous write is never allowed, by construction of
`EdgetwinRuleset`, whatever the configuration says.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from asyncua import Server, ua
from asyncua.crypto.permission_rules import PermissionRuleset, User, UserRole

from edgetwin.connect.opcua.conditions import CALLER
from edgetwin.connect.opcua.security import TrustList, ensure_certificate
from edgetwin.connect.opcua.uatypes import nid
from edgetwin.core.errors import ConfigError

log = logging.getLogger(__name__)

_WRITE_TYPES = {
    nid(ua.ObjectIds.WriteRequest_Encoding_DefaultBinary),
    nid(ua.ObjectIds.CallRequest_Encoding_DefaultBinary),
    nid(ua.ObjectIds.HistoryUpdateRequest_Encoding_DefaultBinary),
}
_READ_TYPES = {
    nid(x)
    for x in (
        ua.ObjectIds.CreateSessionRequest_Encoding_DefaultBinary,
        ua.ObjectIds.CloseSessionRequest_Encoding_DefaultBinary,
        ua.ObjectIds.ActivateSessionRequest_Encoding_DefaultBinary,
        ua.ObjectIds.ReadRequest_Encoding_DefaultBinary,
        ua.ObjectIds.BrowseRequest_Encoding_DefaultBinary,
        ua.ObjectIds.BrowseNextRequest_Encoding_DefaultBinary,
        ua.ObjectIds.GetEndpointsRequest_Encoding_DefaultBinary,
        ua.ObjectIds.FindServersRequest_Encoding_DefaultBinary,
        ua.ObjectIds.TranslateBrowsePathsToNodeIdsRequest_Encoding_DefaultBinary,
        ua.ObjectIds.CreateSubscriptionRequest_Encoding_DefaultBinary,
        ua.ObjectIds.ModifySubscriptionRequest_Encoding_DefaultBinary,
        ua.ObjectIds.DeleteSubscriptionsRequest_Encoding_DefaultBinary,
        ua.ObjectIds.TransferSubscriptionsRequest_Encoding_DefaultBinary,
        ua.ObjectIds.CreateMonitoredItemsRequest_Encoding_DefaultBinary,
        ua.ObjectIds.ModifyMonitoredItemsRequest_Encoding_DefaultBinary,
        ua.ObjectIds.DeleteMonitoredItemsRequest_Encoding_DefaultBinary,
        ua.ObjectIds.HistoryReadRequest_Encoding_DefaultBinary,
        ua.ObjectIds.PublishRequest_Encoding_DefaultBinary,
        ua.ObjectIds.RepublishRequest_Encoding_DefaultBinary,
        ua.ObjectIds.CloseSecureChannelRequest_Encoding_DefaultBinary,
        ua.ObjectIds.SetMonitoringModeRequest_Encoding_DefaultBinary,
        ua.ObjectIds.SetPublishingModeRequest_Encoding_DefaultBinary,
        ua.ObjectIds.RegisterNodesRequest_Encoding_DefaultBinary,
        ua.ObjectIds.UnregisterNodesRequest_Encoding_DefaultBinary,
    )
}

_POLICIES = {
    "None": ua.SecurityPolicyType.NoSecurity,
    "Basic256Sha256_Sign": ua.SecurityPolicyType.Basic256Sha256_Sign,
    "Basic256Sha256_SignAndEncrypt": ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt,
}


@dataclass
class UserEntry:
    password: str  # plain text, or "sha256:<hex>" of the password
    role: str = "reader"  # reader | writer

    def check(self, password: str | None) -> bool:
        if password is None:
            return False
        if self.password.startswith("sha256:"):
            digest = hashlib.sha256(password.encode()).hexdigest()
            return hmac.compare_digest(digest, self.password[7:])
        return hmac.compare_digest(password.encode(), self.password.encode())


@dataclass
class ServerSecurity:
    """Endpoints, certificate, trust list and users of one of our OPC UA servers.

    policies: any of None, Basic256Sha256_Sign, Basic256Sha256_SignAndEncrypt.
    trust: folder of client certificates allowed on signed endpoints (None: accept any
    certificate, logged as a warning; use it only on a closed test network).
    """

    policies: list[str] = field(default_factory=lambda: ["None"])
    certificate: str | None = None
    private_key: str | None = None
    trust: str | None = None
    users: dict[str, UserEntry] = field(default_factory=dict)
    allow_anonymous_read: bool = True

    @classmethod
    def from_options(
        cls, raw: dict[str, Any] | None, where: str = "server.opcua"
    ) -> ServerSecurity:
        raw = dict(raw or {})
        users = {}
        for name, u in (raw.pop("users", None) or {}).items():
            if not isinstance(u, dict) or "password" not in u:
                raise ConfigError(
                    f"{where}.users.{name}: give {{password: ..., role: reader|writer}}"
                )
            if u.get("role", "reader") not in ("reader", "writer"):
                raise ConfigError(f"{where}.users.{name}.role must be 'reader' or 'writer'")
            users[name] = UserEntry(str(u["password"]), u.get("role", "reader"))
        known = {"policies", "certificate", "private_key", "trust", "allow_anonymous_read"}
        unknown = set(raw) - known
        if unknown:
            raise ConfigError(
                f"{where}: unknown option(s) {sorted(unknown)}; allowed: {sorted(known)}"
            )
        sec = cls(users=users, **raw)
        bad = [p for p in sec.policies if p not in _POLICIES]
        if bad:
            raise ConfigError(f"{where}.policies: unknown {bad}; choose from {sorted(_POLICIES)}")
        return sec

    @property
    def signed(self) -> bool:
        return any(p != "None" for p in self.policies)


class EdgetwinRuleset(PermissionRuleset):
    """Request-level permissions: writers write and call, readers read, anonymous never writes."""

    def __init__(self, security: ServerSecurity) -> None:
        self.security = security

    def check_validity(self, user: User, action_type_id: ua.NodeId, body: Any) -> bool:
        if user.role == UserRole.Admin:  # the server's own internal session
            return True
        CALLER.set(user.name or "anonymous")  # condition methods record who acted
        if action_type_id in _WRITE_TYPES:
            if user.role == UserRole.Anonymous or user.name is None:
                return False
            entry = self.security.users.get(user.name)
            return entry is not None and entry.role == "writer"
        if action_type_id in _READ_TYPES:
            if user.role == UserRole.Anonymous:
                return self.security.allow_anonymous_read
            return True
        return False


class EdgetwinUserManager:
    """Checks username/password against the configured users; anonymous maps to read-only."""

    def __init__(self, security: ServerSecurity) -> None:
        self.security = security

    def get_user(
        self,
        iserver: Any,
        username: str | None = None,
        password: str | None = None,
        certificate: Any = None,
    ) -> User | None:
        if username is None:  # X509 user tokens are not offered, so this is anonymous
            return User(role=UserRole.Anonymous) if self.security.allow_anonymous_read else None
        entry = self.security.users.get(username)
        if entry is None or not entry.check(password):
            log.warning("OPC UA login refused for user %r", username)
            return None
        return User(role=UserRole.User, name=username)


async def apply_security(server: Server, sec: ServerSecurity, app_uri: str, host: str) -> None:
    """Configure endpoints, certificate, trust list, users and permissions on `server`."""
    ruleset = EdgetwinRuleset(sec)
    server.set_security_policy(
        [_POLICIES[p] for p in sec.policies], permission_ruleset=cast(Any, ruleset)
    )
    tokens: list[type] = [ua.UserNameIdentityToken]
    if sec.allow_anonymous_read:
        tokens.append(ua.AnonymousIdentityToken)
    server.set_identity_tokens(tokens)
    server.iserver.set_user_manager(EdgetwinUserManager(sec))  # type: ignore[arg-type]
    if sec.signed:
        if not (sec.certificate and sec.private_key):
            raise ConfigError(
                "OPC UA server: signed endpoints need certificate and private_key paths "
                "(they are created when missing)"
            )
        cert, key = ensure_certificate(
            sec.certificate, sec.private_key, app_uri, server=True, host=host
        )
        await server.load_certificate(str(cert))
        await server.load_private_key(Path(key))
        if sec.trust:
            server.set_certificate_validator(TrustList(sec.trust).validate)  # type: ignore[arg-type]
        else:
            log.warning("OPC UA server: no trust list; any client certificate is accepted")

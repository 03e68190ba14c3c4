"""API keys (argon2-hashed), JWTs issued for a key, roles, and per-key rate limits.

A key reads ``sk_<key id>_<secret>``: the id finds the row, argon2 checks the whole key. Argon2 is
slow on purpose, so a verified key is remembered by its SHA-256 for a short while; revocation is
checked on every request all the same (one primary-key read).
"""

from __future__ import annotations

import hashlib
import math
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select

from connectors.alerts.ratelimit import TokenBucket
from connectors.api.store import ApiKey, Setting, Store, row_view

ROLES = ("viewer", "analyst", "admin")
_JWT_ALGORITHM = "HS256"
_VERIFIED_TTL_S = 60.0


class AuthError(Exception):
    """401: ``code`` is missing_credentials, invalid_credentials, token_expired or key_revoked."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


class ForbiddenError(Exception):
    """403: the key's role is below what the endpoint needs."""


class RateLimitedError(Exception):
    """429, with the seconds to wait."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"rate limited; retry after {retry_after_s:.2f} s")
        self.retry_after_s = retry_after_s

    @property
    def retry_after_header(self) -> str:
        return str(max(1, math.ceil(self.retry_after_s)))


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's id, name and role."""

    key_id: str
    name: str
    role: str

    def allows(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


@dataclass(frozen=True)
class NewKey:
    key: str
    row: ApiKey


def key_view(row: ApiKey) -> dict[str, Any]:
    """A key as the API shows it (never its hash)."""
    return row_view(
        row, "key_id", "name", "role", "rate_per_s", "burst", "created_at", "revoked_at"
    )


class KeyRing:
    """Creates, checks and revokes keys; issues and checks JWTs; holds the rate-limit buckets."""

    def __init__(self, store: Store, jwt_secret: str = "", jwt_ttl_s: int = 3600) -> None:
        self._store = store
        self._hasher = PasswordHasher()
        self._jwt_secret = jwt_secret
        self.jwt_ttl_s = jwt_ttl_s
        self._verified: dict[bytes, tuple[str, float]] = {}
        self._buckets: dict[str, TokenBucket] = {}
        self._verify_lock = threading.Lock()

    # --- keys ------------------------------------------------------------------------------

    def create(self, name: str, role: str, rate_per_s: float, burst: int) -> NewKey:
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("rate_per_s must be > 0 and burst >= 1")
        key_id = secrets.token_hex(6)
        key = f"sk_{key_id}_{secrets.token_urlsafe(32)}"
        row = ApiKey(
            key_id=key_id,
            name=name,
            role=role,
            secret_hash=self._hasher.hash(key),
            rate_per_s=rate_per_s,
            burst=burst,
            created_at=datetime.now(UTC),
            revoked_at=None,
        )
        with self._store.session() as session:
            session.add(row)
        return NewKey(key, row)

    def all(self) -> list[ApiKey]:
        with self._store.session() as session:
            return list(session.scalars(select(ApiKey).order_by(ApiKey.created_at)))

    def revoke(self, key_id: str) -> bool:
        with self._store.session() as session:
            row = session.get(ApiKey, key_id)
            if row is None:
                return False
            if row.revoked_at is None:
                row.revoked_at = datetime.now(UTC)
        self._verified = {h: v for h, v in self._verified.items() if v[0] != key_id}
        return True

    def _live_row(self, key_id: str) -> ApiKey:
        with self._store.session() as session:
            row = session.get(ApiKey, key_id)
        if row is None:
            raise AuthError("invalid_credentials", "unknown API key")
        if row.revoked_at is not None:
            raise AuthError("key_revoked", "this API key has been revoked")
        return row

    def check_key(self, key: str) -> Principal:
        parts = key.split("_", 2)
        if len(parts) != 3 or parts[0] != "sk" or not parts[1]:
            raise AuthError("invalid_credentials", "malformed API key")
        digest = hashlib.sha256(key.encode()).digest()
        row = self._live_row(parts[1])
        now = time.monotonic()
        if not self._fresh(digest, row.key_id, now):
            # One argon2 check at a time: a hundred clients connecting with one key at once
            # cost one check, not a hundred (each takes tens of ms and 64 MiB).
            with self._verify_lock:
                if not self._fresh(digest, row.key_id, now):
                    try:
                        self._hasher.verify(row.secret_hash, key)
                    except (VerificationError, InvalidHashError):
                        raise AuthError("invalid_credentials", "wrong API key") from None
                    if len(self._verified) > 10_000:
                        self._verified.clear()
                    self._verified[digest] = (row.key_id, now + _VERIFIED_TTL_S)
        return Principal(row.key_id, row.name, row.role)

    def _fresh(self, digest: bytes, key_id: str, now: float) -> bool:
        cached = self._verified.get(digest)
        return cached is not None and cached[0] == key_id and cached[1] >= now

    # --- tokens ----------------------------------------------------------------------------

    def _secret(self) -> str:
        if self._jwt_secret:
            return self._jwt_secret
        # Pods share one generated secret through the database; the first one to start writes it.
        with self._store.session() as session:
            row = session.get(Setting, "jwt_secret")
            if row is None:
                row = Setting(name="jwt_secret", value=secrets.token_urlsafe(48))
                session.add(row)
            self._jwt_secret = str(row.value)
        return self._jwt_secret

    def issue_token(self, principal: Principal) -> str:
        now = int(time.time())
        claims = {
            "sub": principal.key_id,
            "role": principal.role,
            "iat": now,
            "exp": now + self.jwt_ttl_s,
            "jti": secrets.token_hex(8),
        }
        return jwt.encode(claims, self._secret(), algorithm=_JWT_ALGORITHM)

    def check_token(self, token: str) -> Principal:
        try:
            claims = jwt.decode(
                token,
                self._secret(),
                algorithms=[_JWT_ALGORITHM],
                options={"require": ["sub", "exp", "iat"]},
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("token_expired", "the token has expired; get a new one") from None
        except jwt.PyJWTError:
            raise AuthError("invalid_credentials", "invalid token") from None
        row = self._live_row(str(claims["sub"]))
        # The role is the key's current one, not the one at issue time.
        return Principal(row.key_id, row.name, row.role)

    def check(self, credential: str) -> Principal:
        """A key (``sk_…``) or a JWT."""
        if credential.startswith("sk_"):
            return self.check_key(credential)
        return self.check_token(credential)

    # --- rate limit ------------------------------------------------------------------------

    def charge(self, key_id: str) -> None:
        """One request of this key; ``RateLimitedError`` when its bucket is empty."""
        bucket = self._buckets.get(key_id)
        if bucket is None:
            row = self._live_row(key_id)
            bucket = self._buckets[key_id] = TokenBucket(row.rate_per_s, row.burst)
        now = time.monotonic()
        wait = bucket.wait(now)
        if wait > 0:
            raise RateLimitedError(wait)
        bucket.take(now)

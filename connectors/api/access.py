"""Route dependencies: who is calling (key or JWT), whether their role may, and their rate limit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from connectors.api import metrics
from connectors.api.auth import AuthError, ForbiddenError, Principal
from connectors.api.context import ApiContext

# Declared so /docs offers both ways to authorize; read by ``credential`` below.
_key_header = APIKeyHeader(name="X-API-Key", auto_error=False)
_bearer = HTTPBearer(auto_error=False)


def context(conn: HTTPConnection) -> ApiContext:
    ctx: ApiContext = conn.app.state.ctx
    return ctx


def credential(conn: HTTPConnection, allow_query: bool) -> str | None:
    key = conn.headers.get("x-api-key")
    if key:
        return key.strip()
    scheme, _, value = conn.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if allow_query:
        # Browsers cannot set headers on a WebSocket or an EventSource.
        return conn.query_params.get("api_key") or conn.query_params.get("token")
    return None


async def authenticate(conn: HTTPConnection, role: str, allow_query: bool = False) -> Principal:
    ctx = context(conn)
    found = credential(conn, allow_query)
    if not found:
        raise AuthError("missing_credentials", "an API key or bearer token is required")
    if len(found) > 4096:
        raise AuthError("invalid_credentials", "credential too long")
    # argon2 and the database are blocking: off the event loop.
    principal = await run_in_threadpool(ctx.keys.check, found)
    if not principal.allows(role):
        raise ForbiddenError(f"this needs the {role} role; the key has {principal.role}")
    await run_in_threadpool(ctx.keys.charge, principal.key_id)
    return principal


def require(role: str) -> Callable[..., Awaitable[Principal]]:
    async def dependency(
        request: Request,
        _k: str | None = Depends(_key_header),
        _b: HTTPAuthorizationCredentials | None = Depends(_bearer),
    ) -> Principal:
        return await authenticate(request, role)

    return dependency


def count_auth_failure(code: str) -> None:
    metrics.AUTH_FAILURES.labels(code).inc()

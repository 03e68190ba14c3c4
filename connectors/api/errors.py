"""Every error the API answers, as ``{"error": code, "detail": text}``: never a stack trace, never
an echoed secret. Validation errors list the field and the problem, not the value sent."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from connectors.api import metrics
from connectors.api.auth import AuthError, ForbiddenError, RateLimitedError
from connectors.api.filters import FilterError
from connectors.api.routebook import RoutesRejected
from connectors.api.rulebook import RuleRejected
from connectors.archive_query import QueryError

log = logging.getLogger(__name__)


class BadRequest(Exception):
    def __init__(self, code: str, detail: str, status: int = 400) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.status = status


def error_response(
    status: int, code: str, detail: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    if 400 <= status < 500:
        metrics.BAD_REQUESTS.labels(str(status)).inc()
    return JSONResponse({"error": code, "detail": detail}, status_code=status, headers=headers)


def _validation_detail(exc: RequestValidationError) -> tuple[str, str]:
    problems: list[str] = []
    code = "invalid"
    for error in exc.errors()[:10]:
        if error.get("type") == "json_invalid":
            return "malformed_json", "the request body is not valid JSON"
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
        problems.append(f"{where or 'body'}: {error.get('msg', 'invalid')}")
    return code, "; ".join(problems)


def install(app: FastAPI) -> None:
    @app.exception_handler(AuthError)
    async def _auth(_: Request, exc: AuthError) -> JSONResponse:
        metrics.AUTH_FAILURES.labels(exc.code).inc()
        return error_response(401, exc.code, exc.detail, {"WWW-Authenticate": "Bearer"})

    @app.exception_handler(ForbiddenError)
    async def _forbidden(_: Request, exc: ForbiddenError) -> JSONResponse:
        metrics.AUTH_FAILURES.labels("forbidden").inc()
        return error_response(403, "forbidden", str(exc))

    @app.exception_handler(RateLimitedError)
    async def _limited(_: Request, exc: RateLimitedError) -> JSONResponse:
        return error_response(
            429, "rate_limited", str(exc), {"Retry-After": exc.retry_after_header}
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        code, detail = _validation_detail(exc)
        return error_response(400 if code == "malformed_json" else 422, code, detail)

    @app.exception_handler(BadRequest)
    async def _bad(_: Request, exc: BadRequest) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.detail)

    @app.exception_handler(FilterError)
    async def _filter(_: Request, exc: FilterError) -> JSONResponse:
        return error_response(400, exc.code, exc.detail)

    @app.exception_handler(QueryError)
    async def _query(_: Request, exc: QueryError) -> JSONResponse:
        return error_response(400, "invalid_query", str(exc)[:300])

    @app.exception_handler(RuleRejected)
    async def _rule(_: Request, exc: RuleRejected) -> JSONResponse:
        return error_response(422, "invalid", str(exc)[:2000])

    @app.exception_handler(RoutesRejected)
    async def _routes(_: Request, exc: RoutesRejected) -> JSONResponse:
        return error_response(422, "invalid", str(exc)[:2000])

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}
        detail: Any = exc.detail
        return error_response(
            exc.status_code, codes.get(exc.status_code, "error"), str(detail), exc.headers
        )

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        # The type only: a message may carry a payload or a credential.
        log.error(
            "internal error on %s %s: %s", request.method, request.url.path, type(exc).__name__
        )
        return JSONResponse({"error": "internal", "detail": "internal error"}, status_code=500)

"""REST routes under /api/v1 (docs/api.md)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from connectors.api import analytics
from connectors.api.access import context, require
from connectors.api.auth import Principal, key_view
from connectors.api.deliveries import deliveries
from connectors.api.errors import BadRequest
from connectors.api.filters import FilterError, parse_filters
from connectors.api.rulebook import timed_run
from connectors.api.store import Subscription, row_view
from connectors.archive_query import Filters, query

T = TypeVar("T")

_TABLE_PARAMS = {
    "alerts": {"start", "end", "chain", "limit", "cursor"},
    "detections": {"start", "end", "chain", "kind", "limit", "cursor"},
    "transactions": {
        "start",
        "end",
        "chain",
        "kind",
        "sender",
        "to",
        "selector",
        "min_value",
        "limit",
        "cursor",
    },
}


class Strict(BaseModel):
    """Request bodies refuse fields they do not know (a typo is an error, not a no-op)."""

    model_config = ConfigDict(extra="forbid")


class NewKeyBody(Strict):
    name: str = Field(min_length=1, max_length=200)
    role: Literal["viewer", "analyst", "admin"] = "viewer"
    rate_per_s: float | None = Field(default=None, gt=0, le=100_000)
    burst: int | None = Field(default=None, ge=1, le=1_000_000)


class RuleBody(Strict):
    source: str = Field(max_length=256 * 1024)
    format: Literal["yaml", "wat"] = "yaml"
    enabled: bool = True


class RuleTestBody(Strict):
    source: str | None = Field(default=None, max_length=256 * 1024)
    format: Literal["yaml", "wat"] = "yaml"
    name: str | None = Field(default=None, max_length=64)
    limit: int = Field(default=100, ge=0, le=1000)


class BacktestBody(RuleTestBody):
    start: datetime | None = None
    end: datetime | None = None
    chain: list[int] = Field(default_factory=list, max_length=16)


class RoutesBody(Strict):
    routes: list[dict[str, Any]] = Field(max_length=1000)


class RouteBody(Strict):
    """One route (operators/alert_router.py); its name is the path's."""

    name: str | None = Field(default=None, max_length=100)
    when: dict[str, Any] = Field(default_factory=dict)
    send: list[str | dict[str, Any]] = Field(min_length=1, max_length=20)
    stop: bool = False


class SubscriptionBody(Strict):
    name: str = Field(min_length=1, max_length=200)
    stream: Literal["alerts", "transactions", "detections"]
    filters: dict[str, Any] = Field(default_factory=dict)


def _time(name: str, text: str) -> datetime:
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest("invalid_query", f"{name}: not an ISO 8601 time") from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _int(name: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise BadRequest("invalid_query", f"{name}: not an integer") from None


def _table_query(request: Request, table: str) -> tuple[Filters, int, str | None]:
    ctx = context(request)
    params = request.query_params
    unknown = sorted(set(params) - _TABLE_PARAMS[table])
    if unknown:
        raise BadRequest(
            "unknown_parameter",
            f"unknown query parameter {unknown[0][:50]!r}; allowed: {', '.join(sorted(_TABLE_PARAMS[table]))}",
        )
    limit = _int("limit", params.get("limit", "100"))
    if not 1 <= limit <= ctx.settings.max_page:
        raise BadRequest("invalid_query", f"limit must be 1..{ctx.settings.max_page}", 422)
    min_value = params.get("min_value")
    filters = Filters(
        start=_time("start", params["start"]) if "start" in params else None,
        end=_time("end", params["end"]) if "end" in params else None,
        chains=tuple(_int("chain", c) for c in params.getlist("chain")),
        sender=params.get("sender"),
        to=params.get("to"),
        selector=params.get("selector"),
        kind=params.get("kind"),
        min_value=_int("min_value", min_value) if min_value is not None else None,
    )
    return filters, limit, params.get("cursor")


async def _found(what: str, call: Callable[..., T | None], *args: Any) -> T:
    """``call(*args)`` off the event loop; a 404 naming ``what`` when it found nothing (None or
    False)."""
    found = await run_in_threadpool(call, *args)
    if found is None or found is False:
        raise BadRequest("not_found", f"no such {what}", 404)
    return found


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()}


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api/v1")
    viewer, analyst, admin = require("viewer"), require("analyst"), require("admin")

    # --- identity and keys -------------------------------------------------------------------

    @router.post("/token", tags=["auth"])
    async def token(request: Request, who: Principal = Depends(viewer)) -> dict[str, Any]:
        keys = context(request).keys
        return {
            "access_token": keys.issue_token(who),
            "token_type": "bearer",
            "expires_in": keys.jwt_ttl_s,
            "role": who.role,
        }

    @router.get("/me", tags=["auth"])
    async def me(who: Principal = Depends(viewer)) -> dict[str, Any]:
        return {"key_id": who.key_id, "name": who.name, "role": who.role}

    @router.get("/keys", tags=["keys"])
    async def list_keys(request: Request, _: Principal = Depends(admin)) -> dict[str, Any]:
        rows = await run_in_threadpool(context(request).keys.all)
        return {"items": [key_view(r) for r in rows]}

    @router.post("/keys", tags=["keys"], status_code=201)
    async def create_key(
        request: Request, body: NewKeyBody, _: Principal = Depends(admin)
    ) -> dict[str, Any]:
        ctx = context(request)
        new = await run_in_threadpool(
            ctx.keys.create,
            body.name,
            body.role,
            body.rate_per_s or ctx.settings.rate_per_s,
            body.burst or ctx.settings.rate_burst,
        )
        return {**key_view(new.row), "key": new.key}

    @router.delete("/keys/{key_id}", tags=["keys"], status_code=204)
    async def revoke_key(request: Request, key_id: str, _: Principal = Depends(admin)) -> Response:
        await _found("key", context(request).keys.revoke, key_id[:64])
        return Response(status_code=204)

    # --- Time Machine ------------------------------------------------------------------------

    async def page(request: Request, table: str) -> dict[str, Any]:
        filters, limit, cursor = _table_query(request, table)
        ctx = context(request)
        result = await run_in_threadpool(
            query,
            ctx.settings.archive_url,
            table,
            filters,
            limit=limit,
            cursor=cursor,
            storage_options=ctx.settings.storage_options or None,
        )
        return {"items": [_jsonable(r) for r in result.rows], "next_cursor": result.next_cursor}

    @router.get("/alerts", tags=["time machine"])
    async def alerts(request: Request, _: Principal = Depends(viewer)) -> dict[str, Any]:
        return await page(request, "alerts")

    @router.get("/alerts/{key}/deliveries", tags=["alerts"])
    async def alert_deliveries(
        request: Request, key: str, _: Principal = Depends(viewer)
    ) -> dict[str, Any]:
        if len(key) > 300:
            raise BadRequest("invalid", "an alert key is at most 300 characters", 422)
        ctx = context(request)
        # With the Kafka feed, from the outcomes topic (API pods cannot read the flow's files).
        index = ctx.feed.delivery_index if ctx.feed is not None else None
        if index is not None:
            found = index.lookup(key)
        else:
            found = await run_in_threadpool(deliveries, ctx.settings.delivery_log, key)
        if not found:
            raise BadRequest("not_found", "no delivery recorded for this alert", 404)
        return {"key": key, "deliveries": found}

    @router.get("/detections", tags=["time machine"])
    async def detections(request: Request, _: Principal = Depends(viewer)) -> dict[str, Any]:
        return await page(request, "detections")

    @router.get("/transactions", tags=["time machine"])
    async def transactions(request: Request, _: Principal = Depends(viewer)) -> dict[str, Any]:
        return await page(request, "transactions")

    @router.get("/tx/{tx_hash}", tags=["time machine"])
    async def tx(request: Request, tx_hash: str, _: Principal = Depends(viewer)) -> dict[str, Any]:
        if not (tx_hash.startswith("0x") and len(tx_hash) == 66):
            raise BadRequest("invalid", "a tx hash is 0x and 64 hex digits", 422)
        archive = context(request).settings.archive_url
        return await _found("archived transaction", analytics.transaction, archive, tx_hash.lower())

    @router.get("/blocks/{chain_id}/{number}/mev", tags=["time machine"])
    async def block_mev(
        request: Request, chain_id: int, number: int, _: Principal = Depends(viewer)
    ) -> dict[str, Any]:
        rows = await run_in_threadpool(
            analytics.block_mev, context(request).settings.archive_url, chain_id, number
        )
        return {"chain_id": chain_id, "block_number": number, "detections": rows}

    @router.get("/stats", tags=["stats"])
    async def stats(
        request: Request,
        start: datetime | None = None,
        end: datetime | None = None,
        bucket: int = 3600,
        _: Principal = Depends(viewer),
    ) -> dict[str, Any]:
        allowed = {"start", "end", "chain", "bucket"}
        unknown = sorted(set(request.query_params) - allowed)
        if unknown:
            raise BadRequest("unknown_parameter", f"unknown query parameter {unknown[0][:50]!r}")
        if not 60 <= bucket <= 86400 * 31:
            raise BadRequest("invalid_query", "bucket: 60 .. 2678400 seconds", 422)
        chains = tuple(_int("chain", c) for c in request.query_params.getlist("chain"))
        start = start.replace(tzinfo=UTC) if start and not start.tzinfo else start
        end = end.replace(tzinfo=UTC) if end and not end.tzinfo else end
        return await run_in_threadpool(
            analytics.stats, context(request).settings.archive_url, start, end, chains, bucket
        )

    # --- rules -------------------------------------------------------------------------------

    @router.get("/rules", tags=["rules"])
    async def list_rules(request: Request, _: Principal = Depends(viewer)) -> dict[str, Any]:
        return {"items": await run_in_threadpool(context(request).rules.views)}

    @router.get("/rules/{name}", tags=["rules"])
    async def get_rule(
        request: Request, name: str, _: Principal = Depends(viewer)
    ) -> dict[str, Any]:
        return await _found("rule", context(request).rules.get, name[:64])

    @router.put("/rules/{name}", tags=["rules"])
    async def put_rule(
        request: Request, name: str, body: RuleBody, who: Principal = Depends(admin)
    ) -> dict[str, Any]:
        return await run_in_threadpool(
            context(request).rules.put, name, body.format, body.source, body.enabled, who.key_id
        )

    async def _toggle(request: Request, name: str, enabled: bool, who: Principal) -> dict[str, Any]:
        rules = context(request).rules
        return await _found(
            "rule published through the API", rules.set_enabled, name[:64], enabled, who.key_id
        )

    @router.post("/rules/{name}/enable", tags=["rules"])
    async def enable_rule(
        request: Request, name: str, who: Principal = Depends(admin)
    ) -> dict[str, Any]:
        return await _toggle(request, name, True, who)

    @router.post("/rules/{name}/disable", tags=["rules"])
    async def disable_rule(
        request: Request, name: str, who: Principal = Depends(admin)
    ) -> dict[str, Any]:
        return await _toggle(request, name, False, who)

    @router.delete("/rules/{name}", tags=["rules"], status_code=204)
    async def delete_rule(request: Request, name: str, _: Principal = Depends(admin)) -> Response:
        await _found("rule", context(request).rules.delete, name[:64])
        return Response(status_code=204)

    def _rules_of(request: Request, body: RuleTestBody) -> dict[str, tuple[str, str]]:
        ctx = context(request)
        if body.source is not None:
            from connectors.api.rulebook import validate

            validate(body.format, body.source)
            return {"tested": (body.format, body.source)}
        if body.name:
            found = ctx.rules.source_of(body.name)
            if found is None:
                raise BadRequest("not_found", "no such rule", 404)
            return {body.name: found}
        raise BadRequest("invalid", "give a rule 'source' or a rule 'name'", 422)

    @router.post("/rules/test", tags=["rules"])
    async def test_rule(
        request: Request, body: RuleTestBody, _: Principal = Depends(analyst)
    ) -> dict[str, Any]:
        ctx = context(request)

        def run() -> dict[str, Any]:
            return timed_run(_rules_of(request, body), ctx.sample(), body.limit)

        return await run_in_threadpool(run)

    @router.post("/backtests", tags=["rules"], status_code=202)
    async def backtest(
        request: Request, body: BacktestBody, who: Principal = Depends(analyst)
    ) -> dict[str, Any]:
        ctx = context(request)
        rules = await run_in_threadpool(_rules_of, request, body)
        start = (
            body.start.replace(tzinfo=UTC) if body.start and not body.start.tzinfo else body.start
        )
        end = body.end.replace(tzinfo=UTC) if body.end and not body.end.tzinfo else body.end
        params = {
            "rules": sorted(rules),
            "start": start.isoformat() if start else None,
            "end": end.isoformat() if end else None,
            "chain": body.chain,
        }
        filters = Filters(start=start, end=end, chains=tuple(body.chain))
        return await run_in_threadpool(ctx.backtests.submit, rules, filters, params, who.key_id)

    @router.get("/backtests/{job_id}", tags=["rules"])
    async def get_backtest(
        request: Request, job_id: str, _: Principal = Depends(analyst)
    ) -> dict[str, Any]:
        return await _found("job", context(request).backtests.get, job_id[:64])

    # --- alert routes and subscriptions --------------------------------------------------------

    @router.get("/routes", tags=["alerts"])
    async def get_routes(request: Request, _: Principal = Depends(viewer)) -> dict[str, Any]:
        return {"routes": await run_in_threadpool(context(request).routes.document)}

    @router.put("/routes", tags=["alerts"])
    async def put_routes(
        request: Request, body: RoutesBody, _: Principal = Depends(admin)
    ) -> dict[str, Any]:
        routes = await run_in_threadpool(context(request).routes.replace, body.routes)
        return {"routes": routes}

    @router.get("/routes/{name}", tags=["alerts"])
    async def get_route(
        request: Request, name: str, _: Principal = Depends(viewer)
    ) -> dict[str, Any]:
        return await _found("route", context(request).routes.get, name[:100])

    @router.put("/routes/{name}", tags=["alerts"])
    async def put_route(
        request: Request, name: str, body: RouteBody, _: Principal = Depends(admin)
    ) -> dict[str, Any]:
        route = body.model_dump(exclude_unset=True)
        return await run_in_threadpool(context(request).routes.put, name[:200], route)

    @router.delete("/routes/{name}", tags=["alerts"], status_code=204)
    async def delete_route(request: Request, name: str, _: Principal = Depends(admin)) -> Response:
        await _found("route", context(request).routes.delete, name[:100])
        return Response(status_code=204)

    def _subscription_view(row: Subscription) -> dict[str, Any]:
        return row_view(row, "id", "name", "stream", "filters", "created_at")

    @router.get("/subscriptions", tags=["alerts"])
    async def list_subscriptions(
        request: Request, who: Principal = Depends(viewer)
    ) -> dict[str, Any]:
        def read() -> list[dict[str, Any]]:
            with context(request).store.session() as session:
                rows = session.scalars(
                    select(Subscription)
                    .where(Subscription.key_id == who.key_id)
                    .order_by(Subscription.id)
                )
                return [_subscription_view(r) for r in rows]

        return {"items": await run_in_threadpool(read)}

    @router.post("/subscriptions", tags=["alerts"], status_code=201)
    async def create_subscription(
        request: Request, body: SubscriptionBody, who: Principal = Depends(viewer)
    ) -> dict[str, Any]:
        try:
            parse_filters(body.stream, body.filters)
        except FilterError as exc:
            raise BadRequest(exc.code, exc.detail) from None

        def write() -> dict[str, Any]:
            with context(request).store.session() as session:
                row = Subscription(
                    key_id=who.key_id,
                    name=body.name,
                    stream=body.stream,
                    filters=body.filters,
                    created_at=datetime.now(UTC),
                )
                session.add(row)
                session.flush()
                return _subscription_view(row)

        return await run_in_threadpool(write)

    @router.delete("/subscriptions/{sub_id}", tags=["alerts"], status_code=204)
    async def delete_subscription(
        request: Request, sub_id: int, who: Principal = Depends(viewer)
    ) -> Response:
        def delete() -> bool:
            with context(request).store.session() as session:
                row = session.get(Subscription, sub_id)
                if row is None or row.key_id != who.key_id:
                    return False
                session.delete(row)
                return True

        await _found("subscription", delete)
        return Response(status_code=204)

    return router

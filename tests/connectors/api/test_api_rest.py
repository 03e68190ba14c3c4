"""The API's REST side on a real uvicorn with a real httpx client: auth, roles, keys, tokens, rate
limits, the Time Machine over the flow's real archive of the sample, rules, routes and
subscriptions, and hostile requests (clean 4xx, nothing leaked)."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from tests.connectors.api.server import RunningApi, no_leak

pytestmark = pytest.mark.service

# A rule that matches every swap of the sample (rules/README.md's language).
SWAP_RULE = """
rules:
  - id: api-any-swap
    severity: low
    message: "swap by {sender}"
    tags: [api-test]
    when:
      - kind == swap
"""


def client(api: RunningApi, key: str | None = None, **headers: str) -> httpx.Client:
    if key:
        headers["X-API-Key"] = key
    return httpx.Client(base_url=api.url, headers=headers, timeout=60)


def test_open_endpoints_need_no_key(api: RunningApi) -> None:
    with client(api) as c:
        health = c.get("/health")
        assert health.status_code == 200
        assert health.json()["status"] == "ok" and health.json()["db"] == "ok"
        metrics = c.get("/metrics")
        assert "scorpius_api_open_streams" in metrics.text
        assert c.get("/docs").status_code == 200
        assert "/api/v1/alerts" in c.get("/openapi.json").json()["paths"]
        refused = c.get("/api/v1/alerts")
        assert refused.status_code == 401
        assert refused.json()["error"] == "missing_credentials"


def _failures(api: RunningApi) -> float:
    text = httpx.get(f"{api.url}/metrics").text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("scorpius_api_auth_failures_total{")
    )


def test_keys_roles_tokens_and_revocation(api: RunningApi) -> None:
    viewer, analyst, admin = api.key("viewer"), api.key("analyst"), api.key("admin")
    before = _failures(api)
    with client(api, viewer) as c:
        assert c.get("/api/v1/me").json()["role"] == "viewer"
        assert c.get("/api/v1/rules").status_code == 200
        forbidden = c.put("/api/v1/rules/x", json={"source": SWAP_RULE})
        assert forbidden.status_code == 403 and forbidden.json()["error"] == "forbidden"
        assert c.post("/api/v1/rules/test", json={"source": SWAP_RULE}).status_code == 403
        assert c.get("/api/v1/keys").status_code == 403
    with client(api, analyst) as c:
        assert c.post("/api/v1/rules/test", json={"name": "nope"}).status_code == 404
        assert c.put("/api/v1/routes", json={"routes": []}).status_code == 403
    wrong = viewer[:-4] + ("AAAA" if not viewer.endswith("AAAA") else "BBBB")
    with client(api, wrong) as c:
        answer = c.get("/api/v1/me")
        assert answer.status_code == 401 and answer.json()["error"] == "invalid_credentials"
        no_leak(answer.text, wrong)

    # A JWT for a key works like the key, in the Authorization header.
    with client(api, viewer) as c:
        issued = c.post("/api/v1/token").json()
    token = issued["access_token"]
    assert issued["token_type"] == "bearer" and issued["role"] == "viewer"
    with client(api, Authorization=f"Bearer {token}") as c:
        assert c.get("/api/v1/me").json()["role"] == "viewer"

    # Forged (another secret) and expired tokens are refused.
    claims = jwt.decode(token, options={"verify_signature": False})
    forged = jwt.encode(
        {**claims, "role": "admin"}, "not-the-secret-but-long-enough-for-hs256!", algorithm="HS256"
    )
    with client(api, Authorization=f"Bearer {forged}") as c:
        answer = c.get("/api/v1/me")
        assert answer.status_code == 401 and answer.json()["error"] == "invalid_credentials"
    secret = api.ctx.keys._secret()
    expired = jwt.encode(
        {**claims, "iat": int(time.time()) - 7200, "exp": int(time.time()) - 3600},
        secret,
        algorithm="HS256",
    )
    with client(api, Authorization=f"Bearer {expired}") as c:
        answer = c.get("/api/v1/me")
        assert answer.status_code == 401 and answer.json()["error"] == "token_expired"

    # Admin creates and revokes keys; a revoked key and its tokens stop working at once.
    with client(api, admin) as c:
        created = c.post("/api/v1/keys", json={"name": "ci", "role": "viewer"})
        assert created.status_code == 201
        new_key, new_id = created.json()["key"], created.json()["key_id"]
        listed = c.get("/api/v1/keys").json()["items"]
        assert new_id in {k["key_id"] for k in listed}
        assert all("key" not in k and "secret_hash" not in k for k in listed)
        no_leak(json.dumps(listed), new_key)
    with client(api, new_key) as c:
        assert c.get("/api/v1/me").status_code == 200
        new_token = c.post("/api/v1/token").json()["access_token"]
    with client(api, admin) as c:
        assert c.delete(f"/api/v1/keys/{new_id}").status_code == 204
    with client(api, new_key) as c:
        answer = c.get("/api/v1/me")
        assert answer.status_code == 401 and answer.json()["error"] == "key_revoked"
    with client(api, Authorization=f"Bearer {new_token}") as c:
        assert c.get("/api/v1/me").json()["error"] == "key_revoked"
    assert _failures(api) >= before + 6


def test_rate_limit_answers_429_with_retry_after(api: RunningApi) -> None:
    key = api.key("viewer", rate_per_s=0.5, burst=3)
    with client(api, key) as c:
        codes = [c.get("/api/v1/me") for _ in range(4)]
    assert [r.status_code for r in codes[:3]] == [200, 200, 200]
    assert codes[3].status_code == 429
    assert codes[3].json()["error"] == "rate_limited"
    assert int(codes[3].headers["Retry-After"]) >= 1


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_time_machine_pages_with_filters_and_cursor(api: RunningApi, sample_output: Path) -> None:
    key = api.key("viewer")
    detections = _rows(sample_output / "detections.jsonl")
    with client(api, key) as c:
        seen: list[str] = []
        cursor: str | None = None
        pages = 0
        while True:
            params: dict[str, Any] = {"limit": 25, "chain": 1}
            if cursor:
                params["cursor"] = cursor
            page = c.get("/api/v1/detections", params=params).json()
            seen += [row["key"] for row in page["items"]]
            pages += 1
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert pages > 1
        assert len(seen) == len(set(seen))
        assert set(seen) == {d["key"] for d in detections if d["chain_id"] == 1}
        kind = detections[0]["kind"]
        only = c.get("/api/v1/detections", params={"kind": kind, "limit": 1000}).json()["items"]
        assert only and {row["kind"] for row in only} == {kind}
        assert len(only) == len({d["key"] for d in detections if d["kind"] == kind})
        swaps = c.get("/api/v1/transactions", params={"kind": "swap", "limit": 10}).json()
        assert len(swaps["items"]) == 10 and {r["kind"] for r in swaps["items"]} == {"swap"}
        alerts = c.get("/api/v1/alerts", params={"limit": 5}).json()
        assert len(alerts["items"]) == 5


def test_tx_lifecycle_block_mev_and_stats(api: RunningApi, sample_output: Path) -> None:
    key = api.key("viewer")
    detections = _rows(sample_output / "detections.jsonl")
    mined = next(d for d in detections if d["block_number"] is not None)
    with client(api, key) as c:
        tx = c.get(f"/api/v1/tx/{mined['tx_hashes'][0]}").json()
        assert tx["tx"]["hash"] == mined["tx_hashes"][0]
        assert tx["lifecycle"]["first_seen_ms"] > 0
        assert mined["key"] in {d["key"] for d in tx["detections"]}
        assert c.get(f"/api/v1/tx/0x{'0' * 64}").status_code == 404
        block = c.get(f"/api/v1/blocks/{mined['chain_id']}/{mined['block_number']}/mev").json()
        expected = {
            d["key"]
            for d in detections
            if d["block_number"] == mined["block_number"] and d["chain_id"] == mined["chain_id"]
        }
        assert {d["key"] for d in block["detections"]} == expected
        stats = c.get("/api/v1/stats").json()
        counted = sum(row["count"] for row in stats["counts"])
        assert counted == len({d["key"] for d in detections})
        assert stats["top_searchers"] and stats["confirmation_rate"]


def test_rules_publish_enable_disable_test_and_backtest(api: RunningApi) -> None:
    admin, analyst = api.key("admin"), api.key("analyst")
    folder = api.out / "rules"
    with client(api, admin) as c:
        bad = c.put(
            "/api/v1/rules/broken", json={"source": "rules:\n  - id: x\n    when: [kind ==]"}
        )
        assert bad.status_code == 422 and bad.json()["error"] == "invalid"
        assert bad.json()["detail"]  # the compiler's message
        assert not (folder / "broken.yaml").exists()
        put = c.put("/api/v1/rules/anyswap", json={"source": SWAP_RULE})
        assert put.status_code == 200 and put.json()["enabled"] is True
        assert (folder / "anyswap.yaml").read_text() == SWAP_RULE
        assert "anyswap" in {r["name"] for r in c.get("/api/v1/rules").json()["items"]}
        assert c.get("/api/v1/rules/anyswap").json()["source"] == SWAP_RULE
        assert c.post("/api/v1/rules/anyswap/disable").json()["enabled"] is False
        assert not (folder / "anyswap.yaml").exists()
        assert c.post("/api/v1/rules/anyswap/enable").json()["enabled"] is True
        assert (folder / "anyswap.yaml").exists()
        dup = c.put("/api/v1/rules/again", json={"source": SWAP_RULE})
        assert dup.status_code == 422 and "duplicate" in dup.json()["detail"]
    with client(api, analyst) as c:
        tested = c.post("/api/v1/rules/test", json={"name": "anyswap", "limit": 3}).json()
        assert tested["txs"] > 1000 and tested["match_count"] > 0
        assert len(tested["matches"]) == 3
        assert {m["rule_id"] for m in tested["matches"]} == {"api-any-swap"}
        job = c.post("/api/v1/backtests", json={"name": "anyswap"})
        assert job.status_code == 202
        job_id = job.json()["job_id"]
        deadline = time.monotonic() + 60
        while (state := c.get(f"/api/v1/backtests/{job_id}").json())["status"] not in (
            "done",
            "failed",
        ):
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert state["status"] == "done" and state["progress"] == 1.0
        assert state["result"]["matches"] == state["result"]["by_rule"]["api-any-swap"] > 0
    with client(api, admin) as c:
        assert c.delete("/api/v1/rules/anyswap").status_code == 204
        assert not (folder / "anyswap.yaml").exists()
        assert c.delete("/api/v1/rules/anyswap").status_code == 404


def test_routes_and_subscriptions(api: RunningApi) -> None:
    admin, viewer = api.key("admin"), api.key("viewer")
    routes = [
        {"name": "big", "when": {"severity_at_least": "high"}, "send": [{"channel": "slack"}]}
    ]
    with client(api, admin) as c:
        assert c.put("/api/v1/routes", json={"routes": routes}).status_code == 200
        bad = c.put("/api/v1/routes", json={"routes": [{"send": [{"channel": "pigeon"}]}]})
        assert bad.status_code == 422
    with client(api, viewer) as c:
        assert c.get("/api/v1/routes").json() == {"routes": routes}
        made = c.post(
            "/api/v1/subscriptions",
            json={
                "name": "mine",
                "stream": "alerts",
                "filters": {"chain": [1], "severity": "high"},
            },
        )
        assert made.status_code == 201
        assert [s["name"] for s in c.get("/api/v1/subscriptions").json()["items"]] == ["mine"]
        unknown = c.post(
            "/api/v1/subscriptions",
            json={"name": "x", "stream": "alerts", "filters": {"colour": "red"}},
        )
        assert unknown.status_code == 400 and unknown.json()["error"] == "unknown_filter"
        assert c.delete(f"/api/v1/subscriptions/{made.json()['id']}").status_code == 204


def test_hostile_requests_get_clean_4xx_and_leak_nothing(
    api: RunningApi, caplog: pytest.LogCaptureFixture
) -> None:
    admin = api.key("admin")
    caplog.set_level(logging.DEBUG)
    answers: list[httpx.Response] = []
    with client(api, admin) as c:
        answers.append(
            c.put(
                "/api/v1/rules/x",
                content=b'{"source": "rules: [',
                headers={"content-type": "application/json"},
            )
        )
        assert answers[-1].status_code == 400 and answers[-1].json()["error"] == "malformed_json"
        answers.append(
            c.put(
                "/api/v1/rules/x",
                content=b"x" * (2 << 20),
                headers={"content-type": "application/json"},
            )
        )
        assert answers[-1].status_code == 413
        answers.append(c.put("/api/v1/rules/x", json={"source": 12, "format": "exe"}))
        assert answers[-1].status_code == 422
        answers.append(c.post("/api/v1/keys", json={"name": "x", "role": "root"}))
        assert answers[-1].status_code == 422
        answers.append(c.get("/api/v1/alerts", params={"limit": 10**9}))
        assert answers[-1].status_code == 422
        answers.append(c.get("/api/v1/alerts", params={"limit": "lots"}))
        assert answers[-1].status_code == 400
        answers.append(c.get("/api/v1/transactions", params={"colour": "red"}))
        assert answers[-1].status_code == 400 and "colour" in answers[-1].json()["detail"]
        answers.append(c.get("/api/v1/alerts", params={"cursor": "%%%not-base64"}))
        assert answers[-1].status_code == 400
        answers.append(c.get("/api/v1/alerts", params={"start": "yesterday"}))
        assert answers[-1].status_code == 400
        answers.append(c.get("/api/v1/blocks/one/two/mev"))
        assert answers[-1].status_code == 422
        answers.append(c.post("/api/v1/rules/test", json=[1, 2, 3]))
        assert answers[-1].status_code == 422
    with client(api, Authorization="Bearer " + "A" * 10_000) as c:
        answers.append(c.get("/api/v1/me"))
        assert answers[-1].status_code == 401
    for answer in answers:
        assert answer.headers["content-type"].startswith("application/json")
        assert set(answer.json()) == {"error", "detail"}
        no_leak(answer.text, admin)
    no_leak(caplog.text, admin)


# Endpoints any key may call (every other one needs a role above viewer).
_VIEWER_METHODS = {"GET"}
_VIEWER_WRITES = {("POST", "/api/v1/token"), ("POST", "/api/v1/subscriptions")}
_VIEWER_WRITES |= {("DELETE", "/api/v1/subscriptions/{sub_id}")}
_ANALYST = {("POST", "/api/v1/rules/test"), ("POST", "/api/v1/backtests")}
_ANALYST |= {("GET", "/api/v1/backtests/{job_id}")}
_ADMIN_READS = {("GET", "/api/v1/keys")}


def _routes(api: RunningApi) -> list[tuple[str, str]]:
    paths = httpx.get(f"{api.url}/openapi.json").json()["paths"]
    return [
        (method.upper(), path)
        for path, methods in paths.items()
        for method in methods
        if path.startswith("/api/")
    ]


def _concrete(path: str) -> str:
    return (
        path.replace("{chain_id}", "1")
        .replace("{number}", "1")
        .replace("{hash}", "0x" + "0" * 64)
        .replace("{sub_id}", "1")
        .replace("{key_id}", "nope")
        .replace("{job_id}", "nope")
        .replace("{name}", "nope")
    )


def test_every_endpoint_refuses_a_missing_key_and_a_too_low_role(api: RunningApi) -> None:
    viewer, analyst = api.key("viewer"), api.key("analyst")
    routes = _routes(api)
    assert len(routes) >= 25  # every REST endpoint of docs/api.md
    for method, path in routes:
        with client(api) as c:
            answer = c.request(method, _concrete(path), json={})
            assert answer.status_code == 401, (method, path, answer.text)
            assert answer.json()["error"] == "missing_credentials"
        route = (method, path)
        if method in _VIEWER_METHODS and route not in _ANALYST | _ADMIN_READS:
            continue
        if route in _VIEWER_WRITES:
            continue
        with client(api, viewer) as c:
            answer = c.request(method, _concrete(path), json={})
            assert answer.status_code == 403, (method, path, answer.text)
            assert answer.json()["error"] == "forbidden"
        if route in _ANALYST:
            continue
        with client(api, analyst) as c:  # admin only
            answer = c.request(method, _concrete(path), json={})
            assert answer.status_code == 403, (method, path, answer.text)

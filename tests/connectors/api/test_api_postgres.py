"""The API's store on a real PostgreSQL (Debian's, started by the session fixture): the Alembic
migrations, and two API processes sharing one database as stateless pods do (a key created or
revoked on one holds on the other, a token issued by one is accepted by the other)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, inspect, text

from tests.connectors.api.server import running_api

pytestmark = pytest.mark.service


def test_two_api_pods_share_keys_tokens_and_rules_through_postgres(
    postgres_url: str, tmp_path: Path
) -> None:
    env = {"SCORPIUS_API_DATABASE_URL": postgres_url, "SCORPIUS_API_FEED": "none"}
    with running_api(tmp_path / "a", env) as pod_a, running_api(tmp_path / "b", env) as pod_b:
        engine = create_engine(postgres_url)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0001"
        assert {"api_keys", "rule_sets", "settings", "subscriptions", "jobs"} <= set(
            inspect(engine).get_table_names()
        )
        admin = pod_a.key("admin")
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT secret_hash FROM api_keys")).scalar_one()
        assert stored.startswith("$argon2") and admin not in stored

        with httpx.Client(base_url=pod_a.url, headers={"X-API-Key": admin}) as a:
            created = a.post("/api/v1/keys", json={"name": "shared", "role": "viewer"}).json()
            token = a.post("/api/v1/token").json()["access_token"]
            rule = "rules:\n  - id: pg-rule\n    severity: low\n    when: [kind == swap]\n"
            assert a.put("/api/v1/rules/pg", json={"source": rule}).status_code == 200
        with httpx.Client(base_url=pod_b.url) as b:
            assert b.get("/api/v1/me", headers={"X-API-Key": created["key"]}).status_code == 200
            me = b.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json()
            assert me["role"] == "admin"
            rules = b.get("/api/v1/rules", headers={"X-API-Key": admin}).json()["items"]
            assert "pg" in {r["name"] for r in rules}
            assert b.get("/health").json()["db"] == "ok"
        with httpx.Client(base_url=pod_b.url, headers={"X-API-Key": admin}) as b:
            assert b.delete(f"/api/v1/keys/{created['key_id']}").status_code == 204
        with httpx.Client(base_url=pod_a.url) as a:
            refused = a.get("/api/v1/me", headers={"X-API-Key": created["key"]})
            assert refused.status_code == 401 and refused.json()["error"] == "key_revoked"
        engine.dispose()


def test_route_edits_on_two_pods_build_one_document_in_postgres(
    postgres_url: str, tmp_path: Path
) -> None:
    """Each edit reads the stored document under a row lock and writes it back whole: edits
    made on two pods, one after the other, both stay."""
    env = {"SCORPIUS_API_DATABASE_URL": postgres_url, "SCORPIUS_API_FEED": "none"}
    with running_api(tmp_path / "a", env) as pod_a, running_api(tmp_path / "b", env) as pod_b:
        admin = pod_a.key("admin")
        headers = {"X-API-Key": admin}
        with httpx.Client(base_url=pod_a.url, headers=headers) as a:
            assert a.put("/api/v1/routes", json={"routes": []}).status_code == 200
            assert a.put("/api/v1/routes/pg-a", json={"send": ["slack"]}).status_code == 200
        with httpx.Client(base_url=pod_b.url, headers=headers) as b:
            assert b.put("/api/v1/routes/pg-b", json={"send": ["discord"]}).status_code == 200
            names = [r["name"] for r in b.get("/api/v1/routes").json()["routes"]]
            assert names == ["pg-a", "pg-b"]
            assert b.delete("/api/v1/routes/pg-a").status_code == 204
        with httpx.Client(base_url=pod_a.url, headers=headers) as a:
            assert a.get("/api/v1/routes").json() == {
                "routes": [{"name": "pg-b", "send": ["discord"]}]
            }

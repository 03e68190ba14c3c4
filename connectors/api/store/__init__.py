"""Keys, rule sets, routes, subscriptions and jobs in one SQL database (SQLAlchemy + Alembic).

SQLite is the embedded default; PostgreSQL (``postgresql+psycopg://``) in production. The schema
is created and upgraded by the Alembic migrations in ``migrations/`` (``migrate``), never by
``create_all``, so a production database follows the same steps as a test one.
"""

from connectors.api.store.db import Store, migrate
from connectors.api.store.models import ApiKey, Job, RuleSet, Setting, Subscription, row_view

__all__ = [
    "ApiKey",
    "Job",
    "RuleSet",
    "Setting",
    "Store",
    "Subscription",
    "migrate",
    "row_view",
]

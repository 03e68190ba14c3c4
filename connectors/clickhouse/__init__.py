"""ClickHouse: the analytics store (schema in ``schema.sql``, sink in ``sink``)."""

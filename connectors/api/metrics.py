"""The API's Prometheus metrics (served on ``/metrics`` with the process's other metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

REQUEST_SECONDS = Histogram(
    "scorpius_api_request_seconds",
    "REST request latency by route template and status class",
    ["route", "method", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
OPEN_STREAMS = Gauge("scorpius_api_open_streams", "Open stream connections", ["stream"])
PUBLISHED = Counter("scorpius_api_published_total", "Messages the feed brought in", ["stream"])
SENT = Counter("scorpius_api_sent_total", "Messages sent to stream clients", ["stream"])
DROPPED = Counter(
    "scorpius_api_dropped_total", "Messages skipped for slow stream clients", ["stream"]
)
SLOW_CLOSED = Counter(
    "scorpius_api_slow_clients_closed_total", "Stream clients closed for being too slow", ["stream"]
)
AUTH_FAILURES = Counter("scorpius_api_auth_failures_total", "Refused credentials", ["reason"])
BAD_REQUESTS = Counter("scorpius_api_bad_requests_total", "4xx answers", ["status"])
FEED_ERRORS = Counter(
    "scorpius_api_feed_errors_total", "Feed records that could not be read", ["feed"]
)

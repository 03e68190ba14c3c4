"""Routing alerts to channels and recipients (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from operators.alert_router import (
    Router,
    RoutesError,
    Target,
    default_routes,
    load_routes,
    parse_routes,
    severity_rank,
)
from operators.alerting import to_alert
from operators.records import Alert, Detection, RuleMatch

ROUTES = """
routes:
  - name: drainers
    when:
      severity_at_least: high
      chains: [ethereum, 8453]
      tags_any: [drainer, phishing]
      origins: ["rule:drainer_*"]
    send:
      - channel: slack_api
        to: [C_SEC]
      - channel: email
        to: [secops@example.org]
    stop: true
  - name: everything-loud
    when: {severity_at_least: high}
    send: [discord, {channel: slack_api}]
  - name: sandwiches
    when: {origins: ["detector:sandwich"], tags_all: [sandwich]}
    send: [webhook]
"""


def rule_alert(**overrides: object) -> Alert:
    match = RuleMatch(
        key="0xabc:drainer_approval",
        rule_id="drainer_approval",
        severity="critical",
        message="approval to drainer",
        chain_id=1,
        tx_hash="0xabc",
        first_seen_ms=1,
        matched_ms=2,
        tags=("drainer",),
    )
    a = to_alert(match, now_ms=3)
    fields = {f: getattr(a, f) for f in a.__struct_fields__}
    fields.update(overrides)
    return Alert(**fields)


def router(text: str = ROUTES) -> Router:
    import yaml

    return Router(parse_routes(yaml.safe_load(text)), {"slack_api": ("C_DEFAULT",)})


def test_a_matching_route_with_stop_ends_the_search() -> None:
    assert router().targets(rule_alert()) == [
        Target("slack_api", "C_SEC", "drainers"),
        Target("email", "secops@example.org", "drainers"),
    ]


def test_conditions_each_exclude() -> None:
    r = router()
    # Another chain, a lower severity, no drainer tag, another origin: not "drainers".
    for other in (
        rule_alert(chain_id=10),
        rule_alert(tags=("phish",)),
        rule_alert(origin="rule:other"),
    ):
        assert [t.route for t in r.targets(other)] == ["everything-loud", "everything-loud"]
    assert r.targets(rule_alert(severity="medium")) == []


def test_routes_without_recipients_use_the_channel_default_and_pairs_are_unique() -> None:
    targets = router().targets(rule_alert(chain_id=10))
    assert targets == [
        Target("discord", "default", "everything-loud"),
        Target("slack_api", "C_DEFAULT", "everything-loud"),
    ]


def test_detections_route_by_origin_and_tags() -> None:
    d = Detection(
        key="sandwich:1:0x1",
        kind="sandwich",
        chain_id=1,
        tx_hashes=("0x1", "0x2", "0x3"),
        first_seen_ms=1,
        detected_ms=2,
        severity="low",
    )
    assert router().targets(to_alert(d, now_ms=3)) == [Target("webhook", "default", "sandwiches")]


def test_unknown_severities_rank_highest_so_they_are_not_hidden() -> None:
    assert severity_rank("CRITICAL") == severity_rank("critical") == 4
    assert severity_rank("severe") == 4
    assert severity_rank("info") == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("routes: {}", "top-level 'routes:' list"),
        ("routes:\n  - send: [pager]", "each 'send' entry needs a channel"),
        ("routes:\n  - send: []", "'send' must be a non-empty list"),
        ("routes:\n  - when: {chains: [solana]}\n    send: [slack]", "unknown chain 'solana'"),
        ("routes:\n  - when: {severity_at_least: loud}\n    send: [slack]", "severity_at_least"),
        ("routes:\n  - when: {tag: [x]}\n    send: [slack]", "unknown conditions ['tag']"),
        ("routes:\n  - send: [{channel: slack, to: [x]}]", "slack has one destination"),
    ],
)
def test_bad_routes_say_what_is_wrong(text: str, message: str) -> None:
    import yaml

    with pytest.raises(RoutesError, match=message.replace("[", r"\[").replace("(", r"\(")):
        parse_routes(yaml.safe_load(text))


def test_check_fails_on_channels_that_are_not_configured_or_have_nobody_to_send_to() -> None:
    with pytest.raises(RoutesError, match="sends to 'discord', which is not configured"):
        router().check(["slack_api", "email", "webhook"])
    no_default = Router(router().routes, {})
    with pytest.raises(RoutesError, match="sends to 'slack_api' without 'to'"):
        no_default.check(["slack_api", "email", "webhook", "discord"])
    router().check(["slack_api", "email", "webhook", "discord"])


def test_default_route_sends_at_or_above_the_minimum_to_every_enabled_channel() -> None:
    r = Router(default_routes(["slack", "email"], "high"), {"email": ("a@x", "b@x")})
    assert [(t.channel, t.recipient) for t in r.targets(rule_alert())] == [
        ("slack", "default"),
        ("email", "a@x"),
        ("email", "b@x"),
    ]
    assert r.targets(rule_alert(severity="medium")) == []
    assert default_routes([], "high") == ()


def test_load_routes_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "routes.yaml"
    path.write_text("routes:\n  - send: [nope]\n")
    with pytest.raises(RoutesError, match=str(path)):
        load_routes(path)
    path.write_text(ROUTES)
    assert [r.name for r in load_routes(path)] == ["drainers", "everything-loud", "sandwiches"]

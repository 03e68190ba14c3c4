"""The web console in a real headless chromium, against ``scorpius serve --flow`` replaying the sample.

Every page renders the flow's real data; the Alerts page shows a new alert within 1 s of the flow
creating it; filters narrow what is shown; a typo in a rule shows the compiler's message on its
line; a valid rule backtests, publishes and is then matched by the running flow; a viewer key gets
no publish button. Each page's screenshot is saved to docs/console/<page>.png.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.web.conftest import SCREENSHOTS, Served

pytestmark = [pytest.mark.slow, pytest.mark.service, pytest.mark.browser]

VIEWPORT = {"width": 1440, "height": 900}


@pytest.fixture
def sign_in(browser: Any, served: Served) -> Iterator[Callable[[str], Any]]:
    contexts: list[Any] = []
    errors: list[str] = []

    def open_as(role: str) -> Any:
        context = browser.new_context(viewport=VIEWPORT)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{served.url}/#/signin")
        page.fill("[data-testid=api-key]", served.keys[role])
        page.click("[data-testid=sign-in]")
        page.wait_for_selector("main[data-page=live]")
        assert role in page.inner_text("[data-testid=who]")
        return page

    yield open_as
    for context in contexts:
        context.close()
    assert not errors, f"errors in the page: {errors}"


def goto(page: Any, served: Served, route: str) -> None:
    page.goto(f"{served.url}/#/{route}")


def shoot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    # The machine may be busy (2 cores shared by the suite): a generous timeout, no animations.
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), animations="disabled", timeout=120_000)


def texts(page: Any, selector: str) -> list[str]:
    return [t.strip() for t in page.locator(selector).all_inner_texts()]


def wait_until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout:.0f} s: {what}")


def test_sign_in_refuses_a_wrong_key_and_shows_the_role(browser: Any, served: Served) -> None:
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.goto(served.url)
    page.wait_for_selector("[data-testid=api-key]")
    page.fill("[data-testid=api-key]", "sk_not_a_key")
    page.click("[data-testid=sign-in]")
    page.wait_for_selector("[role=alert]")
    assert page.locator("main[data-page=signin]").count() == 1
    page.fill("[data-testid=api-key]", served.keys["analyst"])
    page.click("[data-testid=sign-in]")
    page.wait_for_selector("main[data-page=live]")
    assert "analyst" in page.inner_text("[data-testid=who]")
    goto(page, served, "signin")
    page.wait_for_selector("[data-testid=sign-out]")
    shoot(page, "signin")
    context.close()


def test_live_page_streams_real_txs_and_filters_them(
    sign_in: Callable[[str], Any], served: Served
) -> None:
    page = sign_in("viewer")
    rows = "[data-testid=live-table] tbody tr.clickable"
    page.wait_for_selector(rows, timeout=60_000)
    wait_until(lambda: page.locator(rows).count() >= 10, 60, "ten live txs")
    first = page.locator(rows).first.inner_text()
    assert "0x" in first and ("pending" in first or "block" in first)
    wait_until(
        lambda: "total 0.0 tx/s" not in page.inner_text("[data-testid=rates]"), 30, "a rate readout"
    )
    shoot(page, "live")
    assert page.locator(rows).count() <= 200

    # Pause: the table stops moving while the stream goes on.
    newest = f"{rows} td:nth-child(4) .hash"
    page.click("[data-testid=pause]")
    frozen = page.locator(newest).first.get_attribute("data-full")
    time.sleep(1.5)
    assert page.locator(newest).first.get_attribute("data-full") == frozen
    page.click("[data-testid=pause]")
    wait_until(
        lambda: page.locator(newest).first.get_attribute("data-full") != frozen,
        30,
        "new rows after resume",
    )

    # Kind filter (applied by the server): only swaps.
    page.select_option("[data-testid=filter-kind]", "swap")

    def only_swaps() -> bool:
        kinds = texts(page, f"{rows} td:nth-child(8)")
        return bool(kinds) and set(kinds) == {"swap"}

    wait_until(only_swaps, 60, "live rows, all swaps")
    page.select_option("[data-testid=filter-kind]", "")

    # Address filter: only txs from or to one address seen on the page.
    wait_until(lambda: page.locator(rows).count() >= 5, 60, "txs after clearing the filter")
    sender = page.locator(f"{rows} td:nth-child(5) .hash").first.get_attribute("data-full")
    assert sender
    page.fill("[data-testid=filter-address]", sender)
    time.sleep(2)  # rows keep arriving; only the address's stay
    shown = page.locator(rows).all()
    assert shown, "the row the address came from is gone"
    for row in shown:
        assert sender in (row.inner_html() or "")


def test_tx_page_shows_lifecycle_call_and_detections(
    sign_in: Callable[[str], Any], served: Served
) -> None:
    page = sign_in("viewer")

    # A tx some detector named: it has a lifecycle, a decoded call and detections to show.
    def named_tx() -> str | None:
        for alert in served.alerts():
            if alert["origin"].startswith("detector:sandwich") or alert["origin"].startswith(
                "rule:swap"
            ):
                return str(alert["tx_hashes"][0])
        return None

    tx_hash = wait_until(named_tx, 120, "an alert naming a swap tx")
    goto(page, served, f"tx/{tx_hash}")
    page.wait_for_selector("[data-testid=timeline]", timeout=90_000)
    timeline = page.inner_text("[data-testid=timeline]")
    assert "first seen" in timeline
    assert tx_hash[:6] in page.inner_text("h1")
    main = page.inner_text("main")
    assert "Detections (0)" not in main or "Rule matches (0)" not in main, main
    shoot(page, "tx")


def test_mev_page_shows_findings_and_drills_into_legs(
    sign_in: Callable[[str], Any], served: Served
) -> None:
    page = sign_in("viewer")
    goto(page, served, "mev")
    rows = "[data-testid=findings] tbody tr.clickable"
    wait_until(lambda: page.locator(rows).count() >= 3, 120, "three MEV findings")
    page.select_option("[data-testid=mev-kind]", "sandwich")
    # The table re-renders after the filter: wait for the filtered rows, not any rows.
    wait_until(
        lambda: set(texts(page, f"{rows} td:nth-child(3)")) == {"sandwich"},
        60,
        "only sandwich findings",
    )
    page.locator(rows).first.click()
    legs = page.locator("[data-testid=legs]")
    legs.wait_for()
    assert {"frontrun", "victim", "backrun"} <= set(texts(page, "[data-testid=legs] .badge"))
    amounts = texts(page, "[data-testid=legs] tbody td:nth-child(6)")
    assert amounts and all(a.strip() for a in amounts), amounts  # every leg's amount in
    wait_until(
        lambda: page.locator("[data-testid=mev-chart] canvas").count() == 1,
        60,
        "the findings chart",
    )
    assert page.locator("[data-testid=top-searchers] tbody tr").count() >= 1
    shoot(page, "mev")


def test_alerts_page_shows_a_new_alert_within_a_second(
    sign_in: Callable[[str], Any], served: Served
) -> None:
    page = sign_in("viewer")
    goto(page, served, "alerts")
    page.wait_for_selector("[data-testid=alerts-table] tbody [data-key]", timeout=60_000)
    # Stamp the moment each alert row first appears in the page (the page's own clock).
    page.evaluate(
        """() => {
          window.__seen = {};
          const stamp = () => { for (const el of document.querySelectorAll('[data-key]')) {
            const k = el.getAttribute('data-key'); if (!(k in window.__seen)) window.__seen[k] = Date.now(); } };
          stamp();
          new MutationObserver(stamp).observe(document.body, {childList: true, subtree: true});
        }"""
    )
    before = {a["key"] for a in served.alerts()}
    fresh: list[dict[str, Any]] = wait_until(
        lambda: [a for a in served.alerts() if a["key"] not in before],
        120,
        "the flow emitting new alerts",
    )
    time.sleep(1.5)
    seen = page.evaluate("() => window.__seen")
    delays = []
    for alert in fresh:
        assert alert["key"] in seen, f"alert {alert['key']} never appeared"
        delays.append(seen[alert["key"]] - alert["created_ms"])
    print(f"alert delays from creation in the flow to the page (ms): {sorted(delays)}")
    assert max(delays) <= 1000, delays
    shoot(page, "alerts")


def test_alert_filters_narrow_the_table(sign_in: Callable[[str], Any], served: Served) -> None:
    page = sign_in("viewer")
    goto(page, served, "alerts")
    rows = "[data-testid=alerts-table] tbody tr"
    wait_until(lambda: page.locator(f"{rows} [data-key]").count() >= 5, 60, "five alerts")
    page.select_option("[data-testid=alerts-severity]", "high")
    severities = texts(page, f"{rows} td:nth-child(2)")
    assert severities and set(severities) <= {"high", "critical"}, severities
    page.select_option("[data-testid=alerts-severity]", "")
    rule_kinds = texts(page, f"{rows} td:nth-child(4)")
    assert "rule" in rule_kinds
    page.select_option("[data-testid=alerts-kind]", "rule")
    assert set(texts(page, f"{rows} td:nth-child(4)")) == {"rule"}
    rule_ids = [o for o in texts(page, "[data-testid=alerts-rule] option") if o != "any"]
    page.select_option("[data-testid=alerts-rule]", rule_ids[0])
    assert set(texts(page, f"{rows} td:nth-child(5)")) == {rule_ids[0]}


def replace_editor_text(page: Any, text: str) -> None:
    page.click("[data-testid=editor] .cm-content")
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.insert_text(text)


TYPO_RULE = """rules:
  - id: typo-rule
    severity: high
    when:
      - kind == transfer
      - valu_eth >= 1
"""


def test_a_typo_shows_the_compilers_message_on_its_line(
    sign_in: Callable[[str], Any], served: Served
) -> None:
    page = sign_in("analyst")
    goto(page, served, "rules")
    page.wait_for_selector("[data-testid=editor] .cm-content")
    replace_editor_text(page, TYPO_RULE)
    message = page.locator("[data-testid=compiler-message]")
    message.wait_for(timeout=15_000)
    assert "valu_eth" in message.inner_text()
    line = message.evaluate("el => el.closest('.cm-line').textContent")
    assert "valu_eth >= 1" in line
    assert "line 6" in page.inner_text("[data-testid=problems]")
    # Fixing the typo clears the message as you type.
    replace_editor_text(page, TYPO_RULE.replace("valu_eth", "value_eth"))
    wait_until(
        lambda: page.locator("[data-testid=compiler-message]").count() == 0,
        15,
        "the message to clear",
    )
    wait_until(
        lambda: "compiles" in page.inner_text("[data-testid=validation]"), 15, "the rule to compile"
    )


PUBLISHED_RULE = """rules:
  - id: console-e2e-transfers
    severity: low
    message: "{value_eth:,.3f} ETH from {sender}"
    tags: [console-e2e]
    when:
      - kind == transfer
"""


def test_a_valid_rule_backtests_publishes_and_the_flow_matches_it(
    sign_in: Callable[[str], Any], served: Served
) -> None:
    page = sign_in("admin")
    goto(page, served, "rules")
    page.wait_for_selector("[data-testid=editor] .cm-content")
    page.fill("[data-testid=rule-name]", "console_e2e")
    replace_editor_text(page, PUBLISHED_RULE)
    wait_until(
        lambda: "compiles" in page.inner_text("[data-testid=validation]"), 20, "the rule to compile"
    )
    assert page.locator("[data-testid=sample-matches] tr").count() >= 1
    page.click("[data-testid=backtest]")
    result = page.locator("[data-testid=job-result]")
    result.wait_for(timeout=120_000)
    assert "console-e2e-transfers" in result.inner_text()
    assert "done" in page.inner_text("[data-testid=job]")
    shoot(page, "rules")
    published_at = time.time() * 1000
    page.click("[data-testid=publish]")
    page.wait_for_selector("[data-testid=notice]")
    assert page.locator("[data-testid=rule-list]").filter(has_text="console_e2e").count() == 1

    # The running flow picks the rule up and matches it: its alerts reach the Alerts page.
    def matched() -> bool:
        return any(
            a["origin"] == "rule:console-e2e-transfers" and a["created_ms"] >= published_at
            for a in served.alerts()
        )

    wait_until(matched, 60, "the flow to match the published rule")
    goto(page, served, "alerts")
    page.fill("[data-testid=alerts-search]", "console-e2e")
    page.wait_for_selector("[data-testid=alerts-table] tbody [data-key^='rule:']", timeout=30_000)
    assert "console-e2e-transfers" in page.inner_text("[data-testid=alerts-table]")


def test_a_viewer_cannot_publish(sign_in: Callable[[str], Any], served: Served) -> None:
    page = sign_in("viewer")
    goto(page, served, "rules")
    page.wait_for_selector("[data-testid=rule-list] tr")
    assert page.locator("[data-testid=publish]").count() == 0
    assert page.locator("[data-testid=backtest]").count() == 0
    assert page.locator("[data-testid^=toggle-]").count() == 0
    assert "viewer" in page.inner_text("main")


def test_status_page_shows_stage_rates_and_sinks(
    sign_in: Callable[[str], Any], served: Served
) -> None:
    page = sign_in("viewer")
    goto(page, served, "status")
    page.wait_for_selector("[data-testid=stages] tbody tr", timeout=30_000)
    stages = page.inner_text("[data-testid=stages]")
    assert "transactions" in stages and "alerts" in stages
    wait_until(
        lambda: page.locator("[data-testid=status-chart] canvas").count() == 1,
        10,
        "the rates chart",
    )
    time.sleep(3)  # a few seconds of rates on the chart
    assert "ok" in page.inner_text("[data-testid=sinks]")
    shoot(page, "status")

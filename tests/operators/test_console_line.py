"""The console form of an alert: full hashes, labelled addresses, severity colour, one line."""

from __future__ import annotations

from operators.alerting import SEVERITY_COLORS, at_least, console_line, detection_title
from operators.records import Alert, Detection

USDT = "0xdac17f958d2ee523a2206206994597c13d831ec7"
HASHES = ("0x" + "ab" * 32, "0x" + "cd" * 32)


def alert(title: str, severity: str = "high") -> Alert:
    return Alert(
        key="k",
        origin="rule:r",
        severity=severity,
        title=title,
        chain_id=1,
        tx_hashes=HASHES,
        first_seen_ms=0,
        created_ms=0,
    )


def labels(chain_id: int, address: str) -> str | None:
    return {(1, USDT): "USDT"}.get((chain_id, address))


def test_hashes_in_full_and_known_addresses_by_label() -> None:
    other = "0x" + "12" * 20
    line = console_line(alert(f"{other} approved token {USDT.upper().replace('0X', '0x')}"), labels)
    assert line.endswith(f"tx {HASHES[0]} {HASHES[1]}")
    assert "token USDT" in line and other in line
    assert line.startswith("HIGH     ethereum  rule:r: ")


def test_one_line_whatever_the_title_holds() -> None:
    line = console_line(alert("first\nsecond\r\nthird"))
    assert "\n" not in line and "\r" not in line and "first second third" in line


def test_colour_only_when_asked() -> None:
    plain = console_line(alert("t", "critical"))
    coloured = console_line(alert("t", "critical"), color=True)
    assert "\x1b[" not in plain
    assert coloured.startswith(SEVERITY_COLORS["critical"]) and "\x1b[0m" in coloured


def test_severity_threshold() -> None:
    assert at_least("critical", "high") and at_least("high", "high")
    assert not at_least("medium", "high") and at_least("info", "info")


def test_detection_titles_leave_the_hashes_to_the_alert() -> None:
    d = Detection(
        key="d",
        kind="sandwich",
        chain_id=1,
        tx_hashes=HASHES,
        first_seen_ms=0,
        detected_ms=0,
        block_number=7,
        severity="medium",
    )
    assert detection_title(d) == "sandwich in block 7"

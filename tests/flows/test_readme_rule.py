"""The docs' "first rule" (docs/rules.md, linked from README) works as printed: the YAML loads and
both rules match on the sample."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).parents[2] / "docs" / "rules.md"


def test_the_first_rule_of_the_readme_matches_on_the_sample(tmp_path: Path) -> None:
    yaml = re.search(r"<<'YAML'\n(.*?)\nYAML\n", README.read_text(), re.S)
    assert yaml, "README lost its first-rule example"
    (tmp_path / "whales.yaml").write_text(yaml.group(1) + "\n")
    out = subprocess.run(
        [sys.executable, "-m", "flows.cli", "rules", "test", str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout
    counts = dict((rule, int(n)) for n, rule in re.findall(r"^\s+(\d+) (\S+)$", out, re.M))
    assert "DEAD LETTER" not in out
    assert counts.get("treasury-outflow", 0) > 0
    assert counts.get("big-slippage-swap", 0) > 0

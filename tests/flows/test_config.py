from __future__ import annotations

from pathlib import Path

import pytest

from flows.commands.config import SETTINGS_PAGE, with_table
from flows.config import ConfigError, load_config, settings_table


def test_defaults_replay_the_bundled_sample() -> None:
    cfg = load_config({})
    assert cfg.source.kind == "replay"
    assert Path(cfg.source.replay_path).name == "mainnet.jsonl.gz"
    assert cfg.output.archive.endswith("archive")


def test_environment_overrides_file_which_overrides_defaults(tmp_path: Path) -> None:
    conf = tmp_path / "scorpius.yaml"
    conf.write_text(
        "source:\n  replay_speed: 2.5\n  replay_partitions: 8\noutput:\n  dir: /tmp/x\n"
    )
    cfg = load_config({"SCORPIUS_CONFIG": str(conf), "SCORPIUS_SOURCE_REPLAY_PARTITIONS": "3"})
    assert cfg.source.replay_speed == 2.5
    assert cfg.source.replay_partitions == 3
    assert cfg.output.dir == "/tmp/x"


def test_bad_values_name_the_variable() -> None:
    with pytest.raises(ConfigError, match="SCORPIUS_SOURCE_REPLAY_PARTITIONS"):
        load_config({"SCORPIUS_SOURCE_REPLAY_PARTITIONS": "many"})
    with pytest.raises(ConfigError, match="SCORPIUS_OUTPUT_CONSOLE"):
        load_config({"SCORPIUS_OUTPUT_CONSOLE": "perhaps"})


def test_every_setting_is_listed_with_its_environment_name() -> None:
    names = [name for name, *_ in settings_table()]
    assert "SCORPIUS_SOURCE_KIND" in names
    assert "SCORPIUS_DETECT_REPLACEMENT_WINDOW_S" in names
    assert len(names) == len(set(names))


def test_readme_carries_the_current_settings_table() -> None:
    # The table moved from README to docs/settings.md (SETTINGS_PAGE); the check is the same.
    readme = (Path(__file__).parents[2] / SETTINGS_PAGE).read_text()
    assert with_table(readme) == readme, f"stale: run scorpius config --update {SETTINGS_PAGE}"

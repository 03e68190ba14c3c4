"""The mempool MEV lab, small: about 20 blocks of the scripted population on real Uniswap
bytecode (about 120 pending txs a block, so one timing tie cannot move a floor), the live flow watching, and the issue's floors asserted on the lab's own scores
(every mempool detector precision >= 0.95 and recall >= 0.90, the block detectors exact)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.lab.run import run_lab
from bench.lab.score import MEMPOOL, listing, table

pytestmark = [pytest.mark.service, pytest.mark.slow]


def test_small_lab_run_meets_the_floors(anvil_path: Path, tmp_path: Path) -> None:
    result = run_lab(blocks=20, per_block=120, seed=7, out=tmp_path / "out")
    report = table(result.scores) + "\n" + listing(result.scores, result.truth)
    print(report)  # in the test log whatever the outcome: the scores of this run
    actors = result.truth.actors()
    for actor in (
        "swapper_v2",
        "swapper_v2_multihop",
        "swapper_v3",
        "sandwich_eoa",
        "sandwich_contract",
        "backrunner",
        "arbitrageur",
        "frontrunner",
        "replacer",
        "crowd_mint",
        "crowd_airdrop",
    ):
        assert actors.get(actor, 0) > 0, f"no {actor} in the scenario\n{report}"
    for s in result.scores:
        if s.detector == "liquidation":
            assert not s.found, report
            continue
        assert s.truth, f"{s.detector}: nothing to find\n{report}"
        if s.detector in MEMPOOL:
            assert s.precision >= 0.95 and s.recall >= 0.90, f"{s.detector}\n{report}"
        else:
            assert s.precision == 1.0 and s.recall == 1.0, f"{s.detector}\n{report}"

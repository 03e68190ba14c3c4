"""SparkLend liquidations are reported as ``spark``, not ``aave``.

No real Spark liquidation with traces or receipts could be had here (docs/mev.md says so), and
Spark's pool is not published on npm for an Anvil test. What this checks is the dispatch: a real
Aave V2 liquidation of mev-inspect-py's reference block 12498502 (MIT, tests/data/mev/README.md)
whose pool call is re-addressed to SparkLend's mainnet pool (the Spark reading is Aave's: the
same ``liquidationCall``). It is not a Spark transaction, and is not counted as one."""

from __future__ import annotations

import msgspec

from operators.mev import analyze_block
from operators.mev.protocols import spark
from tests.operators.mev.conftest import analysis, block

SPARK_POOL = next(iter(spark.POOLS))


def test_a_liquidation_call_on_the_spark_pool_is_spark_and_otherwise_aave() -> None:
    original = block(12498502)
    aave = [liq for liq in analysis(12498502).liquidations if liq.protocol == "aave"]
    assert len(aave) >= 2
    target = aave[0]
    [pool_call] = [
        t
        for t in original.traces
        if t.tx_hash == target.tx_hash and t.trace_address == target.trace_address
    ]
    traces = tuple(
        msgspec.structs.replace(t, to=SPARK_POOL) if t is pool_call else t for t in original.traces
    )
    readdressed = analyze_block(msgspec.structs.replace(original, traces=traces)).liquidations
    [as_spark] = [liq for liq in readdressed if liq.tx_hash == target.tx_hash]
    assert as_spark.protocol == "spark"
    assert msgspec.structs.replace(as_spark, protocol="aave") == target
    # The block's other Aave liquidations stay Aave.
    others = [liq for liq in readdressed if liq.tx_hash != target.tx_hash]
    assert others == [liq for liq in analysis(12498502).liquidations if liq is not target]
    assert {liq.protocol for liq in others if liq in aave} == {"aave"}

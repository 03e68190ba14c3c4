"""The quote stage in bytewax: pending swaps get ``Swap.quote``, reserves are asked once per pool
and block, a node that cannot answer gives a dead letter and the tx still goes on."""

from __future__ import annotations

from datetime import timedelta

import bytewax.operators as op
import msgspec
from bytewax.dataflow import Dataflow
from bytewax.operators import BranchOut
from bytewax.testing import TestingSink, TestingSource, run_main

from flows.config import DetectConfig
from flows.steps.checked import is_enriched, split
from flows.steps.quote import quote_stage
from operators.mev.mempool import amm
from operators.mev.mempool.reserves import ReservesUnavailable
from operators.mev.pools import v2_pair
from operators.records import Block, DeadLetter, Detection, EnrichedTx
from tests.operators.mev.pending import (
    ALICE,
    EXACT_ETH_IN,
    UNI_ROUTER,
    USDC,
    WETH,
    enriched,
    pending,
)
from tests.operators.mev.traces import calldata

POOL = v2_pair(1, "uniswap_v2", WETH, USDC)
RESERVES = {None: (200_000 * 10**6, 100 * 10**18), 7: (190_000 * 10**6, 105 * 10**18)}


def _swap(hash_: str, amount_in: int, min_out: int) -> EnrichedTx:
    data = calldata(EXACT_ETH_IN, min_out, [WETH, USDC], ALICE, 2**40)
    return enriched(pending(hash_, ALICE, UNI_ROUTER, data, value=amount_in, tip=10**9))


def _block(number: int) -> Block:
    return Block(1, number, f"0x{number:064x}", 0, None, None, 0, "test")


def test_pending_swaps_are_quoted_once_per_pool_and_block_and_failures_are_letters() -> None:
    asked: list[tuple[str, int | None]] = []

    def fetch(chain_id: int, pool: str, block: int | None) -> tuple[int, int] | None:
        asked.append((pool, block))
        if block == 8:
            raise ReservesUnavailable("eth_call getReserves on http://node: ConnectTimeout")
        return RESERVES[block] if pool == POOL else None

    transfer = enriched(pending("0xt", ALICE, "0x" + "b2" * 20, "0x", value=1))
    items: list[EnrichedTx | Block] = [
        _swap("0x1", 10**18, 0),
        _swap("0x2", 10**18, 10**6),
        transfer,
        _block(7),
        _swap("0x3", 2 * 10**18, 0),
        _block(8),
        _swap("0x4", 10**18, 0),
    ]
    # One item per epoch: the stateful step takes epochs in order, so it sees each block
    # where it is in the list, whichever branch carried it.
    flow = Dataflow("quote_test")
    stream = op.input("in", flow, TestingSource(items))
    etxs = op.filter_map("etxs", stream, lambda x: x if isinstance(x, EnrichedTx) else None)
    blocks = op.filter_map("blocks", stream, lambda x: x if isinstance(x, Block) else None)
    quoted = quote_stage("quote", etxs, blocks, DetectConfig(), fetch)
    priced: BranchOut[EnrichedTx, Detection] = split("priced", quoted.oks, is_enriched)
    out_txs: list[EnrichedTx] = []
    out_found: list[Detection] = []
    out_dead: list[DeadLetter] = []
    op.output("txs", priced.trues, TestingSink(out_txs))
    op.output("found", priced.falses, TestingSink(out_found))
    op.output("dead", quoted.errs, TestingSink(out_dead))
    run_main(flow, epoch_interval=timedelta(0))

    by_hash = {etx.tx.hash: etx for etx in out_txs}
    assert set(by_hash) == {"0x1", "0x2", "0x3", "0x4", "0xt"}  # every tx goes on
    assert by_hash["0xt"] == transfer
    usdc, weth = RESERVES[None]
    assert by_hash["0x1"].swaps[0].quote == amm.amount_out(10**18, weth, usdc)
    usdc7, weth7 = RESERVES[7]
    assert by_hash["0x3"].swaps[0].quote == amm.amount_out(2 * 10**18, weth7, usdc7)
    assert by_hash["0x4"].swaps[0].quote is None
    # The rest of the tx is untouched.
    assert (
        msgspec.structs.replace(by_hash["0x1"].swaps[0], quote=None)
        == _swap("0x1", 10**18, 0).swaps[0]
    )
    # One getReserves per pool and block: before any block, at 7, at 8 (which failed).
    assert asked == [(POOL, None), (POOL, 7), (POOL, 8)]
    # No minimum out (0x1, 0x3) is the loosest tolerance there is; 0x2 asks for almost nothing
    # too; all three are sandwichable.
    assert sorted(d.tx_hashes[0] for d in out_found) == ["0x1", "0x2", "0x3"]
    [letter] = out_dead
    assert letter.stage == "quote"
    assert letter.payload == "0x4"
    assert letter.reason.startswith("reserves unavailable: ")

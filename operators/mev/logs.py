"""Swaps, transfers and liquidations of a block read from its receipts' logs, for blocks without
call traces (Arbitrum nodes have no ``trace_block``; many providers serve none on any chain).

The same detectors (sandwiches, arbitrages) then run on these swaps. What each event gives:

- **Transfers**: ERC-20 ``Transfer``, WETH ``Deposit`` (ETH wrapped: tokens from the WETH
  contract to ``dst``) and ``Withdrawal`` (tokens from ``src`` back to the WETH contract).
- **Swaps**: the pools' own events: Uniswap V2 ``Swap`` (and every fork with that pair
  interface: SushiSwap, PancakeSwap V2, Velodrome V1, ...), Solidly-style ``Swap`` (Velodrome
  V2, Aerodrome), Uniswap V3 ``Swap`` (and forks: Aerodrome Slipstream, Velodrome CL, SushiSwap
  V3; PancakeSwap V3's longer event), Balancer V2 vault ``Swap``, Balancer V3 Vault ``Swap``
  (``protocols.balancer_v3``), Curve ``TokenExchange`` / ``TokenExchangeUnderlying`` (classic
  and stableswap-ng pools share the event; tricrypto-ng and twocrypto-ng emit a longer one);
  CoW Protocol's settlement ``Trade`` (one swap per settled order, ``protocols.cow``). The event
  says how much went in and out; which tokens, who paid and who received is read from the
  transfers to and from the pool earlier in the same tx, the way the trace path reads them around
  the pool call (``protocols.spec.swap_from_pool_transfers``): so a routed swap's ``sender`` is
  the user who paid, not the router, on both paths.
- **Liquidations**: Aave V2/V3 ``LiquidationCall`` (``spark`` when a SparkLend pool emits it), Compound V2 (and forks) ``LiquidateBorrow``,
  Morpho Blue ``Liquidate`` (``protocols.morpho``), Compound V3 ``AbsorbDebt`` with its
  ``AbsorbCollateral`` events (``protocols.comet``; on the trace path too, as ``absorb`` moves no
  tokens), Liquity's ``TroveLiquidated`` / ``Liquidation`` (``protocols.liquity``). Compound V3's
  ``BuyCollateral`` is a swap (base token in, collateral out).

A swap's ``trace_address`` is ``(log index,)``: the event's place in its tx, which orders swaps
the way call order does. Reverted txs emit no logs, so the log path never sees reverted
attempts (the trace path reports reverted arbitrages). Differences from the trace path are listed
in docs/l2.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import msgspec
from eth_hash.auto import keccak

from operators.mev.model import ETH, Liquidation, SwapEvent, block_position
from operators.mev.protocols import aggregators, balancer_v3, comet, cow, liquity, morpho, spark
from operators.mev.protocols.compound import CETH
from operators.mev.protocols.cream import CRETH
from operators.mev.protocols.spec import load_json
from operators.records import Block, Receipt


def topic(signature: str) -> str:
    return "0x" + keccak(signature.encode()).hex()


TRANSFER = topic("Transfer(address,address,uint256)")
WETH_DEPOSIT = topic("Deposit(address,uint256)")
WETH_WITHDRAWAL = topic("Withdrawal(address,uint256)")
V2_SWAP = topic("Swap(address,uint256,uint256,uint256,uint256,address)")
SOLIDLY_SWAP = topic("Swap(address,address,uint256,uint256,uint256,uint256)")
V3_SWAP = topic("Swap(address,address,int256,int256,uint160,uint128,int24)")
PANCAKE_V3_SWAP = topic("Swap(address,address,int256,int256,uint160,uint128,int24,uint128,uint128)")
BALANCER_SWAP = topic("Swap(bytes32,address,address,uint256,uint256)")
CURVE_EXCHANGE = topic("TokenExchange(address,int128,uint256,int128,uint256)")
CURVE_EXCHANGE_UNDERLYING = topic("TokenExchangeUnderlying(address,int128,uint256,int128,uint256)")
CURVE_CRYPTO_EXCHANGE = topic("TokenExchange(address,uint256,uint256,uint256,uint256)")
# Curve NG crypto pools (tricrypto-ng, twocrypto-ng) add the fee and the packed price scale.
CURVE_NG_CRYPTO_EXCHANGE = topic(
    "TokenExchange(address,uint256,uint256,uint256,uint256,uint256,uint256)"
)
AAVE_LIQUIDATION = topic("LiquidationCall(address,address,address,uint256,uint256,address,bool)")
COMPOUND_LIQUIDATION = topic("LiquidateBorrow(address,address,uint256,address,uint256)")

SWAP_TOPICS = frozenset(
    {
        V2_SWAP, SOLIDLY_SWAP, V3_SWAP, PANCAKE_V3_SWAP, BALANCER_SWAP, CURVE_EXCHANGE,
        CURVE_EXCHANGE_UNDERLYING, CURVE_CRYPTO_EXCHANGE, CURVE_NG_CRYPTO_EXCHANGE, cow.TRADE,
        comet.BUY_COLLATERAL, balancer_v3.SWAP,
    }
)  # fmt: skip
CURVE_EXCHANGES = frozenset(
    {CURVE_EXCHANGE, CURVE_EXCHANGE_UNDERLYING, CURVE_CRYPTO_EXCHANGE, CURVE_NG_CRYPTO_EXCHANGE}
)
SOLIDLY_CHAINS = {8453: "aerodrome", 10: "velodrome"}
# cToken → underlying of the Compound V2 forks Scorpius knows (their ETH markets pay in ETH).
_CREAM = {k.lower(): v.lower() for k, v in load_json("cream_markets.json").items()}
_MARKETS = {
    **{k.lower(): v.lower() for k, v in load_json("comp_markets.json").items()},
    **_CREAM,
    CETH: ETH,
    CRETH: ETH,
}
_SIGNED_MAX = 1 << 255


class LogTransfer(msgspec.Struct, frozen=True):
    log_index: int
    token: str
    sender: str
    recipient: str
    amount: int


def _word(data: bytes, index: int) -> int:
    return int.from_bytes(data[32 * index : 32 * index + 32], "big")


def _signed(value: int) -> int:
    return value - (1 << 256) if value >= _SIGNED_MAX else value


def _address_word(value: str | bytes | int) -> str:
    if isinstance(value, str):
        return "0x" + value[-40:].lower()
    if isinstance(value, bytes):
        return "0x" + value[-20:].hex()
    return "0x" + value.to_bytes(32, "big")[-20:].hex()


def _data(log: dict[str, Any]) -> bytes:
    text: str = log.get("data") or "0x"
    return bytes.fromhex(text[2:])


def transfer_of(log: dict[str, Any], index: int) -> LogTransfer | None:
    topics = log["topics"]
    if not topics:
        return None
    head, token = topics[0], log["address"]
    data = _data(log)
    try:
        if head == TRANSFER and len(topics) == 3 and len(data) >= 32:
            return LogTransfer(
                index, token, _address_word(topics[1]), _address_word(topics[2]), _word(data, 0)
            )
        if head == WETH_DEPOSIT and len(topics) == 2 and len(data) >= 32:
            return LogTransfer(index, token, token, _address_word(topics[1]), _word(data, 0))
        if head == WETH_WITHDRAWAL and len(topics) == 2 and len(data) >= 32:
            return LogTransfer(index, token, _address_word(topics[1]), token, _word(data, 0))
    except (ValueError, IndexError):
        return None
    return None


class _Tx:
    """One successful tx's logs: transfers so far, and helpers to find a pool's legs."""

    def __init__(self, receipt: Receipt, position: int, chain_id: int) -> None:
        self.receipt = receipt
        self.position = position
        self.chain_id = chain_id
        self.transfers: list[LogTransfer] = []
        self.used: set[int] = set()

    def leg(
        self, before: int, amount: int | None, *, to: str | None = None, frm: str | None = None
    ) -> LogTransfer | None:
        """The latest unused transfer before log ``before`` to/from the pool, of ``amount``
        where one matches (fee-on-transfer tokens move less than the pool books: then the
        latest transfer of any amount)."""
        candidates = [
            t
            for t in reversed(self.transfers)
            if t.log_index < before
            and t.log_index not in self.used
            and (to is None or t.recipient == to)
            and (frm is None or t.sender == frm)
        ]
        exact = next((t for t in candidates if t.amount == amount), None)
        found = exact or (candidates[0] if candidates else None)
        if found is not None:
            self.used.add(found.log_index)
        return found

    def swap(
        self,
        index: int,
        protocol: str,
        pool: str,
        amount_in: int,
        amount_out: int,
        holder: str | None = None,
        token_in: str | None = None,
        token_out: str | None = None,
        fallback_party: str = "",
    ) -> SwapEvent | None:
        holder = holder or pool
        paid = self.leg(index, amount_in, to=holder)
        got = self.leg(index, amount_out, frm=holder)
        if paid is None and token_in is None:
            return None
        if got is None and token_out is None:
            return None
        tin = paid.token if paid is not None else token_in
        tout = got.token if got is not None else token_out
        if tin is None or tout is None or tin == tout:
            return None
        return SwapEvent(
            tx_hash=self.receipt.tx_hash,
            tx_position=self.position,
            trace_address=(index,),
            protocol=protocol,
            pool=pool,
            sender=paid.sender if paid is not None else fallback_party,
            recipient=got.recipient if got is not None else fallback_party,
            token_in=tin,
            amount_in=paid.amount if paid is not None else amount_in,
            token_out=tout,
            amount_out=got.amount if got is not None else amount_out,
        )


def _swap_of(tx: _Tx, log: dict[str, Any], index: int) -> SwapEvent | None:
    topics, pool, data = log["topics"], log["address"], _data(log)
    head = topics[0]
    if head == V2_SWAP and len(data) >= 128:
        a0_in, a1_in, a0_out, a1_out = (_word(data, i) for i in range(4))
        return tx.swap(index, "uniswap_v2", pool, a0_in or a1_in, a0_out or a1_out)
    if head == SOLIDLY_SWAP and len(data) >= 128:
        a0_in, a1_in, a0_out, a1_out = (_word(data, i) for i in range(4))
        protocol = SOLIDLY_CHAINS.get(tx.chain_id, "solidly_v2")
        return tx.swap(index, protocol, pool, a0_in or a1_in, a0_out or a1_out)
    if head in (V3_SWAP, PANCAKE_V3_SWAP) and len(data) >= 64:
        amount0, amount1 = _signed(_word(data, 0)), _signed(_word(data, 1))
        amount_in, amount_out = (amount0, -amount1) if amount0 > 0 else (amount1, -amount0)
        return tx.swap(index, "uniswap_v3", pool, amount_in, amount_out)
    if head == BALANCER_SWAP and len(topics) == 4 and len(data) >= 64:
        pool_id = bytes.fromhex(topics[1][2:])
        return tx.swap(
            index,
            "balancer_v2",
            "0x" + pool_id[:20].hex(),
            _word(data, 0),
            _word(data, 1),
            holder=pool,
            token_in=_address_word(topics[2]),
            token_out=_address_word(topics[3]),
        )
    if head == cow.TRADE:
        return cow.trade_swap(log, tx.receipt.tx_hash, tx.position, index)
    if head == comet.BUY_COLLATERAL and len(topics) == 3 and len(data) >= 64:
        # Base token in from the buyer, the named collateral out to the recipient.
        return tx.swap(
            index, comet.PROTOCOL, pool, _word(data, 0), _word(data, 1),
            token_out=_address_word(topics[2]),
        )  # fmt: skip
    if head == balancer_v3.SWAP:
        swapper = (tx.receipt.to or "").lower()
        return balancer_v3.swap_from_log(log, tx.receipt.tx_hash, tx.position, index, swapper)
    if head in CURVE_EXCHANGES:
        if len(topics) < 2 or len(data) < 128:
            return None
        buyer = _address_word(topics[1])
        # Plain pools hold native ETH as a coin: a leg without a transfer log is ETH.
        return tx.swap(
            index, "curve", pool, _word(data, 1), _word(data, 3),
            token_in=ETH, token_out=ETH, fallback_party=buyer,
        )  # fmt: skip
    return None


def _liquidation_of(tx: _Tx, log: dict[str, Any], index: int) -> Liquidation | None:
    topics, data = log["topics"], _data(log)
    if topics[0] == AAVE_LIQUIDATION and len(topics) == 4 and len(data) >= 96:
        collateral = _address_word(topics[1])
        return Liquidation(
            tx_hash=tx.receipt.tx_hash,
            tx_position=tx.position,
            trace_address=(index,),
            protocol=spark.PROTOCOL if log["address"] in spark.POOLS else "aave",
            liquidated_user=_address_word(topics[3]),
            liquidator=_address_word(_word(data, 2)),
            debt_token=_address_word(topics[2]),
            debt_amount=_word(data, 0),
            collateral_token=collateral,
            received_token=collateral,
            received_amount=_word(data, 1),
        )
    if topics[0] == COMPOUND_LIQUIDATION and len(data) >= 160:
        market = log["address"]
        collateral = _address_word(_word(data, 3))
        return Liquidation(
            tx_hash=tx.receipt.tx_hash,
            tx_position=tx.position,
            trace_address=(index,),
            protocol="cream" if market in _CREAM or market == CRETH else "compound_v2",
            liquidated_user=_address_word(_word(data, 1)),
            liquidator=_address_word(_word(data, 0)),
            debt_token=_MARKETS.get(market, market),
            debt_amount=_word(data, 2),
            collateral_token=collateral,
            received_token=collateral,
            received_amount=_word(data, 4),
        )
    return None


def _well_formed(log: dict[str, Any]) -> bool:
    """Whether a log has the shape every reader here assumes (a node's answer always does; a
    receipt built elsewhere may not): an address, hex data and a list of hex topics."""
    topics, data = log.get("topics"), log.get("data") or "0x"
    try:
        bytes.fromhex(data[2:])
        return (
            isinstance(log.get("address"), str)
            and isinstance(topics, list | tuple)
            and all(isinstance(t, str) and len(t) == 66 for t in topics)
        )
    except (TypeError, ValueError):
        return False


def _index(log: dict[str, Any], fallback: int) -> int:
    value = log.get("log_index")
    return fallback if value is None else int(value)


def _txs(block: Block) -> Iterable[tuple[_Tx, list[tuple[int, dict[str, Any]]]]]:
    positions = {tx.hash: tx.tx_index for tx in block.txs if tx.tx_index is not None}
    for order, receipt in enumerate(block.receipts):
        if receipt.status == 0 or not receipt.logs:
            continue
        position = (
            receipt.tx_index if receipt.tx_index >= 0 else positions.get(receipt.tx_hash, order)
        )
        logs = [(_index(log, i), log) for i, log in enumerate(receipt.logs) if _well_formed(log)]
        yield _Tx(receipt, position, block.chain_id), logs


def block_swaps_from_logs(block: Block) -> list[SwapEvent]:
    """Every swap the block's receipts record, ordered by (tx position, log index)."""
    swaps: list[SwapEvent] = []
    for tx, logs in _txs(block):
        # No call tree here: a tx sent straight to an aggregator names it on all its swaps.
        router = aggregators.ROUTERS.get(tx.receipt.to or "")
        for index, log in logs:
            if not log["topics"]:
                continue
            transfer = transfer_of(log, index)
            if transfer is not None:
                tx.transfers.append(transfer)
            elif log["topics"][0] in SWAP_TOPICS:
                swap = _swap_of(tx, log, index)
                if swap is not None:
                    swaps.append(msgspec.structs.replace(swap, router=router) if router else swap)
    swaps.sort(key=block_position)
    return swaps


def block_liquidations_from_logs(block: Block, *, only_events: bool = False) -> list[Liquidation]:
    """Every liquidation the block's receipts record. ``only_events``: just those whose amounts
    exist only in events (Compound V3's absorb moves no tokens), for the trace path."""
    found: list[Liquidation] = []
    for tx, logs in _txs(block):
        if not only_events:  # Liquity's amounts are in transfers too: the trace path has them
            caller = (tx.receipt.to or "").lower()
            found.extend(liquity.tx_liquidations(logs, tx.receipt.tx_hash, tx.position, caller))
        for index, log in logs:
            if not log["topics"]:
                continue
            head = log["topics"][0]
            if head == comet.ABSORB_DEBT:
                liquidation = comet.liquidation_from_logs(
                    logs, index, tx.receipt.tx_hash, tx.position
                )
            elif only_events:
                continue
            elif head == morpho.LIQUIDATE:
                liquidation = morpho.liquidation_from_logs(
                    logs, index, tx.receipt.tx_hash, tx.position
                )
            else:
                liquidation = _liquidation_of(tx, log, index)
            if liquidation is not None:
                found.append(liquidation)
    found.sort(key=block_position)
    return found


def has_logs(receipts: Sequence[Receipt]) -> bool:
    return any(r.logs for r in receipts)

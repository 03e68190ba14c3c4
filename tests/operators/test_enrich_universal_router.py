"""operators.enrich on the Universal Router's real calldata, and on router methods with no real
sample (calldata built with eth_abi.encode, so marked _synthetic)."""

from __future__ import annotations

import json
from pathlib import Path

from eth_abi import encode

from operators.enrich import Enricher, enrich
from operators.records import Tx
from tests.operators.enrich_samples import (
    ALICE,
    DAI,
    ROUTER02,
    TRANSFER_TOPIC,
    UNIVERSAL_ROUTER,
    USDC,
    V3_ROUTER,
    WETH,
    Calldata,
    calldata,
    logs,
    make_tx,
    packed_tokens,
    sample,
    samples,
    the_swap,
)

# --- Universal Router --------------------------------------------------------------------------------

UR_SWAP_COMMANDS = {0x00, 0x01, 0x08, 0x09}


def expected_ur_swaps(
    tx: Tx,
) -> list[tuple[tuple[str, ...], bool, int | None, int, tuple[int, ...]]]:
    raw = Calldata(tx.input)
    commands = raw.bytes_at(0)
    inputs = raw.bytes_array(1)
    out: list[tuple[tuple[str, ...], bool, int | None, int, tuple[int, ...]]] = []
    for command, data in zip(commands, inputs, strict=False):
        kind = command & 0x7F
        if kind not in UR_SWAP_COMMANDS:
            continue
        inp = Calldata("0x00000000" + data.hex())
        amount: int | None = inp.word(1)
        bound = inp.word(2)
        if kind in (0x00, 0x01):
            tokens, fees = packed_tokens(inp.bytes_at(3))
            if kind == 0x01:
                tokens, fees = tokens[::-1], fees[::-1]
            if kind == 0x00 and amount == 1 << 255:
                amount = None
        else:
            tokens, fees = inp.address_array(3), ()
            if kind == 0x08 and amount == 0:
                amount = None
        out.append((tokens, kind in (0x00, 0x08), amount, bound, fees))
    return out


def test_universal_router_execute_matches_commands() -> None:
    cases = list(samples("0x3593564c"))
    assert len(cases) >= 8
    kinds_seen: set[int] = set()
    for tx, receipt in cases:
        raw = Calldata(tx.input)
        kinds_seen |= {c & 0x7F for c in raw.bytes_at(0)}
        etx = enrich(tx)
        got = [
            (
                s.path,
                s.exact_input,
                s.amount_in if s.exact_input else s.amount_out,
                s.amount_out_min if s.exact_input else s.amount_in_max,
                s.fees,
            )
            for s in etx.swaps
        ]
        assert got == expected_ur_swaps(tx)
        assert all(s.deadline == raw.word(2) for s in etx.swaps)
        assert all(s.router == tx.to for s in etx.swaps)
        assert etx.kind == ("swap" if got else "other")
        if receipt is not None and receipt["status"] == "0x1":
            moved = {g["address"].lower() for g in logs(receipt, TRANSFER_TOPIC)}
            for s in etx.swaps:
                assert set(s.path) <= moved | {WETH}
    assert {0x00, 0x01, 0x08, 0x09} <= kinds_seen


def test_universal_router_exact_output_path_is_reversed() -> None:
    tx, _ = sample("0x0baab93d2e97f6e04aeaf963d2463a840a04d7f85d5813914f88fc69272936b2")
    exact_out = [s for s in enrich(tx).swaps if not s.exact_input and s.fees]
    assert exact_out
    for swap in exact_out:
        # The packed path starts at the output token; the swap must start at the input.
        inputs = Calldata(tx.input).bytes_array(1)
        packed_paths = [
            packed_tokens(Calldata("0x00000000" + d.hex()).bytes_at(3))[0]
            for c, d in zip(Calldata(tx.input).bytes_at(0), inputs, strict=False)
            if c & 0x7F == 0x01
        ]
        assert swap.path[::-1] in packed_paths


def test_universal_router_recipient_constants_are_resolved() -> None:
    for tx, _ in samples("0x3593564c"):
        for swap in enrich(tx).swaps:
            assert swap.recipient not in ("0x" + "00" * 19 + "01", "0x" + "00" * 19 + "02")


# --- calldata built with eth_abi.encode: methods and cases without a real sample here -------------
# (Real Universal Router execute(bytes,bytes[]) and V3 SwapRouter exactOutput calls are tested in
# test_enrich_real_calldata.py; these keep the sentinels and flags no real sample exercises.)


def test_v3_swap_router_exact_output_reverses_the_path_synthetic() -> None:
    path = bytes.fromhex(DAI[2:]) + (500).to_bytes(3, "big") + bytes.fromhex(USDC[2:])
    path += (3000).to_bytes(3, "big") + bytes.fromhex(WETH[2:])
    data = calldata(
        "0xf28c0498",
        ["(bytes,address,uint256,uint256,uint256)"],
        [(path, ALICE, 1_700_000_000, 10**18, 5 * 10**21)],
    )
    swap = the_swap(enrich(make_tx(V3_ROUTER, data)))
    assert swap.path == (WETH, USDC, DAI)  # encoded out → in; swap order is in → out
    assert swap.fees == (3000, 500)
    assert (swap.amount_out, swap.amount_in_max, swap.deadline) == (
        10**18,
        5 * 10**21,
        1_700_000_000,
    )


def test_router02_exact_output_and_blockhash_multicall_synthetic() -> None:
    path = bytes.fromhex(WETH[2:]) + (500).to_bytes(3, "big") + bytes.fromhex(USDC[2:])
    inner = calldata("0x09b81346", ["(bytes,address,uint256,uint256)"], [(path, ALICE, 7, 9)])
    data = calldata(
        "0x1f0464d1", ["bytes32", "bytes[]"], [b"\x11" * 32, [bytes.fromhex(inner[2:])]]
    )
    etx = enrich(make_tx(ROUTER02, data))
    swap = the_swap(etx)
    assert etx.call is not None and etx.call.args["previousBlockhash"] == "0x" + "11" * 32
    assert (swap.path, swap.amount_out, swap.amount_in_max) == ((USDC, WETH), 7, 9)
    assert swap.deadline is None


def test_universal_router_execute_without_deadline_and_flags_synthetic() -> None:
    v3_path = bytes.fromhex(USDC[2:]) + (500).to_bytes(3, "big") + bytes.fromhex(WETH[2:])
    commands = bytes([0x0B, 0x80 | 0x00, 0x08, 0x10, 0x09])
    inputs = [
        encode(["address", "uint256"], ["0x" + "00" * 19 + "02", 10**18]),  # WRAP_ETH: skipped
        encode(  # V3 exact in, allow-revert flag, CONTRACT_BALANCE, to MSG_SENDER
            ["address", "uint256", "uint256", "bytes", "bool"],
            ["0x" + "00" * 19 + "01", 1 << 255, 5, v3_path, False],
        ),
        encode(  # V2 exact in with amountIn 0: the pair was paid by the previous command
            ["address", "uint256", "uint256", "address[]", "bool"],
            ["0x" + "00" * 19 + "02", 0, 6, [WETH, DAI], True],
        ),
        b"\x01\x02",  # a V4 swap: not decoded, skipped
        encode(
            ["address", "uint256", "uint256", "address[]", "bool"],
            [ALICE, 100, 200, [DAI, USDC], True],
        ),
    ]
    data = calldata("0x24856bc3", ["bytes", "bytes[]"], [commands, inputs])
    etx = enrich(make_tx(UNIVERSAL_ROUTER, data, value=10**18))
    assert etx.kind == "swap" and etx.to_label == "Uniswap: Universal Router V1.2"
    v3, v2_in, v2_out = etx.swaps
    assert (v3.protocol, v3.path, v3.amount_in, v3.amount_out_min, v3.recipient) == (
        "uniswap_v3",
        (USDC, WETH),
        None,
        5,
        ALICE,
    )
    assert (v2_in.protocol, v2_in.amount_in, v2_in.recipient) == (
        "uniswap_v2",
        None,
        UNIVERSAL_ROUTER,
    )
    assert (v2_out.exact_input, v2_out.amount_out, v2_out.amount_in_max) == (False, 100, 200)
    assert all(s.deadline is None for s in etx.swaps)


def test_universal_router_v2_exact_input_of_the_router_balance_has_no_amount_synthetic() -> None:
    # Real routes do this: mainnet tx 0xfd25bd671e4186f360e673bee850a7ba0677bd45f1498ad400c81ffb0cef7838
    # has a V2_SWAP_EXACT_IN of amountIn 2**255 (as decoded in Elnaril/uniswap-universal-router-
    # decoder's tests/resources/transactions.py). Its raw input is not among our samples.
    router_self = "0x" + "00" * 19 + "02"
    v3_path = bytes.fromhex(USDC[2:]) + (500).to_bytes(3, "big") + bytes.fromhex(WETH[2:])
    inputs = [
        encode(
            ["address", "uint256", "uint256", "bytes", "bool"],
            [router_self, 10**8, 0, v3_path, True],
        ),
        encode(
            ["address", "uint256", "uint256", "address[]", "bool"],
            [ALICE, 1 << 255, 7, [WETH, DAI], False],
        ),
    ]
    data = calldata("0x24856bc3", ["bytes", "bytes[]"], [bytes([0x00, 0x08]), inputs])
    v3, v2 = enrich(make_tx(UNIVERSAL_ROUTER, data)).swaps
    assert (v3.amount_in, v3.recipient) == (10**8, UNIVERSAL_ROUTER)
    assert (v2.path, v2.amount_in, v2.amount_out_min, v2.recipient) == ((WETH, DAI), None, 7, ALICE)


def test_a_malformed_command_does_not_hide_the_others() -> None:
    good = encode(
        ["address", "uint256", "uint256", "address[]", "bool"], [ALICE, 1, 2, [DAI, USDC], True]
    )
    data = calldata(
        "0x3593564c",
        ["bytes", "bytes[]", "uint256"],
        [bytes([0x08, 0x08]), [b"\xff" * 40, good], 9],
    )
    swap = the_swap(enrich(make_tx(UNIVERSAL_ROUTER, data)))
    assert (swap.path, swap.deadline) == ((DAI, USDC), 9)


def test_a_router_labelled_with_another_command_layout_is_not_read_as_uniswaps(
    tmp_path: Path,
) -> None:
    tx, _ = next((tx, r) for tx, r in samples("0x3593564c") if tx.to and expected_ur_swaps(tx))
    assert enrich(tx).swaps  # Uniswap's router (or an unlabelled copy): read
    fork = {str(tx.chain_id): {tx.to: {"label": "A fork", "commands": "aerodrome"}}}
    (tmp_path / "forks.json").write_text(json.dumps(fork))
    enricher = Enricher.load(str(tmp_path), "")
    etx = enricher.enrich(tx)
    assert etx.to_label == "A fork"
    assert etx.call is not None and etx.swaps == () and etx.kind != "swap"

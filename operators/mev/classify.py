"""Classify a block's call traces: which frames are transfers, swaps, liquidations, and which
reverted (by themselves or through an ancestor)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from operators.mev.model import Frame, Transfer
from operators.mev.protocols import REGISTRY
from operators.mev.protocols.spec import CallSpec, eth_transfer
from operators.records import Trace


def _index(specs: Iterable[CallSpec]) -> dict[str, tuple[CallSpec, ...]]:
    by_selector: dict[str, list[CallSpec]] = defaultdict(list)
    for spec in specs:
        by_selector[spec.function.selector].append(spec)
    return {selector: tuple(specs) for selector, specs in by_selector.items()}


_BY_SELECTOR = _index(REGISTRY)


def match(trace: Trace) -> tuple[CallSpec, dict] | None:
    """The first spec that admits this call and whose arguments decode."""
    if trace.type != "call" or len(trace.input) < 10:
        return None
    candidates = _BY_SELECTOR.get(trace.input[:10].lower())
    if candidates is None:
        return None
    for spec in candidates:
        if spec.addresses is not None and trace.to not in spec.addresses:
            continue
        args = spec.function.decode_input(trace.input)
        if args is not None:
            return spec, args
    return None


def frames_by_tx(traces: Iterable[Trace]) -> dict[str, list[Frame]]:
    """Classified frames of each transaction, in call order (pre-order by trace address).

    Reward traces (no transaction) are left out.
    """
    grouped: dict[str, list[Trace]] = defaultdict(list)
    for trace in traces:
        if trace.tx_hash is not None:
            grouped[trace.tx_hash].append(trace)
    result: dict[str, list[Frame]] = {}
    for tx_hash, tx_traces in grouped.items():
        tx_traces.sort(key=lambda t: t.trace_address)
        errors: dict[tuple[int, ...], str | None] = {}
        reverts: dict[tuple[int, ...], tuple[tuple[int, ...], ...]] = {}
        frames: list[Frame] = []
        for trace in tx_traces:
            address = trace.trace_address
            parent = address[:-1]
            error = trace.error or (errors.get(parent) if address else None)
            errors[address] = error
            path_reverts = reverts.get(parent, ()) if address else ()
            if trace.error is not None:
                path_reverts = (*path_reverts, address)
            reverts[address] = path_reverts
            spec, args = match(trace) or (None, {})
            frames.append(Frame(trace, error, spec, args, path_reverts))
        result[tx_hash] = frames
    return result


def descendants(frames: Sequence[Frame], index: int) -> Sequence[Frame]:
    """The frames called (directly or not) by ``frames[index]``: a contiguous run in pre-order."""
    parent = frames[index].address
    depth = len(parent)
    end = index + 1
    while (
        end < len(frames)
        and frames[end].address[:depth] == parent
        and len(frames[end].address) > depth
    ):
        end += 1
    return frames[index + 1 : end]


def is_simple_eth_transfer(frame: Frame) -> bool:
    trace = frame.trace
    return trace.type == "call" and trace.value > 0 and trace.input in ("0x", "")


def transfer_of(frame: Frame) -> Transfer | None:
    """The value this frame moves: plain ETH, or a token transfer a spec recognises."""
    if is_simple_eth_transfer(frame):
        return eth_transfer(frame)
    if frame.spec is not None and frame.spec.role == "transfer" and frame.spec.parse is not None:
        transfer: Transfer | None = frame.spec.parse(frame)
        return transfer
    return None


def transfers_in(frames: Iterable[Frame]) -> list[Transfer]:
    return [t for t in map(transfer_of, frames) if t is not None]


def outermost_transfers(transfers: Sequence[Transfer]) -> list[Transfer]:
    """Drop transfers made inside another transfer of the list (a token proxy delegating its
    ``transfer`` to an implementation is one movement of tokens, not two)."""
    kept: list[Transfer] = []
    seen: list[tuple[int, ...]] = []
    for transfer in sorted(transfers, key=lambda t: t.trace_address):
        address = transfer.trace_address
        if not any(len(address) > len(p) and address[: len(p)] == p for p in seen):
            kept.append(transfer)
        seen.append(address)
    return kept

"""Swap intents from Uniswap-style router calls: V2 Router02, V3 SwapRouter, SwapRouter02, and
the Universal Router's swap commands.

Each handler reads one method's named arguments (as ``Method.named`` gives them) and returns the
swaps the call asks for. The handler of a method is chosen by its canonical signature, so every
router that shares an interface (SushiSwap and the other V2 forks) is read the same way.
Malformed but decodable arguments (a one-token path, a path of the wrong length) give no swap,
never an exception.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import msgspec

from operators.abi_decoding import DECODE_ERRORS, Method, tuple_decoder
from operators.records import Swap

MSG_SENDER = "0x0000000000000000000000000000000000000001"
ADDRESS_THIS = "0x0000000000000000000000000000000000000002"
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
# Universal Router exact input, V3 and V2 alike: "swap the router's whole balance of the input
# token" (the amount comes from an earlier command, so the calldata does not know it). For V2 the
# router's payment helper resolves it, so a V2 amountIn of 2**255 is no amount either.
UR_CONTRACT_BALANCE = 1 << 255
# SwapRouter02 spells the same idea as an amount of 0.
R02_CONTRACT_BALANCE = 0
# Universal Router V2 swaps: amountIn 0 means the first pair was already paid by an earlier command.
UR_ALREADY_PAID = 0
# Nesting of multicall inside multicall that we follow; routers never need more.
MAX_DEPTH = 3

UR_V3_SWAP_EXACT_IN = 0x00
UR_V3_SWAP_EXACT_OUT = 0x01
UR_V2_SWAP_EXACT_IN = 0x08
UR_V2_SWAP_EXACT_OUT = 0x09
# Universal Router 2.1 widened the mask from 0x3f to 0x7f (command 0x40 is an Across deposit,
# which 0x3f would misread as a V3 swap); older routers never send bits 0x40 and 0x20 set.
UR_COMMAND_TYPE_MASK = 0x7F


class CallContext(msgspec.Struct, frozen=True, gc=False):
    """What a handler needs to know about the transaction around the call.

    A msgspec struct: one is made per decoded router call (a frozen dataclass's ``__init__``
    costs several times as much).
    """

    sender: str
    router: str
    value: int
    # The router's label may name its protocol (sushiswap); None: the pool family's name.
    protocol: str | None
    # A deadline given by an enclosing multicall(deadline, data).
    deadline: int | None = None
    # The router's command layout (labels' ``commands``): execute() is read on "uniswap" or
    # unlabelled routers only.
    commands: str | None = None


Handler = Callable[["SwapDecoder", Mapping[str, Any], CallContext, int], list[Swap]]


def _recipient(address: str, ctx: CallContext, constants: bool, zero_is_router: bool) -> str:
    """The real recipient, resolving the routers' placeholder addresses."""
    if constants:
        if address == MSG_SENDER:
            return ctx.sender
        if address == ADDRESS_THIS:
            return ctx.router
    if zero_is_router and address == ZERO_ADDRESS:
        return ctx.router
    return address


def v3_path(path: bytes, reverse: bool) -> tuple[tuple[str, ...], tuple[int, ...]] | None:
    """Tokens and fee tiers of a packed V3 path token(20) fee(3) token(20)...; None if malformed.

    Exact-output paths are encoded from the output token back to the input: ``reverse`` puts
    them in swap order.
    """
    if len(path) < 43 or (len(path) - 20) % 23:
        return None
    tokens = tuple("0x" + path[i : i + 20].hex() for i in range(0, len(path), 23))
    fees = tuple(int.from_bytes(path[i + 20 : i + 23], "big") for i in range(0, len(path) - 20, 23))
    if reverse:
        return tokens[::-1], fees[::-1]
    return tokens, fees


def _bytes(value: str) -> bytes:
    return bytes.fromhex(value[2:])


# --- Uniswap V2 Router02 and its forks; SwapRouter02's V2 methods ------------------------------


def v2_swap(name: str, *, constants: bool, balance_sentinel: int | None) -> Handler:
    """A V2-style router method, read by its argument names (amountIn, amountOutMin, path...)."""
    exact_input = name.startswith("swapExact")
    eth_in = "ETHFor" in name

    def handle(_: SwapDecoder, args: Mapping[str, Any], ctx: CallContext, depth: int) -> list[Swap]:
        path = tuple(args["path"])
        if len(path) < 2:
            return []
        if exact_input:
            amount_in = ctx.value if eth_in else args["amountIn"]
            if balance_sentinel is not None and amount_in == balance_sentinel:
                amount_in = None
            amount_out, out_min, in_max = None, args["amountOutMin"], None
        else:
            amount_in, out_min = None, None
            amount_out = args["amountOut"]
            in_max = ctx.value if eth_in else args["amountInMax"]
        return [
            Swap(
                protocol=ctx.protocol or "uniswap_v2",
                router=ctx.router,
                path=path,
                exact_input=exact_input,
                amount_in=amount_in,
                amount_out=amount_out,
                amount_out_min=out_min,
                amount_in_max=in_max,
                recipient=_recipient(args["to"], ctx, constants, zero_is_router=False),
                deadline=args.get("deadline", ctx.deadline),
            )
        ]

    return handle


# --- Uniswap V3 SwapRouter and SwapRouter02 ----------------------------------------------------


def v3_swap(name: str, *, router02: bool) -> Handler:
    """exactInput / exactOutput (packed path) and their Single forms (tokenIn, tokenOut, fee)."""
    exact_input = name.startswith("exactInput")
    single = name.endswith("Single")

    def handle(_: SwapDecoder, args: Mapping[str, Any], ctx: CallContext, depth: int) -> list[Swap]:
        params = args["params"]
        if single:
            path: tuple[str, ...] = (params["tokenIn"], params["tokenOut"])
            fees: tuple[int, ...] = (params["fee"],)
        else:
            parsed = v3_path(_bytes(params["path"]), reverse=not exact_input)
            if parsed is None:
                return []
            path, fees = parsed
        if exact_input:
            amount_in = params["amountIn"]
            if router02 and amount_in == R02_CONTRACT_BALANCE:
                amount_in = None
            amounts = (amount_in, None, params["amountOutMinimum"], None)
        else:
            amounts = (None, params["amountOut"], None, params["amountInMaximum"])
        return [
            Swap(
                ctx.protocol or "uniswap_v3",
                ctx.router,
                path,
                exact_input,
                *amounts,
                recipient=_recipient(
                    params["recipient"], ctx, constants=router02, zero_is_router=not router02
                ),
                deadline=params.get("deadline", ctx.deadline),
                fees=fees,
            )
        ]

    return handle


def multicall(
    decoder: SwapDecoder, args: Mapping[str, Any], ctx: CallContext, depth: int
) -> list[Swap]:
    """Every swap among the inner calls of a router multicall (any overload)."""
    if depth >= MAX_DEPTH:
        return []
    if "deadline" in args:
        ctx = msgspec.structs.replace(ctx, deadline=args["deadline"])
    swaps: list[Swap] = []
    for call in args["data"]:
        swaps.extend(decoder.swaps_in_calldata(_bytes(call), ctx, depth + 1))
    return swaps


# --- Universal Router --------------------------------------------------------------------------

# (recipient, amount, bound, path, payerIsUser): the input layout of the four swap commands.
_UR_V3_INPUT = tuple_decoder("address", "uint256", "uint256", "bytes", "bool")
_UR_V2_INPUT = tuple_decoder("address", "uint256", "uint256", "address[]", "bool")


def _ur_command_swap(command: int, data: bytes, ctx: CallContext) -> Swap | None:
    kind = command & UR_COMMAND_TYPE_MASK  # the high bit only says whether a revert is allowed
    if kind in (UR_V3_SWAP_EXACT_IN, UR_V3_SWAP_EXACT_OUT):
        recipient, amount, bound, packed, _ = _UR_V3_INPUT.decode_bytes(data)
        exact_input = kind == UR_V3_SWAP_EXACT_IN
        parsed = v3_path(packed, reverse=not exact_input)
        if parsed is None:
            return None
        path, fees = parsed
        if exact_input and amount == UR_CONTRACT_BALANCE:
            amount = None
        protocol = "uniswap_v3"
    elif kind in (UR_V2_SWAP_EXACT_IN, UR_V2_SWAP_EXACT_OUT):
        recipient, amount, bound, addresses, _ = _UR_V2_INPUT.decode_bytes(data)
        exact_input = kind == UR_V2_SWAP_EXACT_IN
        path, fees = tuple(addresses), ()
        if len(path) < 2:
            return None
        if exact_input and amount in (UR_ALREADY_PAID, UR_CONTRACT_BALANCE):
            amount = None
        protocol = "uniswap_v2"
    else:
        return None
    return Swap(
        ctx.protocol or protocol,
        ctx.router,
        path,
        exact_input,
        amount_in=amount if exact_input else None,
        amount_out=None if exact_input else amount,
        amount_out_min=bound if exact_input else None,
        amount_in_max=None if exact_input else bound,
        recipient=_recipient(recipient, ctx, constants=True, zero_is_router=False),
        deadline=ctx.deadline,
        fees=fees,
    )


def universal_router_execute(
    _: SwapDecoder, args: Mapping[str, Any], ctx: CallContext, depth: int
) -> list[Swap]:
    """The V2/V3 swap commands of execute(commands, inputs[, deadline]); other commands skipped.

    Unlabelled routers are read with Uniswap's layout (bots' routers copy it); a router whose
    label names another layout (``commands: aerodrome``, ...) is not read: forks share the
    selector but not the layout, and a misread swap is worse than none."""
    if ctx.commands not in (None, "uniswap"):
        return []
    if "deadline" in args:
        ctx = msgspec.structs.replace(ctx, deadline=args["deadline"])
    swaps: list[Swap] = []
    for command, data in zip(_bytes(args["commands"]), args["inputs"], strict=False):
        try:
            swap = _ur_command_swap(command, _bytes(data), ctx)
        except DECODE_ERRORS:
            continue  # one unreadable command does not hide the others
        if swap is not None:
            swaps.append(swap)
    return swaps


# --- the table ---------------------------------------------------------------------------------

_V2_ROUTER02 = (
    "swapExactTokensForTokens(uint256,uint256,address[],address,uint256)",
    "swapTokensForExactTokens(uint256,uint256,address[],address,uint256)",
    "swapExactETHForTokens(uint256,address[],address,uint256)",
    "swapTokensForExactETH(uint256,uint256,address[],address,uint256)",
    "swapExactTokensForETH(uint256,uint256,address[],address,uint256)",
    "swapETHForExactTokens(uint256,address[],address,uint256)",
    "swapExactTokensForTokensSupportingFeeOnTransferTokens(uint256,uint256,address[],address,uint256)",
    "swapExactETHForTokensSupportingFeeOnTransferTokens(uint256,address[],address,uint256)",
    "swapExactTokensForETHSupportingFeeOnTransferTokens(uint256,uint256,address[],address,uint256)",
)
_R02_V2 = (
    "swapExactTokensForTokens(uint256,uint256,address[],address)",
    "swapTokensForExactTokens(uint256,uint256,address[],address)",
)
_V3_SWAP_ROUTER = (
    "exactInputSingle((address,address,uint24,address,uint256,uint256,uint256,uint160))",
    "exactInput((bytes,address,uint256,uint256,uint256))",
    "exactOutputSingle((address,address,uint24,address,uint256,uint256,uint256,uint160))",
    "exactOutput((bytes,address,uint256,uint256,uint256))",
)
_R02_V3 = (
    "exactInputSingle((address,address,uint24,address,uint256,uint256,uint160))",
    "exactInput((bytes,address,uint256,uint256))",
    "exactOutputSingle((address,address,uint24,address,uint256,uint256,uint160))",
    "exactOutput((bytes,address,uint256,uint256))",
)


def _name(signature: str) -> str:
    return signature.split("(", 1)[0]


HANDLERS: dict[str, Handler] = {
    **{s: v2_swap(_name(s), constants=False, balance_sentinel=None) for s in _V2_ROUTER02},
    **{
        s: v2_swap(_name(s), constants=True, balance_sentinel=R02_CONTRACT_BALANCE) for s in _R02_V2
    },
    **{s: v3_swap(_name(s), router02=False) for s in _V3_SWAP_ROUTER},
    **{s: v3_swap(_name(s), router02=True) for s in _R02_V3},
    "multicall(bytes[])": multicall,
    "multicall(uint256,bytes[])": multicall,
    "multicall(bytes32,bytes[])": multicall,
    "execute(bytes,bytes[])": universal_router_execute,
    "execute(bytes,bytes[],uint256)": universal_router_execute,
}


class SwapDecoder:
    """Finds the swaps of a call, following multicalls through the same selector table."""

    def __init__(self, methods: Mapping[str, Method]) -> None:
        self._methods = methods

    def swaps(
        self, method: Method, args: Mapping[str, Any], ctx: CallContext, depth: int = 0
    ) -> list[Swap]:
        handler = HANDLERS.get(method.signature)
        if handler is None:
            return []
        try:
            return handler(self, args, ctx, depth)
        except (KeyError, *DECODE_ERRORS):
            # A user ABI that reuses a signature with other argument names, or malformed values.
            return []

    def swaps_in_calldata(self, calldata: bytes, ctx: CallContext, depth: int) -> list[Swap]:
        method = self._methods.get("0x" + calldata[:4].hex())
        if method is None or method.signature not in HANDLERS:
            return []
        try:
            args = method.named(method.decode(calldata[4:]))
        except DECODE_ERRORS:
            return []
        return self.swaps(method, args, ctx, depth)

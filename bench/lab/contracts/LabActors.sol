// SPDX-License-Identifier: MIT
// The lab's non-exchange actors (the exchanges are Uniswap's own npm bytecode): a searcher's bot
// that trades on a V2 pair or arbitrages two pairs in one tx, and a public drop that many people
// call with the same calldata (a mint), each with their own address (a claim), or to collect a
// bounty any caller may take (solve: the target of generalised frontrunners).
pragma solidity ^0.8.20;

interface IPair {
    function getReserves() external view returns (uint112, uint112, uint32);
    function token0() external view returns (address);
    function swap(uint256 amount0Out, uint256 amount1Out, address to, bytes calldata data) external;
}

interface IToken {
    function balanceOf(address owner) external view returns (uint256);
    function transfer(address to, uint256 value) external returns (bool);
}

contract LabBot {
    address private immutable owner;

    constructor() {
        owner = msg.sender;
    }

    function _out(address pair, address tokenIn, uint256 amountIn) private view returns (uint256, bool) {
        (uint112 r0, uint112 r1, ) = IPair(pair).getReserves();
        bool inIsToken0 = tokenIn == IPair(pair).token0();
        (uint256 rIn, uint256 rOut) = inIsToken0 ? (uint256(r0), uint256(r1)) : (uint256(r1), uint256(r0));
        uint256 withFee = amountIn * 997;
        return ((withFee * rOut) / (rIn * 1000 + withFee), inIsToken0);
    }

    function _swap(address pair, address tokenIn, uint256 amountIn, address to) private returns (uint256) {
        (uint256 out, bool inIsToken0) = _out(pair, tokenIn, amountIn);
        if (inIsToken0) IPair(pair).swap(0, out, to, "");
        else IPair(pair).swap(out, 0, to, "");
        return out;
    }

    // Sells amountIn of tokenIn on pair (0: the bot's whole balance of it) for the other token.
    function trade(address pair, address tokenIn, uint256 amountIn) external {
        require(msg.sender == owner, "owner");
        if (amountIn == 0) amountIn = IToken(tokenIn).balanceOf(address(this));
        IToken(tokenIn).transfer(pair, amountIn);
        _swap(pair, tokenIn, amountIn, address(this));
    }

    // tokenIn -> tokenOut on first, straight into second, tokenOut -> tokenIn back to the bot.
    function arbitrage(address first, address second, address tokenIn, address tokenOut, uint256 amountIn) external {
        require(msg.sender == owner, "owner");
        IToken(tokenIn).transfer(first, amountIn);
        uint256 mid = _swap(first, tokenIn, amountIn, second);
        _swap(second, tokenOut, mid, address(this));
    }
}

contract PublicDrop {
    mapping(address => uint256) public minted;
    mapping(uint256 => address) public claimedBy;
    mapping(uint256 => address) public solvedBy;

    function mint(uint256 quantity) external {
        minted[msg.sender] += quantity;
    }

    function claim(address to, uint256 id) external {
        if (claimedBy[id] == address(0)) claimedBy[id] = to;
    }

    function solve(uint256 puzzle, uint256 answer) external {
        if (solvedBy[puzzle] == address(0)) solvedBy[puzzle] = msg.sender;
        answer;
    }
}

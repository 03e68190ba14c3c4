// SPDX-License-Identifier: MIT
// A minimal constant-product exchange for the end-to-end MEV test (tests/flows/test_mev_anvil.py):
// written for Scorpius, with the interfaces of Uniswap V2 (pair swap/getReserves, CREATE2 pairs,
// Router02's swapExactTokensForTokens) so that the detectors read it as they read Uniswap V2.
pragma solidity ^0.8.20;

contract TestToken {
    string public symbol;
    uint8 public constant decimals = 18;
    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    constructor(string memory symbol_, uint256 supply) {
        symbol = symbol_;
        totalSupply = supply;
        balanceOf[msg.sender] = supply;
        emit Transfer(address(0), msg.sender, supply);
    }

    function approve(address spender, uint256 amount) external returns (bool) {
        allowance[msg.sender][spender] = amount;
        emit Approval(msg.sender, spender, amount);
        return true;
    }

    function transfer(address to, uint256 amount) external returns (bool) {
        _move(msg.sender, to, amount);
        return true;
    }

    function transferFrom(address from, address to, uint256 amount) external returns (bool) {
        uint256 allowed = allowance[from][msg.sender];
        require(allowed >= amount, "allowance");
        if (allowed != type(uint256).max) allowance[from][msg.sender] = allowed - amount;
        _move(from, to, amount);
        return true;
    }

    function _move(address from, address to, uint256 amount) private {
        require(balanceOf[from] >= amount, "balance");
        balanceOf[from] -= amount;
        balanceOf[to] += amount;
        emit Transfer(from, to, amount);
    }
}

contract Pair {
    address public factory;
    address public token0;
    address public token1;
    uint112 private reserve0;
    uint112 private reserve1;
    uint32 private blockTimestampLast;

    event Sync(uint112 reserve0, uint112 reserve1);

    constructor() {
        factory = msg.sender;
    }

    function initialize(address token0_, address token1_) external {
        require(msg.sender == factory, "factory");
        token0 = token0_;
        token1 = token1_;
    }

    function getReserves() public view returns (uint112, uint112, uint32) {
        return (reserve0, reserve1, blockTimestampLast);
    }

    // Liquidity is added by sending both tokens to the pair and calling sync.
    function sync() external {
        _update(TestToken(token0).balanceOf(address(this)), TestToken(token1).balanceOf(address(this)));
    }

    // Uniswap V2's swap: the input was paid in before the call; pays out, then checks that the
    // product of the balances (less the 0.3% fee on what came in) did not fall. (No Swap event:
    // the detectors read call traces, never logs.)
    function swap(uint256 amount0Out, uint256 amount1Out, address to, bytes calldata) external {
        require(amount0Out > 0 || amount1Out > 0, "output");
        (uint112 r0, uint112 r1, ) = getReserves();
        require(amount0Out < r0 && amount1Out < r1, "liquidity");
        if (amount0Out > 0) TestToken(token0).transfer(to, amount0Out);
        if (amount1Out > 0) TestToken(token1).transfer(to, amount1Out);
        uint256 balance0 = TestToken(token0).balanceOf(address(this));
        uint256 balance1 = TestToken(token1).balanceOf(address(this));
        uint256 in0 = balance0 > r0 - amount0Out ? balance0 - (r0 - amount0Out) : 0;
        uint256 in1 = balance1 > r1 - amount1Out ? balance1 - (r1 - amount1Out) : 0;
        require(in0 > 0 || in1 > 0, "input");
        uint256 adjusted0 = balance0 * 1000 - in0 * 3;
        uint256 adjusted1 = balance1 * 1000 - in1 * 3;
        require(adjusted0 * adjusted1 >= uint256(r0) * uint256(r1) * 1000 ** 2, "K");
        _update(balance0, balance1);
    }

    function _update(uint256 balance0, uint256 balance1) private {
        require(balance0 <= type(uint112).max && balance1 <= type(uint112).max, "overflow");
        reserve0 = uint112(balance0);
        reserve1 = uint112(balance1);
        blockTimestampLast = uint32(block.timestamp);
        emit Sync(reserve0, reserve1);
    }
}

contract Factory {
    mapping(address => mapping(address => address)) public getPair;

    // Pairs live at CREATE2(factory, keccak(token0, token1), keccak(Pair creation code)), as
    // Uniswap V2's do: an address anyone can compute from the two tokens.
    function createPair(address tokenA, address tokenB) external returns (address pair) {
        (address token0, address token1) = tokenA < tokenB ? (tokenA, tokenB) : (tokenB, tokenA);
        require(getPair[token0][token1] == address(0), "exists");
        pair = address(new Pair{salt: keccak256(abi.encodePacked(token0, token1))}());
        Pair(pair).initialize(token0, token1);
        getPair[token0][token1] = pair;
        getPair[token1][token0] = pair;
    }
}

contract Router {
    address public immutable factory;

    constructor(address factory_) {
        factory = factory_;
    }

    function getAmountOut(uint256 amountIn, uint256 reserveIn, uint256 reserveOut)
        public
        pure
        returns (uint256)
    {
        uint256 withFee = amountIn * 997;
        return (withFee * reserveOut) / (reserveIn * 1000 + withFee);
    }

    // Router02's swapExactTokensForTokens: same selector, arguments and behaviour.
    function swapExactTokensForTokens(
        uint256 amountIn,
        uint256 amountOutMin,
        address[] calldata path,
        address to,
        uint256 deadline
    ) external returns (uint256[] memory amounts) {
        require(block.timestamp <= deadline, "expired");
        amounts = new uint256[](path.length);
        amounts[0] = amountIn;
        for (uint256 i; i < path.length - 1; i++) {
            Pair pair = Pair(Factory(factory).getPair(path[i], path[i + 1]));
            (uint112 r0, uint112 r1, ) = pair.getReserves();
            bool inIsToken0 = path[i] == pair.token0();
            amounts[i + 1] = inIsToken0 ? getAmountOut(amounts[i], r0, r1) : getAmountOut(amounts[i], r1, r0);
        }
        require(amounts[path.length - 1] >= amountOutMin, "INSUFFICIENT_OUTPUT_AMOUNT");
        TestToken(path[0]).transferFrom(
            msg.sender, Factory(factory).getPair(path[0], path[1]), amountIn
        );
        for (uint256 i; i < path.length - 1; i++) {
            Pair pair = Pair(Factory(factory).getPair(path[i], path[i + 1]));
            address next = i < path.length - 2 ? Factory(factory).getPair(path[i + 1], path[i + 2]) : to;
            uint256 out = amounts[i + 1];
            if (path[i] == pair.token0()) pair.swap(0, out, next, "");
            else pair.swap(out, 0, next, "");
        }
    }
}

// A searcher's bot: pays a pair from its own balance and swaps straight on it, the way
// sandwich bots trade (no router in between).
contract Sandwicher {
    address private immutable owner;

    constructor() {
        owner = msg.sender;
    }

    // Sells amountIn of tokenIn on pair (0: the bot's whole balance of it) for the other token.
    function trade(address pair, address tokenIn, uint256 amountIn) external {
        require(msg.sender == owner, "owner");
        if (amountIn == 0) amountIn = TestToken(tokenIn).balanceOf(address(this));
        (uint112 r0, uint112 r1, ) = Pair(pair).getReserves();
        bool inIsToken0 = tokenIn == Pair(pair).token0();
        (uint256 rIn, uint256 rOut) = inIsToken0 ? (uint256(r0), uint256(r1)) : (uint256(r1), uint256(r0));
        uint256 withFee = amountIn * 997;
        uint256 out = (withFee * rOut) / (rIn * 1000 + withFee);
        TestToken(tokenIn).transfer(pair, amountIn);
        if (inIsToken0) Pair(pair).swap(0, out, address(this), "");
        else Pair(pair).swap(out, 0, address(this), "");
    }
}

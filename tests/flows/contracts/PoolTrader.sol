// SPDX-License-Identifier: MIT
// A searcher's (or a user's) contract that trades directly on Uniswap V2 pairs and V3 pools
// deployed from Uniswap's npm builds (tests/flows/test_mev_log_path.py). Only the trader is
// written here; the AMMs are the real ones.
pragma solidity ^0.8.20;

interface IERC20 {
    function transfer(address to, uint256 amount) external returns (bool);
}

interface IV2Pair {
    function swap(uint256 amount0Out, uint256 amount1Out, address to, bytes calldata data) external;
}

interface IV3Pool {
    function token0() external view returns (address);
    function token1() external view returns (address);
    function swap(address recipient, bool zeroForOne, int256 amountSpecified, uint160 limit, bytes calldata data)
        external
        returns (int256, int256);
    function mint(address recipient, int24 lower, int24 upper, uint128 amount, bytes calldata data)
        external
        returns (uint256, uint256);
}

contract PoolTrader {
    uint160 constant MIN_SQRT_RATIO_PLUS_ONE = 4295128740;
    uint160 constant MAX_SQRT_RATIO_MINUS_ONE = 1461446703485210103287273052203988822378723970341;

    // Pay first, then swap: the Uniswap V2 pattern.
    function v2(address pair, address tokenIn, uint256 amountIn, uint256 out0, uint256 out1, address to) public {
        IERC20(tokenIn).transfer(pair, amountIn);
        IV2Pair(pair).swap(out0, out1, to, "");
    }

    // Exact input; the pool calls back for payment.
    function v3(address pool, bool zeroForOne, int256 amountIn, address to) public {
        IV3Pool(pool).swap(to, zeroForOne, amountIn, zeroForOne ? MIN_SQRT_RATIO_PLUS_ONE : MAX_SQRT_RATIO_MINUS_ONE, "");
    }

    // V2 then V3 in one transaction, proceeds of the first paying the second.
    function arb(
        address pair, address tokenIn, uint256 amountIn, uint256 out0, uint256 out1,
        address pool, bool zeroForOne, int256 amountBack
    ) external {
        v2(pair, tokenIn, amountIn, out0, out1, address(this));
        v3(pool, zeroForOne, amountBack, address(this));
    }

    function mintV3(address pool, int24 lower, int24 upper, uint128 liquidity) external {
        IV3Pool(pool).mint(address(this), lower, upper, liquidity, "");
    }

    function _pay(int256 a0, int256 a1) private {
        if (a0 > 0) IERC20(IV3Pool(msg.sender).token0()).transfer(msg.sender, uint256(a0));
        if (a1 > 0) IERC20(IV3Pool(msg.sender).token1()).transfer(msg.sender, uint256(a1));
    }

    function uniswapV3SwapCallback(int256 a0, int256 a1, bytes calldata) external {
        _pay(a0, a1);
    }

    function uniswapV3MintCallback(uint256 a0, uint256 a1, bytes calldata) external {
        _pay(int256(a0), int256(a1));
    }
}

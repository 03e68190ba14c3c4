"""The mempool MEV lab: real Uniswap V2/V3 bytecode from npm on Anvil, a seeded population of
swappers and searchers sending pending transactions block after block, the product's live flow
watching the node as a user runs it, and every detector scored against the recorded ground
truth. ``python -m bench.lab --blocks 50 --per-block 200 --seed 1``; docs/lab.md."""

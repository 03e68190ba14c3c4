"""``python -m bench.lab [--blocks N] [--per-block N] [--seed N]``: run the mempool MEV lab and
print, per detector, precision, recall, alert latency, and every false positive and miss."""

from __future__ import annotations

import argparse
import json
import sys

from bench.lab.run import run_lab
from bench.lab.score import listing, table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.lab", description=__doc__)
    parser.add_argument("--blocks", type=int, default=50, help="blocks to mine (default 50)")
    parser.add_argument(
        "--per-block", type=int, default=200, help="pending txs sent per block, about (default 200)"
    )
    parser.add_argument("--seed", type=int, default=1, help="the population's seed (default 1)")
    parser.add_argument("--out", help="the flow's output folder (default: a temporary one)")
    parser.add_argument(
        "--send-gap-ms",
        type=float,
        default=5.0,
        help="least time between two sent txs (default 5 ms, at most 200 tx/s): the same load on "
        "any machine, with first sightings the flow's millisecond stamps can order",
    )
    parser.add_argument(
        "--json", help="also write the scores and the actors' counts to this file, as JSON"
    )
    args = parser.parse_args(argv)
    from pathlib import Path

    result = run_lab(
        args.blocks,
        args.per_block,
        args.seed,
        Path(args.out) if args.out else None,
        send_gap_ms=args.send_gap_ms,
    )
    actors = ", ".join(f"{k} {v}" for k, v in sorted(result.truth.actors().items()))
    print(
        f"\nlab: {result.blocks} blocks, {result.pending_sent} pending txs "
        f"({result.pending_sent / result.blocks:.0f} per block), seed {args.seed}, "
        f"{result.seconds:.0f} s; flow output in {result.out}"
    )
    print(f"actors: {actors}\n")
    print(table(result.scores))
    print(
        "\nalert ms: from sending the tx that completes a mempool finding (a block: from mining it) to the alert"
    )
    details = listing(result.scores, result.truth)
    print("\n" + (details or "no false positives, no misses"), flush=True)
    if args.json:
        scores = [
            {
                "detector": s.detector,
                "truth": len(s.truth),
                "found": len(s.found),
                "precision": s.precision,
                "recall": s.recall,
            }
            for s in result.scores
        ]
        report = {"actors": result.truth.actors(), "scores": scores}
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

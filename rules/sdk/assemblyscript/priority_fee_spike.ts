// A contract call bidding a huge priority fee: a searcher in a gas war, a frontrun bid, or a
// panicking exploiter. 500 gwei is medium, 1,000 gwei or more high. Hand-written in
// AssemblyScript against rule ABI v1 with the SDK in scorpius.ts.
import { HAS_SELECTOR, HIGH, MEDIUM, Matches, Tx, meta } from "./scorpius";

export { alloc, scorpius_abi_version } from "./scorpius";

const GWEI: u64 = 1_000_000_000;
const ALERT_TIP: u64 = 500 * GWEI;
const HIGH_TIP: u64 = 1_000 * GWEI;

const META = meta(
  '{"rules": [{"id": "priority-fee-spike", "severity": "medium", "tags": ["mev", "gas-war"],' +
    ' "message": "{sender} bids a priority fee of {tip_cap} wei/gas calling {to}"}]}',
);

export function scorpius_meta(): usize {
  return META;
}

export function eval_batch(ptr: usize, count: u32, out: usize, cap: u32): u32 {
  const matches = new Matches(out, cap);
  for (let i: u32 = 0; i < count; i++) {
    const tx = Tx.at(ptr, i);
    if (!tx.has(HAS_SELECTOR)) continue;
    const tip = tx.tipCap;
    if (tip >= ALERT_TIP) matches.add(i, 0, tip >= HIGH_TIP ? HIGH : MEDIUM);
  }
  return matches.count;
}

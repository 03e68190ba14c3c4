// Scorpius rule SDK for AssemblyScript: rule ABI v1 (rules/README.md) as typed accessors.
//
// A rule module re-exports `alloc` and `scorpius_abi_version` from here and defines
// `eval_batch(ptr, count, out, cap)`; `scorpius rules build my_rule.ts -o my_rule.wasm` compiles
// it with the stub runtime and no imports (nothing to refuse at load).

export const ABI_VERSION: i32 = 1;
export const RECORD_SIZE: u32 = 416;

// Kinds (index in operators.records.KINDS).
export const KIND_TRANSFER: u8 = 0;
export const KIND_TOKEN_TRANSFER: u8 = 1;
export const KIND_APPROVAL: u8 = 2;
export const KIND_SWAP: u8 = 3;
export const KIND_CONTRACT_CREATION: u8 = 4;
export const KIND_DEPOSIT: u8 = 5;
export const KIND_OTHER: u8 = 6;

// Severities (index in operators.records.SEVERITIES).
export const INFO: u32 = 0;
export const LOW: u32 = 1;
export const MEDIUM: u32 = 2;
export const HIGH: u32 = 3;
export const CRITICAL: u32 = 4;

// Flag bits of the record's flags word.
export const HAS_TO: u32 = 1 << 0;
export const HAS_SELECTOR: u32 = 1 << 1;
export const PENDING: u32 = 1 << 2;
export const HAS_TO_LABEL: u32 = 1 << 3;
export const HAS_SENDER_LABEL: u32 = 1 << 4;
export const HAS_TOKEN: u32 = 1 << 5;
export const HAS_TOKEN_AMOUNT: u32 = 1 << 6;
export const HAS_COUNTERPARTY: u32 = 1 << 7;
export const HAS_SWAP: u32 = 1 << 8;
export const SWAP_EXACT_INPUT: u32 = 1 << 9;
export const HAS_SWAP_SLIPPAGE: u32 = 1 << 14;
export const HAS_AUTHORIZATIONS: u32 = 1 << 15;
export const HAS_BLOBS: u32 = 1 << 16;
export const HAS_NONCE: u32 = 1 << 17;

export function scorpius_abi_version(): i32 {
  return ABI_VERSION;
}

// The host asks once for its batch and output areas and reuses them.
export function alloc(size: u32): usize {
  return heap.alloc(<usize>size);
}

/** One transaction record of a batch (a pointer into linear memory). */
@final
export class Tx {
  constructor(public ptr: usize) {}

  static at(batch: usize, index: u32): Tx {
    return new Tx(batch + <usize>index * RECORD_SIZE);
  }

  @inline get chain(): u32 { return load<u32>(this.ptr, 0); }
  @inline get kind(): u8 { return load<u8>(this.ptr, 4); }
  @inline get txType(): u8 { return load<u8>(this.ptr, 5); }
  /** The 4 selector bytes as read little-endian: 0x095ea7b3 reads as 0xb3a75e09. */
  @inline get selector(): u32 { return load<u32>(this.ptr, 8); }
  @inline get inputLen(): u32 { return load<u32>(this.ptr, 12); }
  /** Calldata pointer, or 0 when the module did not export scorpius_needs_calldata. */
  calldata(batch: usize): usize {
    const off = load<u32>(this.ptr, 16);
    return off == 0 ? 0 : batch + <usize>off;
  }
  @inline get swapCount(): u32 { return load<u32>(this.ptr, 20); }
  @inline get toLabelHash(): u32 { return load<u32>(this.ptr, 24); }
  @inline get senderLabelHash(): u32 { return load<u32>(this.ptr, 28); }
  @inline get flags(): u32 { return load<u32>(this.ptr, 36); }
  @inline has(flag: u32): bool { return (this.flags & flag) != 0; }
  @inline get nonce(): u64 { return load<u64>(this.ptr, 40); }
  @inline get gas(): u64 { return load<u64>(this.ptr, 48); }
  @inline get feeCap(): u64 { return load<u64>(this.ptr, 56); }
  @inline get tipCap(): u64 { return load<u64>(this.ptr, 64); }
  @inline get firstSeenMs(): u64 { return load<u64>(this.ptr, 72); }
  @inline get blockNumber(): u64 { return load<u64>(this.ptr, 80); }
  @inline get valueEth(): f64 { return load<f64>(this.ptr, 88); }
  @inline get swapSlippage(): f64 { return load<f64>(this.ptr, 96); }
  /** u256 fields: pointers to 32 little-endian bytes (compare with u256Gte). */
  @inline get value(): usize { return this.ptr + 104; }
  @inline get tokenAmount(): usize { return this.ptr + 136; }
  /** Address fields: pointers to 20 raw bytes (compare with addressEq). */
  @inline get to(): usize { return this.ptr + 168; }
  @inline get sender(): usize { return this.ptr + 188; }
  @inline get token(): usize { return this.ptr + 208; }
  @inline get counterparty(): usize { return this.ptr + 228; }
  @inline get swapTokenIn(): usize { return this.ptr + 248; }
  @inline get swapTokenOut(): usize { return this.ptr + 268; }
}

export function addressEq(a: usize, b: usize): bool {
  return load<u64>(a) == load<u64>(b) && load<u64>(a, 8) == load<u64>(b, 8) && load<u32>(a, 16) == load<u32>(b, 16);
}

/** a >= b for two u256 values given as pointers to 32 little-endian bytes. */
export function u256Gte(a: usize, b: usize): bool {
  for (let i: i32 = 24; i >= 0; i -= 8) {
    const x = load<u64>(a + <usize>i);
    const y = load<u64>(b + <usize>i);
    if (x != y) return x > y;
  }
  return true;
}

/** Writes (tx index, rule number, severity) triples to the host's output area. */
@final
export class Matches {
  count: u32 = 0;
  constructor(public out: usize, public cap: u32) {}

  add(tx: u32, rule: u32, severity: u32): void {
    if (this.count < this.cap) {
      const at = this.out + <usize>this.count * 12;
      store<u32>(at, tx);
      store<u32>(at, rule, 4);
      store<u32>(at, severity, 8);
    }
    // Counted past the cap too: the host sees it needs a bigger area and re-runs the batch.
    this.count += 1;
  }
}

/** A NUL-terminated UTF-8 copy of `json` for the scorpius_meta export. */
export function meta(json: string): usize {
  return changetype<usize>(String.UTF8.encode(json, true));
}

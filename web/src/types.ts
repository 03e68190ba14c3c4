import { parseJson } from "./api";

// The records the API streams and serves (operators/records.py and docs/api.md). Big integers may
// arrive as numbers or strings; the formatters take both.

export type Big = number | string;

export interface Tx {
  chain_id: number;
  hash: string;
  sender: string;
  to: string | null;
  nonce: number | null;
  value: Big;
  gas: number;
  tx_type: number;
  input?: string;
  selector: string | null;
  first_seen_ms: number;
  source: string;
  gas_price?: Big | null;
  max_fee_per_gas?: Big | null;
  max_priority_fee_per_gas?: Big | null;
  block_number?: number | null;
  tx_index?: number | null;
  blob_versioned_hashes?: string[];
  authorizations?: unknown[];
}

export interface Swap {
  protocol: string;
  router: string;
  path: string[];
  exact_input: boolean;
  amount_in: Big | null;
  amount_out: Big | null;
  amount_out_min: Big | null;
  amount_in_max: Big | null;
  recipient: string | null;
  quote?: Big | null;
}

export interface DecodedCall {
  method: string;
  signature: string;
  args: Record<string, unknown>;
}

export interface EnrichedTx {
  tx: Tx;
  kind: string;
  call: DecodedCall | null;
  swaps: Swap[];
  to_label: string | null;
  sender_label: string | null;
  token: string | null;
  token_amount: Big | null;
  counterparty: string | null;
}

export interface Alert {
  key: string;
  origin: string;
  severity: string;
  title: string;
  chain_id: number;
  tx_hashes: string[];
  first_seen_ms: number;
  created_ms: number;
  tags: string[];
  data: Record<string, unknown>;
  // Delivery outcomes per channel, when the API knows them (alert_deliveries log).
  deliveries?: { channel: string; outcome: string; attempts?: number; error?: string }[];
}

export interface Detection {
  key: string;
  kind: string;
  chain_id: number;
  tx_hashes: string[];
  first_seen_ms: number | string;
  detected_ms: number | string;
  severity: string;
  block_number: number | null;
  data: Record<string, unknown>;
}

export interface RuleMatch {
  key: string;
  rule_id: string;
  severity: string;
  message: string;
  chain_id: number;
  tx_hash: string;
  first_seen_ms: number | string;
  matched_ms: number | string;
  tags: string[];
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export const SEVERITIES = ["info", "low", "medium", "high", "critical"];

export function severityRank(severity: string): number {
  return SEVERITIES.indexOf(severity);
}

/** Archive rows may carry `data` as a JSON string; stream records carry an object. */
export function dataOf(record: { data?: unknown }): Record<string, unknown> {
  const data = record.data;
  if (typeof data === "string") {
    try {
      return parseJson(data) as Record<string, unknown>;
    } catch {
      return {};
    }
  }
  return (data as Record<string, unknown>) ?? {};
}

export function listOf(value: unknown): string[] {
  if (Array.isArray(value)) return value.map(String);
  if (typeof value === "string") {
    try {
      const parsed = parseJson(value);
      if (Array.isArray(parsed)) return parsed.map(String);
    } catch {
      return value ? [value] : [];
    }
  }
  return [];
}

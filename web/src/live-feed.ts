// What the Live page and its worker (live.worker.ts) say to each other. The worker owns the
// /ws/transactions socket and parses, filters, counts and thins the stream off the main thread;
// the page gets one small update every FLUSH_MS.
import type { Filters } from "./api";
import type { EnrichedTx } from "./types";

/** How often the worker hands the page an update (ms): a few renders a second, never one per tx. */
export const FLUSH_MS = 250;
/** Rows built per update at the most (48 a second): nobody reads more, and each costs the page DOM work. */
export const MAX_PER_FLUSH = 12;
/** Rows kept on screen; older ones are dropped. */
export const MAX_ROWS = 200;
/** The per-chain rate is the arrivals of this many seconds, averaged. */
export const RATE_WINDOW_S = 5;

export interface LiveRow extends EnrichedTx {
  seq: number;
}

export type FeedCommand =
  | { op: "open"; filters: Filters; key: string | null }
  | { op: "address"; address: string }
  | { op: "paused"; paused: boolean };

export interface FeedUpdate {
  /** New rows, newest first (at most MAX_PER_FLUSH). */
  rows: LiveRow[];
  /** Txs per second per chain over the last RATE_WINDOW_S seconds (all that the server sent). */
  rates: Record<number, number>;
  /** Matching txs since the stream opened that were not shown: thinned out, or arrived while paused. */
  dropped: number;
  /** Txs the server skipped because this page fell behind (its queue overflowed). */
  missed: number;
  state: string;
}

// The Live page's worker: owns the /ws/transactions socket (batched frames), parses every message,
// counts arrivals per chain, applies the address filter and keeps only the newest rows of each
// flush. The page (live-feed.ts) gets at most MAX_PER_FLUSH rows every FLUSH_MS.
import { openStream, type StreamMessage, type Stream } from "./api";
import { FLUSH_MS, MAX_PER_FLUSH, RATE_WINDOW_S, type FeedCommand, type FeedUpdate, type LiveRow } from "./live-feed";
import type { EnrichedTx } from "./types";

let stream: Stream | null = null;
let address = "";
let paused = false;
let seq = 0;
let dropped = 0;
let missed = 0;
let state = "connecting";
// Arrivals per second and chain, for the rates: [second, chain, count], oldest first.
let arrivals: [number, number, number][] = [];

function rates(): Record<number, number> {
  const second = Math.floor(Date.now() / 1000);
  arrivals = arrivals.filter(([s]) => s > second - RATE_WINDOW_S);
  const sums: Record<number, number> = {};
  for (const [, chain, n] of arrivals) sums[chain] = (sums[chain] ?? 0) + n / RATE_WINDOW_S;
  return sums;
}

function count(chain: number, second: number): void {
  const last = arrivals[arrivals.length - 1];
  if (last && last[0] === second && last[1] === chain) last[2] += 1;
  else {
    const same = arrivals.find(([s, c]) => s === second && c === chain);
    if (same) same[2] += 1;
    else arrivals.push([second, chain, 1]);
  }
}

function matches(data: EnrichedTx): boolean {
  return !address || data.tx.sender === address || (data.tx.to ?? "") === address || data.counterparty === address;
}

function post(rows: LiveRow[]): void {
  const update: FeedUpdate = { rows, rates: rates(), dropped, missed, state };
  postMessage(update);
}

function take(batch: StreamMessage<EnrichedTx>[]): void {
  const second = Math.floor(Date.now() / 1000);
  const rows: LiveRow[] = [];
  // Newest first; only the newest MAX_PER_FLUSH matching ones become rows, the rest are counted.
  for (let i = batch.length - 1; i >= 0; i--) {
    const data = batch[i].data;
    if (!data) continue;
    count(data.tx.chain_id, second);
    if (!matches(data)) continue;
    if (paused || rows.length >= MAX_PER_FLUSH) dropped += 1;
    else rows.push({ ...data, seq: ++seq });
  }
  post(rows);
}

function open(command: Extract<FeedCommand, { op: "open" }>): void {
  stream?.close();
  dropped = 0;
  missed = 0;
  arrivals = [];
  stream = openStream<EnrichedTx>("transactions", command.filters, {
    key: command.key,
    batched: true,
    flushMs: FLUSH_MS,
    onState: (s, detail) => {
      state = detail ? `${s}: ${detail}` : s;
      post([]);
    },
    onMissed: (n) => {
      missed += Math.max(n, 0);
    },
    onData: take,
  });
}

onmessage = (event: MessageEvent<FeedCommand>) => {
  const command = event.data;
  if (command.op === "open") open(command);
  else if (command.op === "address") address = command.address.trim().toLowerCase();
  else paused = command.paused;
};

// Rates decay when nothing arrives; an idle stream still shows its state. (The page ends the
// worker, and with it the socket, by terminating it.)
setInterval(() => post([]), 1000);

// Live: the stream of pending and mined txs, filtered on the server, bounded on screen.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { openStream, type Filters, type StreamMessage } from "../api";
import { memo } from "preact/compat";
import { Badge, Hash, Time, TxLink, navigate, useNow } from "../components";
import { amount, CHAINS, chainName, eth, percent, token } from "../format";
import type { EnrichedTx, Swap } from "../types";

/** Rows kept on screen; older ones are dropped (the stream runs at up to thousands per second). */
export const MAX_ROWS = 200;
const MAX_PER_FLUSH = 25;
const RATE_WINDOW_S = 5;
const KINDS = ["transfer", "token_transfer", "approval", "swap", "contract_creation", "deposit", "other"];

interface Row extends EnrichedTx {
  seq: number;
}

function slippage(swap: Swap): number | null {
  if (swap.exact_input) {
    if (swap.amount_out_min === null) return null;
    if (Number(swap.amount_out_min) === 0) return 1;
    if (swap.quote) return 1 - Number(swap.amount_out_min) / Number(swap.quote);
    return null;
  }
  return null;
}

export function SwapCell({ chain, swap }: { chain: number; swap: Swap }) {
  const tokenIn = swap.path[0];
  const tokenOut = swap.path[swap.path.length - 1];
  const slip = slippage(swap);
  const inText = swap.amount_in !== null ? amount(chain, tokenIn, swap.amount_in) : `≤ ${amount(chain, tokenIn, swap.amount_in_max)}`;
  const outText =
    swap.amount_out !== null
      ? amount(chain, tokenOut, swap.amount_out)
      : swap.amount_out_min !== null
        ? `≥ ${amount(chain, tokenOut, swap.amount_out_min)}`
        : token(chain, tokenOut)?.symbol ?? "";
  return (
    <span class="swap">
      {inText || token(chain, tokenIn)?.symbol || "?"} → {outText || "?"}
      {slip !== null && <span class={`slip${slip > 0.05 ? " bad" : ""}`}> slippage {percent(slip)}</span>}
      <span class="muted"> {swap.protocol}</span>
    </span>
  );
}

function tags(row: EnrichedTx): string[] {
  const out: string[] = [];
  if (row.tx.blob_versioned_hashes?.length) out.push("blob");
  if (row.tx.authorizations?.length) out.push("7702");
  for (const swap of row.swaps) if (!out.includes(swap.protocol)) out.push(swap.protocol);
  if (row.to_label) out.push(row.to_label.split(":")[0]);
  return out;
}

const HEADERS = ["seen", "chain", "state", "tx", "from", "to", "value", "kind", "method", "swap", "tags"];
// Fixed column widths (px; swap takes the rest): a fixed table layout does not measure every cell
// of every row again when rows arrive.
const WIDTHS = [72, 80, 100, 120, 170, 220, 170, 110, 150, undefined, 150];

/**
 * One row; memoized, so a flush renders only the rows it adds (the clock re-renders the rest
 * once a second). The table is append-only in arrival order: no sorting library needed here.
 */
const LiveRow = memo(function LiveRow({ row: r, now }: { row: Row; now: number }) {
  const mined = r.tx.block_number !== null && r.tx.block_number !== undefined;
  return (
    <tr class="clickable" onClick={() => navigate(`/tx/${r.tx.hash}`)}>
      <td>
        <Time ms={r.tx.first_seen_ms} now={now} />
      </td>
      <td>{chainName(r.tx.chain_id)}</td>
      <td>{mined ? <Badge text={`block ${r.tx.block_number}`} tone="mined" /> : <Badge text="pending" />}</td>
      <td>
        <TxLink hash={r.tx.hash} />
      </td>
      <td>
        <Hash value={r.tx.sender} chain={r.tx.chain_id} />
      </td>
      <td>
        <Hash value={r.tx.to} chain={r.tx.chain_id} />
      </td>
      <td>{r.token && r.token_amount !== null ? amount(r.tx.chain_id, r.token, r.token_amount) : eth(r.tx.value)}</td>
      <td>
        <Badge text={r.kind} tone="kind" />
      </td>
      <td class="mono">{r.call?.method ?? r.tx.selector ?? ""}</td>
      <td>{r.swaps[0] ? <SwapCell chain={r.tx.chain_id} swap={r.swaps[0]} /> : null}</td>
      <td>
        {tags(r).map((t) => (
          <Badge key={t} text={t} tone="tag" />
        ))}
      </td>
    </tr>
  );
});

export function LivePage() {
  const [chain, setChain] = useState("");
  const [kind, setKind] = useState("");
  const [address, setAddress] = useState("");
  const [selector, setSelector] = useState("");
  const [minEth, setMinEth] = useState("");
  const [paused, setPaused] = useState(false);
  const [rows, setRows] = useState<Row[]>([]);
  const [state, setState] = useState("connecting");
  const [missed, setMissed] = useState(0);
  const [thinned, setThinned] = useState(0);
  const [rates, setRates] = useState<Record<number, number>>({});
  const pausedRef = useRef(paused);
  pausedRef.current = paused;
  const addressRef = useRef(address);
  addressRef.current = address.trim().toLowerCase();
  const seq = useRef(0);
  const arrivals = useRef<{ at: number; chain: number; n: number }[]>([]);
  // Relative times move every 5 s: a re-render of every row each second would cost more than it shows.
  const now = useNow(5000);

  const filters = useMemo<Filters>(() => {
    const f: Filters = {};
    if (chain) f.chain = Number(chain);
    if (kind) f.kind = kind;
    if (/^0x[0-9a-fA-F]{8}$/.test(selector.trim())) f.selector = selector.trim().toLowerCase();
    const min = Number(minEth);
    if (minEth && Number.isFinite(min) && min > 0) f.min_value = (BigInt(Math.round(min * 1e6)) * 10n ** 12n).toString();
    return f;
  }, [chain, kind, selector, minEth]);

  useEffect(() => {
    setRows([]);
    setMissed(0);
    const stream = openStream<EnrichedTx>("transactions", filters, {
      flushMs: 500,
      onState: (s, detail) => setState(detail ? `${s}: ${detail}` : s),
      onMissed: (count) => setMissed((m) => m + Math.max(count, 0)),
      onData: (batch: StreamMessage<EnrichedTx>[]) => {
        const at = Date.now();
        const perChain = new Map<number, number>();
        for (const m of batch) if (m.data) perChain.set(m.data.tx.chain_id, (perChain.get(m.data.tx.chain_id) ?? 0) + 1);
        for (const [c, n] of perChain) arrivals.current.push({ at, chain: c, n });
        if (pausedRef.current) return;
        const wanted = addressRef.current;
        const fresh: Row[] = [];
        // Newest first, and only the newest MAX_PER_FLUSH of a batch are ever built: at 1,000 tx/s
        // nobody reads every row, and building them all would stall the page. The rest are counted.
        for (let i = batch.length - 1; i >= 0 && fresh.length < MAX_PER_FLUSH; i--) {
          const data = batch[i].data;
          if (!data) continue;
          if (wanted && data.tx.sender !== wanted && (data.tx.to ?? "") !== wanted && data.counterparty !== wanted) continue;
          fresh.push({ ...data, seq: ++seq.current });
        }
        if (fresh.length) setRows((old) => fresh.concat(old).slice(0, MAX_ROWS));
        const skipped = batch.length - fresh.length;
        if (skipped > 0 && !wanted) setThinned((n) => n + skipped);
      },
    });
    return () => stream.close();
  }, [filters]);

  useEffect(() => {
    const cutoff = Date.now() - RATE_WINDOW_S * 1000;
    arrivals.current = arrivals.current.filter((a) => a.at >= cutoff);
    const sums: Record<number, number> = {};
    for (const a of arrivals.current) sums[a.chain] = (sums[a.chain] ?? 0) + a.n;
    for (const c of Object.keys(sums)) sums[Number(c)] /= RATE_WINDOW_S;
    setRates(sums);
  }, [now]);

  const totalRate = Object.values(rates).reduce((a, b) => a + b, 0);
  const wanted = address.trim().toLowerCase();
  // The address filter also narrows what is already on screen (new rows are filtered on arrival).
  const shown = wanted ? rows.filter((r) => r.tx.sender === wanted || r.tx.to === wanted || r.counterparty === wanted) : rows;
  return (
    <div>
      <div class="toolbar">
        <h1>Live</h1>
        <button data-testid="pause" onClick={() => setPaused(!paused)}>
          {paused ? "resume" : "pause"}
        </button>
        <label>
          chain
          <select data-testid="filter-chain" value={chain} onChange={(e) => setChain(e.currentTarget.value)}>
            <option value="">all</option>
            {Object.entries(CHAINS).map(([id, name]) => (
              <option key={id} value={id}>
                {name}
              </option>
            ))}
          </select>
        </label>
        <label>
          kind
          <select data-testid="filter-kind" value={kind} onChange={(e) => setKind(e.currentTarget.value)}>
            <option value="">all</option>
            {KINDS.map((k) => (
              <option key={k}>{k}</option>
            ))}
          </select>
        </label>
        <label>
          address
          <input data-testid="filter-address" placeholder="0x… from or to" value={address} onInput={(e) => setAddress(e.currentTarget.value)} />
        </label>
        <label>
          selector
          <input data-testid="filter-selector" size={10} placeholder="0x38ed1739" value={selector} onInput={(e) => setSelector(e.currentTarget.value)} />
        </label>
        <label>
          min ETH
          <input data-testid="filter-min" size={6} placeholder="0.1" value={minEth} onInput={(e) => setMinEth(e.currentTarget.value)} />
        </label>
      </div>
      <div class="rates" data-testid="rates">
        <span class={`dot ${state === "open" ? "ok" : "warn"}`} title={state} /> {state}
        {paused && <Badge text="paused" tone="warn" />}
        <span>
          total <b>{totalRate.toFixed(1)}</b> tx/s
        </span>
        {Object.entries(rates).map(([c, r]) => (
          <span key={c}>
            {chainName(Number(c))} <b>{r.toFixed(1)}</b>/s
          </span>
        ))}
        {missed > 0 && <span class="muted">{missed} skipped (faster than the screen)</span>}
        <span class="muted">
          showing the newest {shown.length} (max {MAX_ROWS}){thinned > 0 && `, ${thinned} passed by unshown`}
        </span>
      </div>
      <table class="data fixed" data-testid="live-table">
        <colgroup>
          {WIDTHS.map((w, i) => (
            <col key={i} style={w ? { width: `${w}px` } : undefined} />
          ))}
        </colgroup>
        <thead>
          <tr>
            {HEADERS.map((h) => (
              <th key={h}>{h}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {shown.length === 0 && (
            <tr>
              <td class="muted" colSpan={HEADERS.length}>
                {state === "open" ? "waiting for transactions…" : state}
              </td>
            </tr>
          )}
          {shown.map((r) => (
            <LiveRow key={r.seq} row={r} now={now} />
          ))}
        </tbody>
      </table>
    </div>
  );
}

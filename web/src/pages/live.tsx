// Live: the stream of pending and mined txs, filtered on the server, bounded on screen.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { openStream, type Filters, type StreamMessage } from "../api";
import { Badge, DataTable, Hash, Time, TxLink, navigate, useNow, type Column } from "../components";
import { amount, CHAINS, chainName, eth, percent, token } from "../format";
import type { EnrichedTx, Swap } from "../types";

/** Rows kept on screen; older ones are dropped (the stream runs at up to thousands per second). */
export const MAX_ROWS = 200;
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
  const [rates, setRates] = useState<Record<number, number>>({});
  const pausedRef = useRef(paused);
  pausedRef.current = paused;
  const addressRef = useRef(address);
  addressRef.current = address.trim().toLowerCase();
  const seq = useRef(0);
  const arrivals = useRef<{ at: number; chain: number; n: number }[]>([]);
  const now = useNow(1000);

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
      flushMs: 250,
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
        // Newest first, and only the newest MAX_ROWS of the batch are ever built.
        for (let i = batch.length - 1; i >= 0 && fresh.length < MAX_ROWS; i--) {
          const data = batch[i].data;
          if (!data) continue;
          if (wanted && data.tx.sender !== wanted && (data.tx.to ?? "") !== wanted && data.counterparty !== wanted) continue;
          fresh.push({ ...data, seq: ++seq.current });
        }
        if (fresh.length) setRows((old) => fresh.concat(old).slice(0, MAX_ROWS));
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

  const columns = useMemo<Column<Row>[]>(
    () => [
      { id: "time", header: "seen", value: (r) => r.tx.first_seen_ms, cell: (r) => <Time ms={r.tx.first_seen_ms} now={now} /> },
      { id: "chain", header: "chain", value: (r) => r.tx.chain_id, cell: (r) => chainName(r.tx.chain_id) },
      {
        id: "state",
        header: "state",
        value: (r) => r.tx.block_number ?? -1,
        cell: (r) => (r.tx.block_number !== null && r.tx.block_number !== undefined ? <Badge text={`block ${r.tx.block_number}`} tone="mined" /> : <Badge text="pending" />),
      },
      { id: "hash", header: "tx", value: (r) => r.tx.hash, cell: (r) => <TxLink hash={r.tx.hash} />, sortable: false },
      { id: "from", header: "from", value: (r) => r.sender_label ?? r.tx.sender, cell: (r) => <Hash value={r.tx.sender} chain={r.tx.chain_id} /> },
      { id: "to", header: "to", value: (r) => r.to_label ?? r.tx.to ?? "", cell: (r) => <Hash value={r.tx.to} chain={r.tx.chain_id} /> },
      {
        id: "value",
        header: "value",
        value: (r) => Number(r.tx.value),
        cell: (r) =>
          r.token && r.token_amount !== null ? (
            <span>{amount(r.tx.chain_id, r.token, r.token_amount)}</span>
          ) : (
            <span>{eth(r.tx.value)}</span>
          ),
      },
      { id: "kind", header: "kind", value: (r) => r.kind, cell: (r) => <Badge text={r.kind} tone="kind" /> },
      { id: "method", header: "method", value: (r) => r.call?.method ?? r.tx.selector ?? "", cell: (r) => <span class="mono">{r.call?.method ?? r.tx.selector ?? ""}</span> },
      {
        id: "swap",
        header: "swap",
        value: (r) => r.swaps.length,
        cell: (r) => (r.swaps[0] ? <SwapCell chain={r.tx.chain_id} swap={r.swaps[0]} /> : null),
        sortable: false,
      },
      { id: "tags", header: "tags", value: (r) => tags(r).join(" "), cell: (r) => tags(r).map((t) => <Badge key={t} text={t} tone="tag" />), sortable: false },
    ],
    [now],
  );

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
          showing the newest {shown.length} (max {MAX_ROWS})
        </span>
      </div>
      <DataTable
        testId="live-table"
        rows={shown}
        columns={columns}
        rowKey={(r) => `${r.seq}`}
        onRowClick={(r) => navigate(`/tx/${r.tx.hash}`)}
        empty={state === "open" ? "waiting for transactions…" : state}
      />
    </div>
  );
}

// Live: the stream of pending and mined txs, filtered on the server, thinned in a worker, bounded on screen.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { storedKey, type Filters } from "../api";
import { memo } from "preact/compat";
import { Badge, CHAIN_OPTIONS, Choice, Clock, Hash, Head, StreamDot, TextFilter, Time, TxLink, navigate, useNow } from "../components";
import { amount, chainName, eth, percent, token } from "../format";
import { FLUSH_MS, MAX_PER_FLUSH, MAX_ROWS, type FeedCommand, type FeedUpdate, type LiveRow } from "../live-feed";
import type { EnrichedTx, Swap } from "../types";

// Rows have one fixed height (CSS: .live-scroll tr), so the window of rows in view is arithmetic.
const ROW_PX = 24;
// Rows built beyond the view on each side, so a scroll does not show blanks before the next render.
const OVERSCAN = 8;
const KINDS = ["transfer", "token_transfer", "approval", "swap", "contract_creation", "deposit", "other"];

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

interface LiveFeed extends Omit<FeedUpdate, "rows"> {
  rows: LiveRow[];
}

const EMPTY: LiveFeed = { rows: [], rates: {}, dropped: 0, missed: 0, state: "connecting" };

/**
 * The feed for `filters` (applied by the server), narrowed to `address` (applied in the worker,
 * live.worker.ts, which owns the socket). The page gets an update every FLUSH_MS with at most
 * MAX_PER_FLUSH new rows and keeps MAX_ROWS. While `paused` the rows stand still and arrivals
 * are counted as dropped.
 */
function useLiveFeed(filters: Filters, address: string, paused: boolean): LiveFeed {
  const worker = useRef<Worker | null>(null);
  const [feed, setFeed] = useState<LiveFeed>(EMPTY);
  const send = (command: FeedCommand) => worker.current?.postMessage(command);

  useEffect(() => {
    const w = new Worker(new URL("../live.worker.ts", import.meta.url), { type: "module" });
    w.onmessage = (event: MessageEvent<FeedUpdate>) => {
      const update = event.data;
      setFeed((old) => ({ ...update, rows: update.rows.length ? update.rows.concat(old.rows).slice(0, MAX_ROWS) : old.rows }));
    };
    worker.current = w;
    return () => {
      w.terminate();
      worker.current = null;
    };
  }, []);

  useEffect(() => {
    setFeed(EMPTY);
    send({ op: "open", filters, key: storedKey() });
  }, [filters]);
  useEffect(() => send({ op: "address", address }), [address]);
  useEffect(() => send({ op: "paused", paused }), [paused]);
  return feed;
}

/**
 * One row; memoized, so an update renders only the rows it adds (the clock re-renders only the
 * times, through `Clock`). The table is append-only in arrival order: no sorting library here.
 */
const Row = memo(function Row({ row: r }: { row: LiveRow }) {
  const mined = r.tx.block_number !== null && r.tx.block_number !== undefined;
  return (
    <tr class="clickable" onClick={() => navigate(`/tx/${r.tx.hash}`)}>
      <td>
        <Time ms={r.tx.first_seen_ms} />
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

/** Where a scrolling box is scrolled to and how tall it is, kept up to date. */
function useRowWindow() {
  const ref = useRef<HTMLDivElement>(null);
  const [top, setTop] = useState(0);
  const [height, setHeight] = useState(800);
  useEffect(() => {
    const box = ref.current;
    if (!box) return;
    const observer = new ResizeObserver(() => setHeight(box.clientHeight));
    observer.observe(box);
    return () => observer.disconnect();
  }, []);
  return { ref, top, height, onScroll: (e: Event) => setTop((e.currentTarget as HTMLElement).scrollTop) };
}

export function LivePage() {
  const [chain, setChain] = useState("");
  const [kind, setKind] = useState("");
  const [address, setAddress] = useState("");
  const [selector, setSelector] = useState("");
  const [minEth, setMinEth] = useState("");
  const [paused, setPaused] = useState(false);
  const view = useRowWindow();
  // Relative times move every 5 s: a re-render of every time each second would cost more than it shows.
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
  const wanted = address.trim().toLowerCase();
  const { rows, rates, dropped, missed, state } = useLiveFeed(filters, wanted, paused);

  const totalRate = Object.values(rates).reduce((a, b) => a + b, 0);
  // The address filter also narrows what is already on screen (new rows are filtered in the worker).
  const shown = wanted ? rows.filter((r) => r.tx.sender === wanted || r.tx.to === wanted || r.counterparty === wanted) : rows;
  // Only the rows in view (and a few around them) are in the DOM: the page paints tens, not hundreds.
  const first = Math.max(0, Math.floor(view.top / ROW_PX) - OVERSCAN);
  const last = Math.min(shown.length, Math.ceil((view.top + view.height) / ROW_PX) + OVERSCAN);
  return (
    <div>
      <div class="toolbar">
        <h1>Live</h1>
        <button data-testid="pause" onClick={() => setPaused(!paused)}>
          {paused ? "resume" : "pause"}
        </button>
        <Choice label="chain" testId="filter-chain" value={chain} onChange={setChain} options={CHAIN_OPTIONS} />
        <Choice label="kind" testId="filter-kind" value={kind} onChange={setKind} options={KINDS} />
        <TextFilter label="address" testId="filter-address" placeholder="0x… from or to" value={address} onInput={setAddress} />
        <TextFilter label="selector" testId="filter-selector" size={10} placeholder="0x38ed1739" value={selector} onInput={setSelector} />
        <TextFilter label="min ETH" testId="filter-min" size={6} placeholder="0.1" value={minEth} onInput={setMinEth} />
      </div>
      <div class="rates" data-testid="rates">
        <StreamDot state={state} /> {state}
        {paused && <Badge text="paused" tone="warn" />}
        <span>
          total <b>{totalRate.toFixed(1)}</b> tx/s
        </span>
        {Object.entries(rates).map(([c, r]) => (
          <span key={c}>
            {chainName(Number(c))} <b>{r.toFixed(1)}</b>/s
          </span>
        ))}
        <span class="muted">
          showing the newest {shown.length} (max {MAX_ROWS}, {(MAX_PER_FLUSH * 1000) / FLUSH_MS} new a second at the most)
        </span>
        {dropped > 0 && (
          <span class="muted" data-testid="dropped" title="matching txs not shown: more than the page shows, or arrived while paused">
            <b>{dropped.toLocaleString()}</b> dropped{paused ? " (paused)" : ""}
          </span>
        )}
        {missed > 0 && (
          <span class="muted" data-testid="missed" title="txs the server skipped: the page fell behind the stream">
            {missed.toLocaleString()} skipped by the server
          </span>
        )}
      </div>
      <div class="live-scroll" ref={view.ref} onScroll={view.onScroll}>
        <table class="data fixed" data-testid="live-table">
          <colgroup>
            {WIDTHS.map((w, i) => (
              <col key={i} style={w ? { width: `${w}px` } : undefined} />
            ))}
          </colgroup>
          <Head headers={HEADERS} />
          <tbody>
            {shown.length === 0 && (
              <tr>
                <td class="muted" colSpan={HEADERS.length}>
                  {state === "open" ? "waiting for transactions…" : state}
                </td>
              </tr>
            )}
            {first > 0 && <tr class="spacer" style={{ height: `${first * ROW_PX}px` }} />}
            <Clock.Provider value={now}>
              {shown.slice(first, last).map((r) => (
                <Row key={r.seq} row={r} />
              ))}
            </Clock.Provider>
            {last < shown.length && <tr class="spacer" style={{ height: `${(shown.length - last) * ROW_PX}px` }} />}
          </tbody>
        </table>
      </div>
    </div>
  );
}

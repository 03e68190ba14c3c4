// Tx: one transaction's lifecycle on a timeline, its decoded call and swaps, and every detection
// and rule match that names it. Refreshed while it is still pending.
import { useEffect, useState } from "preact/hooks";
import { api, ApiError } from "../api";
import { Badge, Card, ErrorLine, Hash, Time, TxLink, useNow } from "../components";
import { amount, chainName, duration, eth, localTime, ms } from "../format";
import { dataOf, listOf, type Detection, type RuleMatch, type Swap } from "../types";
import { SwapCell } from "./live";

interface Lifecycle {
  first_seen_ms: number | null;
  first_seen_by?: string | null;
  state: string;
  block_number?: number | null;
  inclusion_latency_ms?: number | null;
  replaced_by?: string | null;
  replaces?: string[] | null;
  events?: { at_ms: number; state: string; detail?: string }[];
}

interface TxView {
  tx: Record<string, unknown>;
  lifecycle: Lifecycle;
  call: { method: string; signature: string; args: Record<string, unknown> } | null;
  swaps: Swap[];
  detections: Detection[];
  rule_matches: RuleMatch[];
}

function show(value: unknown): string {
  if (value === null || value === undefined) return "–";
  if (typeof value === "string") return value;
  return JSON.stringify(value);
}

export function TxPage({ hash }: { hash: string }) {
  const [view, setView] = useState<TxView | null>(null);
  const [error, setError] = useState<string | null>(null);
  const now = useNow(2000);

  useEffect(() => {
    setView(null);
    setError(null);
  }, [hash]);

  useEffect(() => {
    if (view && view.lifecycle.state !== "pending") return;
    api<TxView>(`/api/v1/tx/${hash}`)
      .then((v) => {
        setView(v);
        setError(null);
      })
      .catch((err: unknown) =>
        setError(err instanceof ApiError && err.status === 404 ? "Not archived yet: the flow has not written this tx to the archive. Retrying…" : String(err)),
      );
    // Polled every 2 s while pending, so inclusion shows up without a reload.
  }, [hash, now]);

  if (!view) {
    return (
      <div>
        <h1>
          Tx <Hash value={hash} />
        </h1>
        <ErrorLine error={error} />
      </div>
    );
  }
  const tx = view.tx;
  const chain = Number(tx.chain_id);
  const life = view.lifecycle;
  const seen = life.first_seen_ms ?? ms(tx.first_seen_ms);
  const related = new Set<string>();
  for (const d of view.detections) for (const h of listOf(d.tx_hashes)) if (h !== hash) related.add(h);
  if (life.replaced_by) related.add(life.replaced_by);
  for (const h of life.replaces ?? []) related.add(h);

  const steps: { at: number | null; title: string; detail: string; tone: string }[] = [
    { at: seen, title: "first seen", detail: `by ${life.first_seen_by ?? String(tx.source ?? "?")}`, tone: "seen" },
  ];
  for (const event of life.events ?? []) steps.push({ at: event.at_ms, title: event.state, detail: event.detail ?? "", tone: event.state });
  if (life.state === "included" || life.block_number) {
    steps.push({
      at: seen !== null && life.inclusion_latency_ms ? seen + life.inclusion_latency_ms : null,
      title: `included in block ${life.block_number ?? tx.block_number ?? "?"}`,
      detail: `position ${String(tx.tx_index ?? "?")}${life.inclusion_latency_ms ? ` · latency ${duration(life.inclusion_latency_ms)}` : ""}`,
      tone: "included",
    });
  } else if (life.state === "replaced") {
    steps.push({ at: null, title: "replaced", detail: life.replaced_by ? `by ${life.replaced_by}` : "", tone: "replaced" });
  } else if (life.state === "dropped" || life.state === "reorged") {
    steps.push({ at: null, title: life.state, detail: "", tone: life.state });
  } else {
    steps.push({ at: null, title: "pending", detail: "waiting for a block", tone: "pending" });
  }

  return (
    <div>
      <h1>
        Tx <Hash value={hash} /> <Badge text={life.state} />
      </h1>
      <div class="grid">
        <Card title="Lifecycle">
          <ol class="timeline" data-testid="timeline">
            {steps.map((s, i) => (
              <li key={i} class={s.tone}>
                <b>{s.title}</b> {s.at !== null && <span class="muted">{localTime(s.at)} · <Time ms={s.at} now={now} /></span>}
                <div>{s.detail}</div>
              </li>
            ))}
          </ol>
        </Card>
        <Card title="Transaction">
          <dl class="facts">
            <dt>chain</dt>
            <dd>{chainName(chain)}</dd>
            <dt>from</dt>
            <dd>
              <Hash value={String(tx.sender ?? "")} chain={chain} />
            </dd>
            <dt>to</dt>
            <dd>
              <Hash value={(tx.to as string) ?? null} chain={chain} />
            </dd>
            <dt>value</dt>
            <dd>{eth(tx.value)}</dd>
            <dt>nonce</dt>
            <dd>{show(tx.nonce)}</dd>
            <dt>fee cap</dt>
            <dd>{tx.max_fee_per_gas ?? tx.gas_price ? `${Number(tx.max_fee_per_gas ?? tx.gas_price) / 1e9} gwei` : "–"}</dd>
            <dt>type</dt>
            <dd>{show(tx.tx_type)}</dd>
          </dl>
        </Card>
        <Card title="Decoded call">
          {view.call ? (
            <div data-testid="call">
              <p class="mono">{view.call.signature}</p>
              <dl class="facts">
                {Object.entries(view.call.args).map(([name, value]) => [
                  <dt key={`${name}:k`}>{name}</dt>,
                  <dd key={`${name}:v`} class="mono wrap">
                    {typeof value === "string" && /^0x[0-9a-fA-F]{40}$/.test(value) ? <Hash value={value} chain={chain} /> : show(value)}
                  </dd>,
                ])}
              </dl>
            </div>
          ) : (
            <p class="muted">not a call the ABIs know{tx.selector ? ` (selector ${String(tx.selector)})` : ""}</p>
          )}
          {view.swaps.map((s, i) => (
            <p key={i}>
              <SwapCell chain={chain} swap={s} />
            </p>
          ))}
        </Card>
        <Card title={`Detections (${view.detections.length})`}>
          {view.detections.length === 0 && <p class="muted">no detector named this tx</p>}
          <ul class="plain">
            {view.detections.map((d) => {
              const data = dataOf(d);
              return (
                <li key={d.key}>
                  <Badge text={d.severity} /> <b>{d.kind}</b> {d.block_number ? `block ${d.block_number}` : "mempool"}
                  {data.profit_wei !== undefined && <span> · profit {eth(data.profit_wei)}</span>}
                  {data.profit !== undefined && <span> · profit {amount(chain, (data.profit_token as string) ?? null, data.profit)}</span>}
                </li>
              );
            })}
          </ul>
        </Card>
        <Card title={`Rule matches (${view.rule_matches.length})`}>
          {view.rule_matches.length === 0 && <p class="muted">no rule matched this tx</p>}
          <ul class="plain">
            {view.rule_matches.map((m) => (
              <li key={m.key}>
                <Badge text={m.severity} /> <b>{m.rule_id}</b> {m.message}
              </li>
            ))}
          </ul>
        </Card>
        <Card title="Related txs">
          {related.size === 0 && <p class="muted">none known</p>}
          <ul class="plain">
            {[...related].map((h) => (
              <li key={h}>
                <TxLink hash={h} />
              </li>
            ))}
          </ul>
        </Card>
      </div>
    </div>
  );
}

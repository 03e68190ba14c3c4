// MEV: findings over time per chain and protocol, top searchers, victims' losses, mempool alerts
// against the mined outcome, and a table that drills into each finding's legs.
import type uPlot from "uplot";
import { useEffect, useMemo, useState } from "preact/hooks";
import { api, openStream, query } from "../api";
import { Badge, Card, CHAIN_OPTIONS, Chart, Choice, CompactTable, DataTable, ErrorLine, Hash, Head, PALETTE, Time, TxLink, useNow, type Column } from "../components";
import { amount, chainName, duration, eth, ms, percent } from "../format";
import { dataOf, listOf, type Detection, type Page } from "../types";

interface Stats {
  source: string;
  counts: { bucket: string; chain_id: number; kind: string; count: number }[];
  // Profits and losses are per token (profit_token / token); *_wei shapes are ETH.
  top_searchers: { chain_id: number; searcher: string; profit_wei?: string; profit_token?: string; profit_amount?: string; count: number }[];
  victim_losses: { chain_id: number; token?: string; loss_amount?: string; loss_wei?: string; victims: number; sandwiches?: number }[];
  inclusion_latency_ms: { p50: number | null; p90: number | null; p99: number | null; count: number } | null;
  confirmation_rate: { kind: string; predicted: number; confirmed: number; rate: number | null }[];
}

const MAX_FINDINGS = 500;
const FINDING_KINDS = ["sandwich", "arbitrage", "liquidation", "sandwich_predicted", "sandwich_attempt", "sandwichable_victim", "frontrun", "replacement"];

type Leg = Record<string, unknown>;

function LegRow({ role, leg, chain }: { role: string; leg: Leg; chain: number }) {
  return (
    <tr>
      <td>
        <Badge text={role} tone="tag" />
      </td>
      <td>
        <TxLink hash={leg.tx_hash as string} />
      </td>
      <td>{String(leg.tx_position ?? "")}</td>
      <td>{String(leg.exchange ?? leg.protocol ?? "")}</td>
      <td>
        <Hash value={(leg.sender as string) ?? null} chain={chain} />
      </td>
      <td>{amount(chain, leg.token_in as string, leg.amount_in)}</td>
      <td>{amount(chain, leg.token_out as string, leg.amount_out)}</td>
    </tr>
  );
}

export function Legs({ detection }: { detection: Detection }) {
  const data = dataOf(detection);
  const chain = detection.chain_id;
  const legs: [string, Leg][] = [];
  // Mined findings carry each leg's swap; mempool ones (sandwich_attempt) the legs' tx hashes.
  const leg = (value: unknown): Leg => (typeof value === "string" ? { tx_hash: value } : (value as Leg));
  if (data.frontrun) legs.push(["frontrun", leg(data.frontrun)]);
  const victims = (data.victims as unknown[] | undefined) ?? (data.victim ? [data.victim] : []);
  for (const v of victims) legs.push(["victim", leg(v)]);
  if (data.backrun) legs.push(["backrun", leg(data.backrun)]);
  for (const s of (data.swaps as Leg[] | undefined) ?? []) legs.push(["swap", s]);
  return (
    <div class="legs" data-testid="legs">
      {legs.length > 0 && (
        <table class="data inner">
          <Head headers={["leg", "tx", "pos", "exchange", "sender", "in", "out"]} />
          <tbody>
            {legs.map(([role, leg], i) => (
              <LegRow key={i} role={role} leg={leg} chain={chain} />
            ))}
          </tbody>
        </table>
      )}
      {detection.kind === "liquidation" && (
        <p>
          <Hash value={data.liquidator as string} chain={chain} /> repaid {amount(chain, data.debt_token as string, data.debt_amount)} of{" "}
          <Hash value={data.liquidated_user as string} chain={chain} />
          's debt and received {amount(chain, (data.received_token ?? data.collateral_token) as string, data.received_amount)}
        </p>
      )}
      {detection.kind === "sandwich_predicted" && (
        <p>
          announced by a {String(data.predicted_by)} alert {duration(data.alert_lead_ms as number)} before the block (pending for{" "}
          {duration(data.pending_lead_ms as number)})
        </p>
      )}
      {legs.length === 0 && detection.kind !== "liquidation" && <pre class="payload">{JSON.stringify(data, null, 1)}</pre>}
    </div>
  );
}

function profit(d: Detection): string {
  const data = dataOf(d);
  if (data.profit_amount !== undefined && data.profit_amount !== null) return amount(d.chain_id, data.profit_token as string, data.profit_amount);
  if (data.extractable_profit !== undefined && data.extractable_profit !== null) return amount(d.chain_id, data.profit_token as string, data.extractable_profit);
  return "";
}

function protocolOf(d: Detection): string {
  const data = dataOf(d);
  return String(data.protocol ?? (Array.isArray(data.protocols) ? data.protocols.join(", ") : "") ?? "");
}

export function MevPage() {
  const [stats, setStats] = useState<Stats | null>(null);
  const [findings, setFindings] = useState<Detection[]>([]);
  const [chain, setChain] = useState("");
  const [kind, setKind] = useState("");
  const [open, setOpen] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const now = useNow(5000);

  useEffect(() => {
    api<Stats>(`/api/v1/stats${query({ chain: chain || undefined, bucket: 3600 })}`)
      .then(setStats)
      .catch((err: unknown) => setError(`stats: ${String(err)}`));
  }, [chain, now]);

  useEffect(() => {
    setFindings([]);
    api<Page<Detection>>(`/api/v1/detections${query({ chain: chain || undefined, kind: kind || undefined, limit: 200 })}`)
      .then((page) => setFindings((live) => dedupe(live.concat(page.items))))
      .catch((err: unknown) => setError(`detections: ${String(err)}`));
    const stream = openStream<Detection>("detections", { chain: chain ? Number(chain) : undefined, kind: kind || undefined }, {
      onData: (batch) => setFindings((old) => dedupe(batch.map((m) => m.data!).filter(Boolean).reverse().concat(old))),
    });
    return () => stream.close();
  }, [chain, kind]);

  const chart = useMemo(() => {
    const counts = stats?.counts ?? [];
    const kinds = [...new Set(counts.map((c) => c.kind))].sort();
    const buckets = [...new Set(counts.map((c) => Date.parse(c.bucket) / 1000))].sort((a, b) => a - b);
    const index = new Map(buckets.map((b, i) => [b, i]));
    const series = kinds.map(() => buckets.map(() => 0));
    for (const c of counts) series[kinds.indexOf(c.kind)][index.get(Date.parse(c.bucket) / 1000)!] += c.count;
    return { kinds, data: [buckets, ...series] as uPlot.AlignedData };
  }, [stats]);

  const perChain = useMemo(() => {
    const out = new Map<string, number>();
    for (const c of stats?.counts ?? []) {
      const key = `${chainName(c.chain_id)} · ${c.kind}`;
      out.set(key, (out.get(key) ?? 0) + c.count);
    }
    for (const f of findings) {
      const p = protocolOf(f);
      if (p) {
        const key = `protocol ${p} · ${f.kind}`;
        out.set(key, (out.get(key) ?? 0) + 1);
      }
    }
    return [...out.entries()].sort((a, b) => b[1] - a[1]);
  }, [stats, findings]);

  const predicted = findings.filter((f) => f.kind === "sandwich_predicted");
  // How long before its block the mempool saw the victim the alert was raised on.
  const leads = predicted.map((p) => Number(dataOf(p).pending_lead_ms)).filter((x) => Number.isFinite(x) && x >= 0);
  const meanLead = leads.length ? leads.reduce((a, b) => a + b, 0) / leads.length : null;

  const columns = useMemo<Column<Detection>[]>(
    () => [
      { id: "time", header: "detected", value: (d) => ms(d.detected_ms) ?? 0, cell: (d) => <Time ms={ms(d.detected_ms)} now={now} /> },
      { id: "chain", header: "chain", value: (d) => d.chain_id, cell: (d) => chainName(d.chain_id) },
      { id: "kind", header: "kind", value: (d) => d.kind, cell: (d) => <Badge text={d.kind} tone="kind" /> },
      { id: "severity", header: "severity", value: (d) => d.severity, cell: (d) => <Badge text={d.severity} /> },
      { id: "block", header: "block", value: (d) => d.block_number ?? -1, cell: (d) => (d.block_number ? String(d.block_number) : "mempool") },
      { id: "protocol", header: "protocol", value: protocolOf },
      {
        id: "who",
        header: "searcher",
        value: (d) => String(dataOf(d).sandwicher ?? dataOf(d).account ?? dataOf(d).liquidator ?? ""),
        cell: (d) => <Hash value={(dataOf(d).sandwicher ?? dataOf(d).account ?? dataOf(d).liquidator ?? dataOf(d).searcher ?? dataOf(d).attacker) as string} chain={d.chain_id} />,
      },
      { id: "txs", header: "txs", value: (d) => listOf(d.tx_hashes).length, cell: (d) => <TxLink hash={listOf(d.tx_hashes)[0]} /> },
      { id: "profit", header: "profit", value: profit },
    ],
    [now],
  );

  return (
    <div>
      <div class="toolbar">
        <h1>MEV</h1>
        <Choice label="chain" testId="mev-chain" value={chain} onChange={setChain} options={CHAIN_OPTIONS} />
        <Choice label="kind" testId="mev-kind" value={kind} onChange={setKind} options={FINDING_KINDS} />
        {stats && <span class="muted">figures from the {stats.source}</span>}
      </div>
      <ErrorLine error={error} />
      <div class="grid">
        <Card title="Findings over time (per hour)" wide>
          {chart.kinds.length ? (
            <Chart testId="mev-chart" points data={chart.data} series={chart.kinds.map((k, i) => ({ label: k, color: PALETTE[i % PALETTE.length] }))} />
          ) : (
            <p class="muted">no findings in the range</p>
          )}
        </Card>
        <Card title="Per chain and protocol">
          <CompactTable testId="mev-per-chain">
            {perChain.slice(0, 12).map(([k, n]) => (
              <tr key={k}>
                <td>{k}</td>
                <td class="num">{n}</td>
              </tr>
            ))}
          </CompactTable>
        </Card>
        <Card title="Top searchers by profit">
          <CompactTable testId="top-searchers" headers={["chain", "searcher", "profit", "#"]}>
            {(stats?.top_searchers ?? []).slice(0, 10).map((s) => (
              <tr key={`${s.chain_id}:${s.searcher}`}>
                <td>{chainName(s.chain_id)}</td>
                <td>
                  <Hash value={s.searcher} chain={s.chain_id} />
                </td>
                <td class="num">{s.profit_amount !== undefined ? amount(s.chain_id, s.profit_token, s.profit_amount) : eth(s.profit_wei)}</td>
                <td class="num">{s.count}</td>
              </tr>
            ))}
          </CompactTable>
        </Card>
        <Card title="Victims' losses">
          <CompactTable testId="victim-losses">
            {(stats?.victim_losses ?? []).slice(0, 12).map((v) => (
              <tr key={`${v.chain_id}:${v.token ?? ""}`}>
                <td>{chainName(v.chain_id)}</td>
                <td class="num">{v.loss_amount !== undefined ? amount(v.chain_id, v.token, v.loss_amount) : eth(v.loss_wei)}</td>
                <td class="num">{v.victims} victims</td>
              </tr>
            ))}
          </CompactTable>
        </Card>
        <Card title="Mempool alerts vs mined outcome">
          <CompactTable testId="confirmation" headers={["alert kind", "alerts", "confirmed by a block", "rate"]}>
            {(stats?.confirmation_rate ?? []).map((c) => (
              <tr key={c.kind}>
                <td>{c.kind}</td>
                <td class="num">{c.predicted}</td>
                <td class="num">{c.confirmed}</td>
                <td class="num">{percent(c.rate)}</td>
              </tr>
            ))}
          </CompactTable>
          <p class="muted">
            {predicted.length} sandwiches announced in the mempool in this view
            {meanLead !== null && <> · mean lead time {duration(meanLead)} (victim seen pending before its block)</>}
            {stats?.inclusion_latency_ms?.count ? (
              <>
                {" "}
                · inclusion p50 {duration(stats.inclusion_latency_ms.p50)}, p99 {duration(stats.inclusion_latency_ms.p99)}
              </>
            ) : null}
          </p>
        </Card>
      </div>
      <Card title={`Findings (${findings.length}, click one for its legs)`} wide>
        <DataTable
          testId="findings"
          rows={findings}
          columns={columns}
          rowKey={(d) => d.key}
          onRowClick={(d) => setOpen(open === d.key ? null : d.key)}
          expanded={(d) => (d.key === open ? <Legs detection={d} /> : null)}
        />
      </Card>
    </div>
  );
}

function dedupe(items: Detection[]): Detection[] {
  const seen = new Set<string>();
  const out: Detection[] = [];
  for (const item of items) {
    if (!item || seen.has(item.key)) continue;
    seen.add(item.key);
    out.push(item);
    if (out.length >= MAX_FINDINGS) break;
  }
  return out;
}

// Alerts: the live feed on top of the history, with severity, kind, rule and delivery per channel.
import { useEffect, useMemo, useState } from "preact/hooks";
import { api, openStream } from "../api";
import { Badge, CHAIN_OPTIONS, Choice, DataTable, ErrorLine, StreamDot, TextFilter, Time, TxLink, useNow, type Column } from "../components";
import { chainName, ms } from "../format";
import { listOf, SEVERITIES, severityRank, type Alert, type Page } from "../types";

const MAX_ALERTS = 1000;

function originParts(alert: Alert): { kind: string; rule: string } {
  const [source, name] = alert.origin.split(":", 2);
  return source === "rule" ? { kind: "rule", rule: name ?? "" } : { kind: name ?? source, rule: "" };
}

function Deliveries({ alert }: { alert: Alert }) {
  if (!alert.deliveries?.length) return <span class="muted">–</span>;
  return (
    <span>
      {alert.deliveries.map((d) => (
        <Badge key={d.channel} text={`${d.channel}: ${d.outcome}`} tone={d.outcome === "sent" ? "ok" : d.outcome === "dead_letter" ? "high" : "medium"} />
      ))}
    </span>
  );
}

export function AlertsPage() {
  const [alerts, setAlerts] = useState<Alert[]>([]);
  const [severity, setSeverity] = useState("");
  const [kind, setKind] = useState("");
  const [rule, setRule] = useState("");
  const [chain, setChain] = useState("");
  const [text, setText] = useState("");
  const [state, setState] = useState("connecting");
  const [error, setError] = useState<string | null>(null);
  const now = useNow(1000);

  useEffect(() => {
    // Live first, so nothing emitted while the history loads is lost; the two are merged by key.
    const stream = openStream<Alert>("alerts", {}, {
      onState: (s, detail) => setState(detail ? `${s}: ${detail}` : s),
      onData: (batch) => {
        const items = batch.map((m) => m.data!).filter(Boolean).reverse();
        setAlerts((old) => merge(items, old));
      },
    });
    api<Page<Alert>>("/api/v1/alerts?limit=500")
      .then((page) => setAlerts((live) => merge(live, page.items).sort((a, b) => (ms(b.created_ms) ?? 0) - (ms(a.created_ms) ?? 0))))
      .catch((err: unknown) => setError(`history: ${String(err)}`));
    return () => stream.close();
  }, []);

  const shown = useMemo(() => {
    const min = severity ? severityRank(severity) : -1;
    const needle = text.trim().toLowerCase();
    return alerts.filter((a) => {
      const o = originParts(a);
      if (severityRank(a.severity) < min) return false;
      if (kind && o.kind !== kind) return false;
      if (rule && o.rule !== rule) return false;
      if (chain && a.chain_id !== Number(chain)) return false;
      if (needle && !`${a.title} ${a.origin} ${listOf(a.tx_hashes).join(" ")} ${listOf(a.tags).join(" ")}`.toLowerCase().includes(needle)) return false;
      return true;
    });
  }, [alerts, severity, kind, rule, chain, text]);

  const kinds = useMemo(() => [...new Set(alerts.map((a) => originParts(a).kind))].sort(), [alerts]);
  const rules = useMemo(() => [...new Set(alerts.map((a) => originParts(a).rule).filter(Boolean))].sort(), [alerts]);

  const columns = useMemo<Column<Alert>[]>(
    () => [
      { id: "time", header: "created", value: (a) => ms(a.created_ms) ?? 0, cell: (a) => <Time ms={ms(a.created_ms)} now={now} /> },
      { id: "severity", header: "severity", value: (a) => severityRank(a.severity), cell: (a) => <Badge text={a.severity} /> },
      { id: "chain", header: "chain", value: (a) => a.chain_id, cell: (a) => chainName(a.chain_id) },
      { id: "kind", header: "kind", value: (a) => originParts(a).kind, cell: (a) => <Badge text={originParts(a).kind} tone="kind" /> },
      { id: "rule", header: "rule", value: (a) => originParts(a).rule },
      { id: "title", header: "alert", value: (a) => a.title, cell: (a) => <span data-key={a.key}>{a.title}</span> },
      { id: "tx", header: "tx", value: (a) => listOf(a.tx_hashes)[0] ?? "", cell: (a) => <TxLink hash={listOf(a.tx_hashes)[0]} />, sortable: false },
      { id: "tags", header: "tags", value: (a) => listOf(a.tags).join(" "), cell: (a) => listOf(a.tags).map((t) => <Badge key={t} text={t} tone="tag" />) },
      { id: "delivery", header: "delivery", value: (a) => a.deliveries?.map((d) => d.outcome).join(" ") ?? "", cell: (a) => <Deliveries alert={a} /> },
    ],
    [now],
  );

  return (
    <div>
      <div class="toolbar">
        <h1>Alerts</h1>
        <Choice label="severity ≥" testId="alerts-severity" any="any" value={severity} onChange={setSeverity} options={SEVERITIES} />
        <Choice label="kind" testId="alerts-kind" any="any" value={kind} onChange={setKind} options={kinds} />
        <Choice label="rule" testId="alerts-rule" any="any" value={rule} onChange={setRule} options={rules} />
        <Choice label="chain" testId="alerts-chain" any="any" value={chain} onChange={setChain} options={CHAIN_OPTIONS} />
        <TextFilter label="search" testId="alerts-search" placeholder="title, tx, tag" value={text} onInput={setText} />
      </div>
      <div class="rates">
        <StreamDot state={state} /> live feed {state} · {shown.length} of {alerts.length} alerts
      </div>
      <ErrorLine error={error} />
      <DataTable
        testId="alerts-table"
        rows={shown}
        columns={columns}
        rowKey={(a) => a.key}
        empty="no alerts match"
      />
    </div>
  );
}

function merge(first: Alert[], second: Alert[]): Alert[] {
  const seen = new Set<string>();
  const out: Alert[] = [];
  for (const a of first.concat(second)) {
    if (!a || seen.has(a.key)) continue;
    seen.add(a.key);
    out.push(a);
    if (out.length >= MAX_ALERTS) break;
  }
  return out;
}

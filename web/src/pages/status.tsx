// Status: per-stage rates and lag, dead letters by stage and by reason, sink
// health and the sources' connections, from the /ws/status stream (one message a second).
import type uPlot from "uplot";
import { useEffect, useMemo, useState } from "preact/hooks";
import { openStream } from "../api";
import { Badge, Card, Chart, CompactTable, PALETTE, StreamDot } from "../components";
import { chainName, duration } from "../format";

interface StatusData {
  at_ms: number;
  feed: string;
  rates: Record<string, number>;
  totals: Record<string, number>;
  lag_ms: Record<string, number>;
  dead_letters: {
    total: number;
    by_stage: Record<string, number>;
    // reason class (the text before its first ":") -> count, from the API (connectors/api/streams.py)
    by_reason?: Record<string, number>;
  };
  sinks: Record<string, string>;
  sources?: { chain_id: number; url: string; state: string; detail?: string }[];
  clients?: number;
}

const HISTORY = 120;

export function StatusPage() {
  const [status, setStatus] = useState<StatusData | null>(null);
  const [history, setHistory] = useState<StatusData[]>([]);
  const [state, setState] = useState("connecting");

  useEffect(() => {
    const stream = openStream<StatusData>("status", {}, {
      onState: (s, detail) => setState(detail ? `${s}: ${detail}` : s),
      onData: (batch) => {
        const items = batch.map((m) => m.data!).filter(Boolean);
        if (!items.length) return;
        setStatus(items[items.length - 1]);
        setHistory((old) => old.concat(items).slice(-HISTORY));
      },
    });
    return () => stream.close();
  }, []);

  const stages = useMemo(() => Object.keys(status?.rates ?? {}).sort(), [status]);
  const chart = useMemo(
    () => [history.map((h) => h.at_ms / 1000), ...stages.map((s) => history.map((h) => h.rates[s] ?? 0))] as uPlot.AlignedData,
    [history, stages],
  );

  if (!status) return <p class="muted">status stream: {state}</p>;
  return (
    <div>
      <div class="toolbar">
        <h1>Status</h1>
        <span>
          <StreamDot state={state} /> feed <b>{status.feed}</b> · {status.clients ?? 0} stream clients
        </span>
      </div>
      <div class="grid">
        <Card title="Rates per stage (per second)" wide>
          <Chart testId="status-chart" data={chart} series={stages.map((s, i) => ({ label: s, color: PALETTE[i % PALETTE.length] }))} height={180} />
        </Card>
        <Card title="Stages">
          <CompactTable testId="stages" headers={["stage", "rate /s", "total", "lag"]}>
            {stages.map((s) => (
              <tr key={s}>
                <td>{s}</td>
                <td class="num">{status.rates[s].toFixed(1)}</td>
                <td class="num">{(status.totals[s] ?? 0).toLocaleString()}</td>
                <td class="num">{status.lag_ms[s] !== undefined ? duration(status.lag_ms[s]) : "–"}</td>
              </tr>
            ))}
          </CompactTable>
        </Card>
        <Card title={`Dead letters (${status.dead_letters.total})`}>
          <CompactTable testId="dead-letters" headers={["stage", "count"]}>
            {Object.entries(status.dead_letters.by_stage).map(([stage, n]) => (
              <tr key={stage}>
                <td>{stage}</td>
                <td class="num">{n}</td>
              </tr>
            ))}
          </CompactTable>
          <CompactTable testId="dead-letter-reasons" headers={["reason", "count"]}>
            {Object.entries(status.dead_letters.by_reason ?? {}).map(([reason, n]) => (
              <tr key={reason}>
                <td>{reason}</td>
                <td class="num">{n}</td>
              </tr>
            ))}
          </CompactTable>
        </Card>
        <Card title="Sinks">
          <ul class="plain" data-testid="sinks">
            {Object.entries(status.sinks).map(([sink, health]) => (
              <li key={sink}>
                <Badge text={health} tone={health === "ok" ? "ok" : "high"} /> {sink}
              </li>
            ))}
          </ul>
        </Card>
        <Card title="Sources">
          {status.sources?.length ? (
            <CompactTable testId="sources">
              {status.sources.map((s) => (
                <tr key={`${s.chain_id}:${s.url}`}>
                  <td>{chainName(s.chain_id)}</td>
                  <td class="mono">{s.url}</td>
                  <td>
                    <Badge text={s.state} tone={s.state === "connected" || s.state === "ok" ? "ok" : "high"} />
                  </td>
                </tr>
              ))}
            </CompactTable>
          ) : (
            <p class="muted">the feed reports no source connections ({status.feed})</p>
          )}
        </Card>
      </div>
    </div>
  );
}

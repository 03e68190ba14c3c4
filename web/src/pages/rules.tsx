// Rules: list, enable and disable rule sets; edit one with the compiler's messages as you type,
// test it on the sample, backtest it over the archive with progress, then publish (admins only).
import type { EditorView } from "@codemirror/view";
import { useEffect, useRef, useState } from "preact/hooks";
import { api, ApiError, hasRole, type Me } from "../api";
import { Badge, Card, ErrorLine, Time, TxLink, useNow } from "../components";
import { createEditor, locate, setText, showProblems, type Problem } from "../editor";
import { chainName } from "../format";
import type { RuleMatch } from "../types";

interface RuleSet {
  name: string;
  format: string;
  enabled: boolean;
  sha256?: string;
  updated_at?: string;
  updated_by?: string;
  source?: string;
}

interface TestResult {
  txs: number;
  matches: RuleMatch[];
  match_count: number;
  elapsed_ms: number;
}

interface Job {
  job_id: string;
  status: string;
  progress: number;
  result: { txs: number; matches: number; by_rule: Record<string, number> } | null;
  error: string | null;
}

const TEMPLATE = `# A declarative rule set: every rule's predicates must all hold (rules/README.md).
rules:
  - id: big-swap
    severity: medium
    message: "{swap_protocol} swap by {sender} of {value_eth:,.2f} ETH"
    tags: [swap]
    when:
      - kind == swap
      - value_eth >= 1
`;

const VALIDATE_DELAY_MS = 400;

export function RulesPage({ me }: { me: Me | null }) {
  const [rules, setRules] = useState<RuleSet[]>([]);
  const [name, setName] = useState("my_rules");
  const [source, setSource] = useState(TEMPLATE);
  const [problems, setProblems] = useState<Problem[]>([]);
  const [checking, setChecking] = useState(false);
  const [test, setTest] = useState<TestResult | null>(null);
  const [start, setStart] = useState("");
  const [end, setEnd] = useState("");
  const [job, setJob] = useState<Job | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const holder = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const canTest = hasRole(me, "analyst");
  const canPublish = hasRole(me, "admin");
  const now = useNow(5000);

  const refresh = () =>
    api<{ items: RuleSet[] }>("/api/v1/rules")
      .then((r) => setRules(r.items))
      .catch((err: unknown) => setError(String(err)));

  useEffect(() => {
    void refresh();
  }, [now]);

  useEffect(() => {
    if (!holder.current) return;
    view.current = createEditor(holder.current, source, setSource);
    return () => view.current?.destroy();
  }, []);

  // Validation as you type: the compiler runs on the server (the test endpoint compiles first and
  // refuses a bad rule with the compiler's message); its answer is pinned to the line it names.
  useEffect(() => {
    if (!canTest) return;
    setChecking(true);
    const timer = setTimeout(() => {
      const text = source;
      api<TestResult>("/api/v1/rules/test", { method: "POST", json: { source: text, limit: 50 } })
        .then((result) => {
          setProblems([]);
          setTest(result);
        })
        .catch((err: unknown) => {
          if (err instanceof ApiError && (err.status === 422 || err.status === 400)) {
            setProblems([{ line: locate(text, err.detail, err.body.line as number | undefined), message: err.detail }]);
            setTest(null);
          } else setError(String(err));
        })
        .finally(() => setChecking(false));
    }, VALIDATE_DELAY_MS);
    return () => clearTimeout(timer);
  }, [source, canTest]);

  useEffect(() => {
    if (view.current) showProblems(view.current, problems);
  }, [problems]);

  useEffect(() => {
    if (!job || job.status === "done" || job.status === "failed") return;
    const timer = setTimeout(() => {
      api<Job>(`/api/v1/backtests/${job.job_id}`).then(setJob).catch((err: unknown) => setError(String(err)));
    }, 300);
    return () => clearTimeout(timer);
  }, [job]);

  const open = async (rule: RuleSet) => {
    try {
      const full = await api<RuleSet>(`/api/v1/rules/${encodeURIComponent(rule.name)}`);
      setName(full.name);
      if (view.current && full.source !== undefined) setText(view.current, full.source);
      setJob(null);
    } catch (err) {
      setError(String(err));
    }
  };

  const toggle = async (rule: RuleSet) => {
    try {
      await api(`/api/v1/rules/${encodeURIComponent(rule.name)}/${rule.enabled ? "disable" : "enable"}`, { method: "POST" });
      await refresh();
    } catch (err) {
      setError(String(err));
    }
  };

  const backtest = async () => {
    setError(null);
    try {
      const body: Record<string, string> = { source };
      if (start) body.start = new Date(start).toISOString();
      if (end) body.end = new Date(end).toISOString();
      setJob(await api<Job>("/api/v1/backtests", { method: "POST", json: body }));
    } catch (err) {
      setError(err instanceof ApiError ? err.detail : String(err));
    }
  };

  const publish = async () => {
    setError(null);
    try {
      await api(`/api/v1/rules/${encodeURIComponent(name)}`, { method: "PUT", json: { source, format: "yaml", enabled: true } });
      setNotice(`published ${name}: the running flow picks it up without a restart`);
      await refresh();
    } catch (err) {
      if (err instanceof ApiError && err.status === 422) setProblems([{ line: locate(source, err.detail, err.body.line as number | undefined), message: err.detail }]);
      setError(err instanceof ApiError ? err.detail : String(err));
    }
  };

  return (
    <div>
      <div class="toolbar">
        <h1>Rules</h1>
        {!canTest && <span class="muted">your key is a viewer: testing needs an analyst key, publishing an admin key</span>}
      </div>
      <ErrorLine error={error} />
      {notice && (
        <p class="notice" data-testid="notice">
          {notice}
        </p>
      )}
      <div class="rules-layout">
        <Card title="Rule sets">
          <table class="data compact" data-testid="rule-list">
            <tbody>
              {rules.map((r) => (
                <tr key={r.name}>
                  <td>
                    <a href="javascript:void 0" onClick={() => void open(r)}>
                      {r.name}
                    </a>
                  </td>
                  <td>
                    <Badge text={r.enabled ? "enabled" : "disabled"} tone={r.enabled ? "ok" : "muted"} />
                  </td>
                  <td class="muted">{r.updated_at && <Time ms={r.updated_at} />}</td>
                  <td>
                    {canPublish && (
                      <button data-testid={`toggle-${r.name}`} onClick={() => void toggle(r)}>
                        {r.enabled ? "disable" : "enable"}
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </Card>
        <Card title="Editor">
          <div class="toolbar">
            <label>
              name
              <input data-testid="rule-name" value={name} onInput={(e) => setName(e.currentTarget.value)} />
            </label>
            <span data-testid="validation" class={problems.length ? "bad" : "good"}>
              {!canTest ? "" : checking ? "checking…" : problems.length ? `${problems.length} problem` : test ? `compiles · ${test.match_count} matches in ${test.txs} sample txs (${test.elapsed_ms.toFixed(0)} ms)` : ""}
            </span>
          </div>
          <div class="editor" ref={holder} data-testid="editor" />
          {problems.length > 0 && (
            <ul class="problems" data-testid="problems">
              {problems.map((p, i) => (
                <li key={i}>
                  line {p.line}: {p.message}
                </li>
              ))}
            </ul>
          )}
          <div class="toolbar">
            {canTest && (
              <>
                <label>
                  from
                  <input type="datetime-local" data-testid="bt-start" value={start} onInput={(e) => setStart(e.currentTarget.value)} />
                </label>
                <label>
                  to
                  <input type="datetime-local" data-testid="bt-end" value={end} onInput={(e) => setEnd(e.currentTarget.value)} />
                </label>
                <button data-testid="backtest" disabled={problems.length > 0} onClick={() => void backtest()}>
                  Backtest over the archive
                </button>
              </>
            )}
            {canPublish && (
              <button class="primary" data-testid="publish" disabled={problems.length > 0} onClick={() => void publish()}>
                Publish
              </button>
            )}
          </div>
          {job && (
            <div class="job" data-testid="job">
              <progress max={1} value={job.progress} /> {job.status} {Math.round(job.progress * 100)}%
              {job.error && <span class="error"> {job.error}</span>}
              {job.result && (
                <span data-testid="job-result">
                  {" "}
                  · {job.result.matches} matches in {job.result.txs} txs{" "}
                  {Object.entries(job.result.by_rule).map(([rule, n]) => (
                    <Badge key={rule} text={`${rule}: ${n}`} tone="tag" />
                  ))}
                </span>
              )}
            </div>
          )}
        </Card>
        <Card title={`Matches on the sample${test ? ` (${test.match_count})` : ""}`}>
          <table class="data compact" data-testid="sample-matches">
            <tbody>
              {(test?.matches ?? []).slice(0, 20).map((m) => (
                <tr key={m.key}>
                  <td>
                    <Badge text={m.severity} />
                  </td>
                  <td>{m.rule_id}</td>
                  <td>{chainName(m.chain_id)}</td>
                  <td>
                    <TxLink hash={m.tx_hash} />
                  </td>
                  <td>{m.message}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </Card>
      </div>
    </div>
  );
}

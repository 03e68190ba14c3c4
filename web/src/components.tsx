// Small shared pieces: copyable hashes and addresses, times, a sortable table (TanStack Table) and
// a time-series chart (uPlot).
import {
  createTable,
  getCoreRowModel,
  getSortedRowModel,
  type ColumnDef,
  type SortingState,
  type TableState,
} from "@tanstack/table-core";
import { createContext, type ComponentChildren, type JSX } from "preact";
import { useContext, useEffect, useMemo, useRef, useState } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { CHAINS, label, localTime, relative, short } from "./format";

export function navigate(path: string): void {
  location.hash = path;
}

/** A hash or address, shortened on screen; the button copies it in full. */
export function Hash({ value, href, chain }: { value: string | null | undefined; href?: string; chain?: number }) {
  const [copied, setCopied] = useState(false);
  if (!value) return <span class="muted">–</span>;
  const name = chain !== undefined ? label(chain, value) : null;
  const copy = (event: Event) => {
    event.stopPropagation();
    event.preventDefault();
    void navigator.clipboard?.writeText(value).catch(() => undefined);
    setCopied(true);
    setTimeout(() => setCopied(false), 1000);
  };
  const text = short(value);
  return (
    <span class="hash" title={value} data-full={value}>
      {name && <span class="label">{name} </span>}
      {href ? (
        <a href={href} onClick={(e) => e.stopPropagation()}>
          {text}
        </a>
      ) : (
        <span class="mono">{text}</span>
      )}
      <button class="copy" title="copy in full" aria-label={`copy ${value}`} onClick={copy}>
        {copied ? (
          "✓"
        ) : (
          // Two outlined squares drawn by CSS: an inline SVG per hash costs the Live page paint time.
          <span class="copy-icon" aria-hidden="true" />
        )}
      </button>
    </span>
  );
}

export function TxLink({ hash }: { hash: string | null | undefined }) {
  return <Hash value={hash} href={hash ? `#/tx/${hash}` : undefined} />;
}

/**
 * The page's clock for relative times. A `Time` reads it from here when not given `now`, so a
 * tick re-renders only the times, not the (memoized) rows around them.
 */
export const Clock = createContext<number | undefined>(undefined);

/** A local time with its relative age, refreshed by the page's clock. */
export function Time({ ms, now }: { ms: number | string | null | undefined; now?: number }) {
  const clock = useContext(Clock);
  if (ms === null || ms === undefined) return <span class="muted">–</span>;
  return (
    <span class="time" title={localTime(ms)}>
      {relative(ms, now ?? clock)}
    </span>
  );
}

export function Badge({ text, tone }: { text: string; tone?: string }) {
  return <span class={`badge ${tone ?? text}`}>{text}</span>;
}

export function Card({ title, children, wide }: { title: string; children: ComponentChildren; wide?: boolean }) {
  return (
    <section class={`card${wide ? " wide" : ""}`}>
      <h2>{title}</h2>
      {children}
    </section>
  );
}

export function ErrorLine({ error }: { error: string | null }) {
  return error ? <p class="error" role="alert">{error}</p> : null;
}

/** A stream's connection state as a coloured dot (green when open). */
export function StreamDot({ state }: { state: string }) {
  return <span class={`dot ${state === "open" ? "ok" : "warn"}`} title={state} />;
}

type Option = string | [value: string, text: string];

/** A labelled select of a toolbar; the empty value (`any`) means no filter. */
export function Choice({
  label: name,
  testId,
  value,
  onChange,
  options,
  any = "all",
}: {
  label: string;
  testId: string;
  value: string;
  onChange: (value: string) => void;
  options: Option[];
  any?: string;
}) {
  return (
    <label>
      {name}
      <select data-testid={testId} value={value} onChange={(e) => onChange(e.currentTarget.value)}>
        <option value="">{any}</option>
        {options.map((o) => {
          const [v, text] = typeof o === "string" ? [o, o] : o;
          return (
            <option key={v} value={v}>
              {text}
            </option>
          );
        })}
      </select>
    </label>
  );
}

/** The chains the console names, as `Choice` options. */
export const CHAIN_OPTIONS: Option[] = Object.entries(CHAINS).map(([id, name]) => [id, name]);

/** A labelled text input of a toolbar. */
export function TextFilter({
  label: name,
  testId,
  value,
  onInput,
  placeholder,
  size,
}: {
  label: string;
  testId: string;
  value: string;
  onInput: (value: string) => void;
  placeholder?: string;
  size?: number;
}) {
  return (
    <label>
      {name}
      <input data-testid={testId} size={size} placeholder={placeholder} value={value} onInput={(e) => onInput(e.currentTarget.value)} />
    </label>
  );
}

/** A table's header row of plain column names. */
export function Head({ headers }: { headers: string[] }) {
  return (
    <thead>
      <tr>
        {headers.map((h) => (
          <th key={h}>{h}</th>
        ))}
      </tr>
    </thead>
  );
}

/** A small fixed table (no sorting): a header row and the rows given as children. */
export function CompactTable({ testId, headers, children }: { testId: string; headers?: string[]; children: ComponentChildren }) {
  return (
    <table class="data compact" data-testid={testId}>
      {headers && <Head headers={headers} />}
      <tbody>{children}</tbody>
    </table>
  );
}

export function useNow(periodMs = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const id = setInterval(() => setNow(Date.now()), periodMs);
    return () => clearInterval(id);
  }, [periodMs]);
  return now;
}

export interface Column<T> {
  id: string;
  header: string;
  /** The value sorted on (and shown when there is no `cell`). */
  value: (row: T) => unknown;
  cell?: (row: T) => ComponentChildren;
  sortable?: boolean;
}

/** A sortable table over `rows` (TanStack Table's row models; rendering is Preact's). */
export function DataTable<T>({
  rows,
  columns,
  rowKey,
  onRowClick,
  expanded,
  empty = "nothing yet",
  testId,
}: {
  rows: T[];
  columns: Column<T>[];
  rowKey: (row: T) => string;
  onRowClick?: (row: T) => void;
  expanded?: (row: T) => JSX.Element | null;
  empty?: string;
  testId?: string;
}) {
  const [sorting, setSorting] = useState<SortingState>([]);
  const defs = useMemo<ColumnDef<T, unknown>[]>(
    () => columns.map((c) => ({ id: c.id, accessorFn: c.value, enableSorting: c.sortable !== false })),
    [columns],
  );
  const byId = useMemo(() => new Map(columns.map((c) => [c.id, c])), [columns]);
  const table = useMemo(() => {
    const options = {
      data: rows,
      columns: defs,
      state: {} as Partial<TableState>,
      onStateChange: () => undefined,
      onSortingChange: (updater: SortingState | ((old: SortingState) => SortingState)) =>
        setSorting(typeof updater === "function" ? updater(sorting) : updater),
      getCoreRowModel: getCoreRowModel<T>(),
      getSortedRowModel: getSortedRowModel<T>(),
      renderFallbackValue: null,
    };
    const created = createTable<T>(options);
    // table-core reads every feature's state: start from its initial state, then ours.
    created.setOptions((prev) => ({ ...prev, state: { ...created.initialState, sorting } }));
    return created;
  }, [rows, defs, sorting]);
  const model = table.getRowModel();
  return (
    <table class="data" data-testid={testId}>
      <thead>
        <tr>
          {table.getFlatHeaders().map((header) => {
            const sorted = header.column.getIsSorted();
            const canSort = header.column.getCanSort();
            return (
              <th
                key={header.id}
                class={canSort ? "sortable" : ""}
                onClick={canSort ? header.column.getToggleSortingHandler() : undefined}
              >
                {byId.get(header.column.id)?.header}
                {sorted === "asc" ? " ▲" : sorted === "desc" ? " ▼" : ""}
              </th>
            );
          })}
        </tr>
      </thead>
      <tbody>
        {model.rows.length === 0 && (
          <tr>
            <td class="muted" colSpan={columns.length}>
              {empty}
            </td>
          </tr>
        )}
        {model.rows.map((row) => {
          const extra = expanded?.(row.original);
          return [
            <tr
              key={rowKey(row.original)}
              class={onRowClick ? "clickable" : ""}
              onClick={onRowClick ? () => onRowClick(row.original) : undefined}
            >
              {row.getVisibleCells().map((cell) => {
                const def = byId.get(cell.column.id);
                return <td key={cell.id}>{def?.cell ? def.cell(row.original) : String(cell.getValue() ?? "")}</td>;
              })}
            </tr>,
            extra ? (
              <tr key={`${rowKey(row.original)}:more`} class="expanded">
                <td colSpan={columns.length}>{extra}</td>
              </tr>
            ) : null,
          ];
        })}
      </tbody>
    </table>
  );
}

export interface Series {
  label: string;
  color: string;
}

/** A uPlot line chart; `data` is [x (unix s), ...one array per series]. */
export function Chart({
  data,
  series,
  height = 220,
  testId,
  points = false,
}: {
  data: uPlot.AlignedData;
  series: Series[];
  height?: number;
  testId?: string;
  points?: boolean;
}) {
  const holder = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const shape = series.map((s) => s.label).join("|");
  useEffect(() => {
    if (!holder.current) return;
    const width = holder.current.clientWidth || 600;
    plot.current = new uPlot(
      {
        width,
        height,
        series: [
          {},
          ...series.map((s) => ({
            label: s.label,
            stroke: s.color,
            width: 2,
            // Sparse buckets (a replay of historical blocks) read better as points than lines.
            paths: points ? () => null : undefined,
            points: { show: points, size: 7, fill: s.color },
          })),
        ],
        axes: [{ stroke: "#9aa4b2", grid: { stroke: "#2a3140" } }, { stroke: "#9aa4b2", grid: { stroke: "#2a3140" } }],
        legend: { show: true },
      },
      data,
      holder.current,
    );
    return () => {
      plot.current?.destroy();
      plot.current = null;
    };
    // Rebuilt only when the series change; data updates go through setData below.
  }, [shape, height, points]);
  useEffect(() => {
    plot.current?.setData(data);
  }, [data]);
  return <div class="chart" data-testid={testId} ref={holder} />;
}

export const PALETTE = ["#4cc9f0", "#f72585", "#b5e48c", "#ffb703", "#9d4edd", "#fb8500", "#06d6a0", "#ef476f"];

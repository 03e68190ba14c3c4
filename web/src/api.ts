// The API client: REST calls with the signed-in key, and live streams over WebSocket that resume
// from the last cursor after a reconnect (docs/api.md is the contract).

const KEY_STORAGE = "scorpius.apiKey";

export type Role = "viewer" | "analyst" | "admin";
const ROLE_ORDER: Role[] = ["viewer", "analyst", "admin"];

export interface Me {
  key_id: string;
  name: string;
  role: Role;
}

export function hasRole(me: Me | null, role: Role): boolean {
  return me !== null && ROLE_ORDER.indexOf(me.role) >= ROLE_ORDER.indexOf(role);
}

export function storedKey(): string | null {
  return localStorage.getItem(KEY_STORAGE);
}

export function storeKey(key: string | null): void {
  if (key) localStorage.setItem(KEY_STORAGE, key);
  else localStorage.removeItem(KEY_STORAGE);
}

/**
 * JSON.parse that keeps integers beyond 2^53 exact (amounts in wei, token base units): they come
 * back as decimal strings, read from the source text the reviver is given (where supported).
 */
export function parseJson(text: string): unknown {
  // The reviver costs a call per value: only for texts that hold a long digit run at all.
  if (!/\d{16}/.test(text)) return JSON.parse(text);
  return JSON.parse(text, (_key, value: unknown, context?: { source?: string }) =>
    typeof value === "number" && !Number.isSafeInteger(value) && context?.source && /^-?\d+$/.test(context.source)
      ? context.source
      : value,
  );
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    readonly body: Record<string, unknown> = {},
  ) {
    super(`${status} ${code}: ${detail}`);
  }
}

export async function api<T>(path: string, init: RequestInit & { json?: unknown; key?: string | null } = {}): Promise<T> {
  const headers = new Headers(init.headers);
  // A worker has no localStorage: it is handed the key.
  const key = init.key !== undefined ? init.key : storedKey();
  if (key) headers.set("X-API-Key", key);
  let body = init.body;
  if (init.json !== undefined) {
    headers.set("content-type", "application/json");
    body = JSON.stringify(init.json);
  }
  const response = await fetch(path, { ...init, headers, body });
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  let parsed: unknown = null;
  try {
    parsed = text ? parseJson(text) : null;
  } catch {
    parsed = null;
  }
  if (!response.ok) {
    const err = (parsed ?? {}) as { error?: string; detail?: unknown };
    const detail = typeof err.detail === "string" ? err.detail : JSON.stringify(err.detail ?? text);
    throw new ApiError(response.status, err.error ?? "error", detail, err as Record<string, unknown>);
  }
  return parsed as T;
}

export function query(params: Record<string, string | number | (string | number)[] | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === "") continue;
    for (const v of Array.isArray(value) ? value : [value]) q.append(name, String(v));
  }
  const text = q.toString();
  return text ? `?${text}` : "";
}

export type Filters = Record<string, string | number | (string | number)[] | undefined>;

let cachedToken: { key: string; token: string; until: number } | null = null;

/**
 * A short-lived JWT for stream URLs: browsers cannot set WebSocket headers, and a URL may end up
 * in a log, so the long-lived key never goes into one.
 */
async function streamToken(key: string | null): Promise<string | null> {
  if (!key) return null;
  if (cachedToken && cachedToken.key === key && cachedToken.until > Date.now()) return cachedToken.token;
  const answer = await api<{ access_token: string; expires_in: number }>("/api/v1/token", { method: "POST", key });
  cachedToken = { key, token: answer.access_token, until: Date.now() + (answer.expires_in * 1000) / 2 };
  return answer.access_token;
}

export interface StreamMessage<T = unknown> {
  type: string;
  cursor?: number;
  key?: string;
  data?: T;
  count?: number;
  error?: string;
  detail?: string;
}

export interface StreamHandlers<T> {
  onData(batch: StreamMessage<T>[]): void;
  /** How often batches are handed over (ms); a render per message would not keep up. */
  flushMs?: number;
  onState?(state: "connecting" | "open" | "closed", detail?: string): void;
  onMissed?(count: number): void;
  /** The API key (default: the stored one; a worker, which has no localStorage, passes it). */
  key?: string | null;
  /** Ask the server for one frame per wake-up holding an array of messages (`?batch=1`). */
  batched?: boolean;
}

export interface Stream {
  close(): void;
}

/** Messages held between two flushes at most; older ones are dropped and counted as missed. */
const MAX_PENDING = 5000;

/**
 * Opens `/ws/<name>` with server-side filters. Messages are handed over in batches (every
 * `flushMs`), so a page at 1,000 msg/s renders a few times a second, not per message; the batch
 * is bounded, so a busy or hidden tab never piles messages up. On a drop it reconnects with
 * `since=<last cursor>` and gets what it missed from the history.
 */
export function openStream<T>(name: string, filters: Filters, handlers: StreamHandlers<T>): Stream {
  let socket: WebSocket | null = null;
  let closed = false;
  let cursor: number | null = null;
  let retry = 250;
  let pending: StreamMessage<T>[] = [];
  let scheduled = false;

  const flush = () => {
    scheduled = false;
    if (closed || pending.length === 0) return;
    const batch = pending;
    pending = [];
    handlers.onData(batch);
  };

  const retryLater = () => {
    handlers.onState?.("connecting");
    setTimeout(() => void connect(), retry);
    retry = Math.min(retry * 2, 5000);
  };

  const connect = async () => {
    if (closed) return;
    handlers.onState?.("connecting");
    let token: string | null;
    try {
      token = await streamToken(handlers.key !== undefined ? handlers.key : storedKey());
    } catch {
      retryLater();
      return;
    }
    if (closed) return;
    const params: Filters = { ...filters, token: token ?? undefined, batch: handlers.batched ? 1 : undefined };
    if (cursor !== null) params.since = cursor;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}/ws/${name}${query(params)}`);
    socket.onopen = () => {
      retry = 250;
      handlers.onState?.("open");
    };
    const receive = (message: StreamMessage<T>) => {
      if (typeof message.cursor === "number") cursor = message.cursor;
      if (message.type === "missed") handlers.onMissed?.(message.count ?? -1);
      else if (message.type === "error") handlers.onState?.("closed", message.detail ?? message.error);
      else if (message.type !== "hello") {
        pending.push(message);
        if (pending.length > MAX_PENDING) {
          const dropped = pending.length - MAX_PENDING;
          pending.splice(0, dropped);
          handlers.onMissed?.(dropped);
        }
        if (!scheduled) {
          scheduled = true;
          setTimeout(flush, handlers.flushMs ?? 100);
        }
      }
    };
    socket.onmessage = (event) => {
      const parsed = parseJson(event.data as string) as StreamMessage<T> | StreamMessage<T>[];
      if (Array.isArray(parsed)) for (const message of parsed) receive(message);
      else receive(parsed);
    };
    socket.onclose = (event) => {
      if (closed) return;
      // 4400: a filter the server refuses; 4401/4403: the key. Retrying would not help.
      if (event.code >= 4400 && event.code < 4500 && event.code !== 4408) {
        handlers.onState?.("closed", event.reason || `closed (${event.code})`);
        return;
      }
      retryLater();
    };
  };
  void connect();
  return {
    close() {
      closed = true;
      socket?.close();
    },
  };
}

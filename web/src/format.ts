// How long numbers read on screen: short hashes, token amounts with symbols, local and relative times.
import labels from "virtual:scorpius-labels";

export const CHAINS: Record<number, string> = {
  1: "Ethereum",
  10: "Optimism",
  8453: "Base",
  42161: "Arbitrum",
  421614: "Arbitrum Sepolia",
  11155111: "Sepolia",
  31337: "Anvil",
};

export function chainName(id: number | null | undefined): string {
  if (id === null || id === undefined) return "?";
  return CHAINS[id] ?? `chain ${id}`;
}

export function short(value: string | null | undefined, keep = 6): string {
  if (!value) return "";
  return value.length > 2 * keep + 3 ? `${value.slice(0, keep)}…${value.slice(-4)}` : value;
}

export interface TokenInfo {
  symbol: string;
  decimals: number;
}

/** What the repository's label files (operators/enrich/data/labels) say about an address. */
export function label(chain: number, address: string | null | undefined): string | null {
  if (!address) return null;
  return labels.names[chain]?.[address.toLowerCase()] ?? null;
}

export function token(chain: number, address: string | null | undefined): TokenInfo | null {
  if (!address) return null;
  return labels.tokens[chain]?.[address.toLowerCase()] ?? null;
}

function toBig(value: string | number | bigint): bigint | null {
  try {
    return typeof value === "bigint" ? value : BigInt(typeof value === "number" ? Math.trunc(value) : value);
  } catch {
    return null;
  }
}

/** Base units as a decimal with at most `digits` significant fraction digits: 1234500000 (6) → "1,234.5". */
export function units(raw: string | number | bigint | null | undefined, decimals: number, digits = 4): string {
  if (raw === null || raw === undefined) return "";
  const value = toBig(raw);
  if (value === null) return String(raw);
  const negative = value < 0n;
  const abs = negative ? -value : value;
  const scale = 10n ** BigInt(decimals);
  const whole = abs / scale;
  let fraction = (abs % scale).toString().padStart(decimals, "0").replace(/0+$/, "");
  // Keep `digits` significant digits of the fraction for small amounts, `digits` places otherwise.
  if (whole === 0n) {
    const lead = fraction.length - fraction.replace(/^0+/, "").length;
    fraction = fraction.slice(0, lead + digits);
  } else {
    fraction = fraction.slice(0, digits);
  }
  fraction = fraction.replace(/0+$/, "");
  const wholeText = whole.toLocaleString("en-US");
  return `${negative ? "-" : ""}${wholeText}${fraction ? `.${fraction}` : ""}`;
}

/** An amount of `tokenAddress` on `chain`, in token units with its symbol when labels know it. */
export function amount(chain: number, tokenAddress: string | null | undefined, raw: unknown): string {
  if (raw === null || raw === undefined) return "";
  const info = token(chain, tokenAddress);
  if (info) return `${units(raw as string, info.decimals)} ${info.symbol}`;
  // Unknown decimals: base units, compact when long (the full value is in the title / copy).
  const text = String(raw);
  const base = text.length > 12 && /^\d+$/.test(text) ? `${text[0]}.${text.slice(1, 4)}e${text.length - 1}` : units(text, 0);
  return `${base} ${tokenAddress ? short(tokenAddress, 4) : ""}`.trim();
}

export function eth(raw: unknown, chain = 1): string {
  if (raw === null || raw === undefined) return "";
  return `${units(raw as string, 18)} ${chain === 0 ? "" : "ETH"}`.trim();
}

export function localTime(ms: number | string | null | undefined): string {
  if (ms === null || ms === undefined) return "";
  const date = typeof ms === "string" ? new Date(ms) : new Date(ms);
  return date.toLocaleString(undefined, { hour12: false });
}

export function relative(ms: number | string | null | undefined, now = Date.now()): string {
  if (ms === null || ms === undefined) return "";
  const at = typeof ms === "string" ? Date.parse(ms) : ms;
  const seconds = Math.round((now - at) / 1000);
  const abs = Math.abs(seconds);
  const suffix = seconds >= 0 ? "ago" : "from now";
  if (abs < 5) return "just now";
  if (abs < 60) return `${abs}s ${suffix}`;
  if (abs < 3600) return `${Math.floor(abs / 60)}m ${suffix}`;
  if (abs < 86400) return `${Math.floor(abs / 3600)}h ${suffix}`;
  // Older than a day (a replay of recorded data, the archive): the local date reads better.
  return new Date(at).toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric" });
}

export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "";
  if (Math.abs(ms) < 1000) return `${Math.round(ms)} ms`;
  if (Math.abs(ms) < 120_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${(ms / 60_000).toFixed(1)} min`;
}

export function percent(ratio: number | null | undefined): string {
  if (ratio === null || ratio === undefined || Number.isNaN(ratio)) return "";
  return `${(ratio * 100).toFixed(ratio < 0.1 ? 1 : 0)}%`;
}

/** Milliseconds from a record's time field: unix ms numbers or ISO strings. */
export function ms(value: unknown): number | null {
  if (typeof value === "number") return value;
  if (typeof value === "string") {
    const parsed = Date.parse(value);
    return Number.isNaN(parsed) ? null : parsed;
  }
  return null;
}

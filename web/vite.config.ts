import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { defineConfig, type Plugin } from "vite";
import { parse } from "yaml";

// The console is served by `scorpius serve` from web/dist at "/": relative asset URLs, no CDN, one
// bundle that works offline. `npm run dev` proxies the API to a local `scorpius serve`.
const api = process.env.SCORPIUS_API_URL ?? "http://127.0.0.1:8000";
const LABELS_DIR = resolve(__dirname, "../operators/enrich/data/labels");
const TOKEN_CATEGORIES = new Set(["token", "stablecoin", "wrapped_native"]);

type LabelEntry = string | { label: string; category?: string; decimals?: number };

/**
 * `virtual:scorpius-labels`: the flow's own label files, read at build time, so the console names
 * addresses and shows token amounts in units with the same data the enrich step uses (one source).
 */
function labelsModule(): Plugin {
  const id = "virtual:scorpius-labels";
  return {
    name: "scorpius-labels",
    resolveId: (source) => (source === id ? `\0${id}` : null),
    load(source) {
      if (source !== `\0${id}`) return null;
      const names: Record<string, Record<string, string>> = {};
      const tokens: Record<string, Record<string, { symbol: string; decimals: number }>> = {};
      for (const file of readdirSync(LABELS_DIR).filter((f) => /\.(ya?ml|json)$/.test(f)).sort()) {
        this.addWatchFile(join(LABELS_DIR, file));
        const doc = (parse(readFileSync(join(LABELS_DIR, file), "utf8")) ?? {}) as Record<string, Record<string, LabelEntry>>;
        for (const [chain, entries] of Object.entries(doc)) {
          for (const [address, entry] of Object.entries(entries ?? {})) {
            const info = typeof entry === "string" ? { label: entry } : entry;
            const key = address.toLowerCase();
            (names[chain] ??= {})[key] = info.label;
            if ("category" in info && TOKEN_CATEGORIES.has(info.category ?? "") && typeof info.decimals === "number") {
              (tokens[chain] ??= {})[key] = { symbol: info.label, decimals: info.decimals };
            }
          }
        }
      }
      return `export default ${JSON.stringify({ names, tokens })};`;
    },
  };
}

export default defineConfig({
  base: "./",
  plugins: [labelsModule()],
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  build: { outDir: "dist", emptyOutDir: true, chunkSizeWarningLimit: 800 },
  server: {
    proxy: {
      "/api": api,
      "/sse": api,
      "/ws": { target: api.replace(/^http/, "ws"), ws: true },
    },
  },
});

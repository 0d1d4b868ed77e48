// Reading Prometheus histograms from the server's /metrics text, so that
// the Overview charts the same numbers an operator scrapes.
import { currentToken as token } from "./connect.js";

// histograms parses the text exposition format and returns, for each
// histogram name, its buckets (upper bound -> cumulative count, summed over
// every other label), sum and count.
export function histograms(text) {
  const out = new Map();
  const get = (name) => {
    if (!out.has(name)) out.set(name, { buckets: new Map(), sum: 0, count: 0 });
    return out.get(name);
  };
  for (const line of text.split("\n")) {
    if (!line || line[0] === "#") continue;
    const m = /^([A-Za-z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const [, name, labels, raw] = m;
    const v = Number(raw);
    if (name.endsWith("_bucket")) {
      const le = /le="([^"]*)"/.exec(labels || "");
      if (!le) continue;
      const h = get(name.slice(0, -7));
      const bound = le[1] === "+Inf" ? Infinity : Number(le[1]);
      h.buckets.set(bound, (h.buckets.get(bound) || 0) + v);
    } else if (name.endsWith("_sum")) {
      get(name.slice(0, -4)).sum += v;
    } else if (name.endsWith("_count")) {
      get(name.slice(0, -6)).count += v;
    }
  }
  return out;
}

// quantile estimates the q-quantile of the observations made between two
// scrapes of one histogram (prev may be undefined: since the start), by
// linear interpolation inside the bucket that holds it, as PromQL's
// histogram_quantile does. It returns null when nothing was observed.
export function quantile(prev, cur, q) {
  if (!cur) return null;
  const bounds = [...cur.buckets.keys()].sort((a, b) => a - b);
  const delta = (b) => cur.buckets.get(b) - ((prev && prev.buckets.get(b)) || 0);
  const total = delta(Infinity);
  if (!(total > 0)) return null;
  const rank = q * total;
  let lower = 0, below = 0;
  for (const b of bounds) {
    const c = delta(b);
    if (c >= rank) {
      if (b === Infinity) return lower;
      return lower + ((b - lower) * (rank - below)) / Math.max(c - below, 1e-12);
    }
    lower = b;
    below = c;
  }
  return lower;
}

// scrape fetches and parses the metrics at path (with the bearer token, in
// case the server guards them); it returns null on any failure.
export async function scrape(path) {
  try {
    const h = {};
    if (token()) h["Authorization"] = "Bearer " + token();
    const resp = await fetch(path, { headers: h });
    if (!resp.ok) return null;
    return histograms(await resp.text());
  } catch (_) {
    return null;
  }
}

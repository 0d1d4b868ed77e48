// DOM and formatting helpers shared by the views.

const SVG_NS = "http://www.w3.org/2000/svg";

function build(el, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "testid") el.setAttribute("data-testid", v);
    else if (k === "text") el.textContent = v;
    // Through the CSSOM: the Content-Security-Policy refuses style
    // attributes, not styles a script sets.
    else if (k === "style") el.style.cssText = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// h builds an HTML element: h("td", { class: "num", testid: "x" }, "text").
export const h = (tag, attrs, ...children) => {
  const el = build(document.createElement(tag), attrs, children);
  // A link made with an onclick and no address is no tab stop: the
  // views' links (a page's graph and log, the log's and events' page
  // links) could not be reached from the keyboard. It is made one, and
  // Enter follows it as a click does (TestInspectorPageParentsByKeyboardAndAsOf).
  if (tag === "a" && attrs && attrs.onclick && !el.hasAttribute("href")) {
    el.tabIndex = 0;
    el.setAttribute("role", "link");
    el.addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); el.click(); } });
  }
  return el;
};

// s builds an SVG element.
export const s = (tag, attrs, ...children) => build(document.createElementNS(SVG_NS, tag), attrs, children);

export function fmtBytes(n) {
  const u = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  // Below 1 KiB: whole bytes, or two decimals of a rate (an idle
  // chart's axis topped at 1e-12, which String() wrote as "1e-12 B";
  // a rate that small still may).
  const b = Number.isInteger(n) ? String(n) : n < 0.005 ? "0" : n.toFixed(2);
  return (i ? n.toFixed(1) : b) + " " + u[i];
}

export function fmtNum(n) {
  return Number(n).toLocaleString("en-US");
}

// count writes a number and its noun, singular for one: "1 edge", "2
// edges", "0 operations" (the views wrote "1 edges", "1 pages").
export function count(n, noun, nouns = noun + "s") {
  return `${fmtNum(n)} ${Number(n) === 1 ? noun : nouns}`;
}

export function fmtSeconds(x) {
  if (!x) return "0";
  if (x < 1e-3) return (x * 1e6).toFixed(0) + " µs";
  if (x < 1) return (x * 1e3).toFixed(2) + " ms";
  return x.toFixed(2) + " s";
}

export function fmtTime(ns) {
  if (!ns) return "";
  const d = new Date(Number(BigInt(ns) / 1000000n));
  return d.toISOString().replace("T", " ").replace("Z", "");
}

export const hex2 = (b) => b.toString(16).padStart(2, "0");

export function hexString(bytes, max) {
  const n = Math.min(bytes.length, max || bytes.length);
  let out = "";
  for (let i = 0; i < n; i++) out += (i ? " " : "") + hex2(bytes[i]);
  return out + (n < bytes.length ? " …" : "");
}

// lineChart draws series (arrays of {t, v}) as an SVG line chart with a
// y axis from 0 to the largest value.
export function lineChart(title, series, opts = {}) {
  const all = series.flatMap((sr) => sr.points);
  // An idle chart (no samples, or only zeros) spans 0 to 1: its axis
  // read "0.00" over "0", or "0 µs" over "0", a range of nothing
  // (TestInspectorIdleChartAxis).
  const maxV = Math.max(0, ...all.map((p) => p.v)) || 1;
  const fmt = opts.format || ((v) => v.toFixed(v < 10 ? 2 : 0));
  const top = fmt(maxV);
  // The left margin holds the axis label: a fixed 48 cut the first digit
  // of "1023.4 KiB" off (about 6 units a character at 10px).
  const W = opts.width || 420, H = opts.height || 120, L = Math.max(48, Math.ceil(top.length * 6.5) + 6), R = 6, T = 6, B = 16;
  const t0 = Math.min(...all.map((p) => p.t), Infinity);
  const t1 = Math.max(...all.map((p) => p.t), -Infinity);
  const span = Math.max(1, t1 - t0);
  const x = (t) => L + ((t - t0) / span) * (W - L - R);
  const y = (v) => T + (1 - v / maxV) * (H - T - B);
  const secs = Math.round(span / 1e9);
  const svg = s("svg", { width: "100%", viewBox: `0 0 ${W} ${H}`, role: "img" },
    s("line", { x1: L, y1: T, x2: L, y2: H - B, stroke: "#d0d5dd" }),
    s("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: "#d0d5dd" }),
    s("text", { x: L - 4, y: T + 8, "text-anchor": "end", "font-size": 10, fill: "#667085", testid: "chart-max" }, top),
    s("text", { x: L - 4, y: H - B, "text-anchor": "end", "font-size": 10, fill: "#667085" }, "0"),
    s("text", { x: W - R, y: H - 3, "text-anchor": "end", "font-size": 10, fill: "#667085" }, opts.xlabel || (all.length ? `last ${secs} s` : "waiting for samples")),
  );
  series.forEach((sr, i) => {
    if (sr.points.length < 2) return;
    const d = sr.points.map((p, j) => (j ? "L" : "M") + x(p.t).toFixed(1) + "," + y(p.v).toFixed(1)).join(" ");
    svg.append(s("path", { d, fill: "none", stroke: sr.color || ["#2563eb", "#dc6803", "#039855", "#7a5af8"][i % 4], "stroke-width": 1.5 }));
  });
  const legend = h("div", { class: "legend" }, series.map((sr, i) =>
    h("span", { style: `color:${sr.color || ["#2563eb", "#dc6803", "#039855", "#7a5af8"][i % 4]}` }, "— " + sr.name)));
  return h("div", { class: "chart", testid: opts.testid }, h("div", { class: "title" }, title), svg, legend);
}

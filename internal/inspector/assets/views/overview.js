// Overview: the bus's counters as cards and their rates as live charts,
// sampled once a second (rates are differences between samples).
import { h, fmtBytes, fmtNum, fmtSeconds, lineChart, count } from "../util.js";
import { num, list } from "../connect.js";
import { scrape, quantile } from "../metrics.js";

const FSYNC = "mmsb_log_fsync_duration_seconds";

const KEEP = 120; // samples (two minutes)

export function render({ el, api }) {
  el.append(h("h2", {}, "Overview"));
  const cards = h("div", { class: "cards", testid: "overview" });
  const charts = h("div", { class: "charts" });
  el.append(cards, charts);
  const samples = [];
  let timer = null;
  let lastFsync = null; // the previous scrape of the fsync histogram

  const card = (k, v, testid) => h("div", { class: "card", testid }, h("div", { class: "k" }, k), h("div", { class: "v" }, v));

  function rate(field) {
    const pts = [];
    for (let i = 1; i < samples.length; i++) {
      const a = samples[i - 1], b = samples[i];
      const dt = (b.t - a.t) / 1e9;
      if (dt > 0) pts.push({ t: b.t, v: Math.max(0, (b[field] - a[field]) / dt) });
    }
    return pts;
  }

  function draw() {
    const o = samples[samples.length - 1];
    cards.replaceChildren(
      card("committed LSN", fmtNum(o.lsn), "ov-lsn"),
      card("durable LSN", fmtNum(o.durable), "ov-durable"),
      card("pages", fmtNum(o.pages), "ov-pages"),
      card("page bytes", fmtBytes(o.bytes), "ov-bytes"),
      card("edges / bindings", `${fmtNum(o.edges)} / ${fmtNum(o.bindings)}`, "ov-graph"),
      card("log written since the bus was opened", `${count(o.records, "record")}, ${fmtBytes(o.logBytes)}`, "ov-log"),
      card("log segments", fmtNum(o.segments), "ov-segments"),
      card("checkpoints", `${fmtNum(o.checkpoints)} (last LSN ${fmtNum(o.lastCkpt)})`, "ov-checkpoints"),
      card("checkpoint failures", fmtNum(o.ckptFailures), "ov-ckpt-failures"),
      card("sync mode", o.sync + (o.inMemory ? " (in memory)" : ""), "ov-sync"),
      card("ticks", o.ticking ? `${fmtNum(o.ticks)} (${fmtNum(o.overruns)} over ${fmtSeconds(o.budget)})` : "not ticking", "ov-ticks"),
      card("state", o.failed ? "FAILED" : "ok", "ov-state"),
      card("fsync p99 (last second)", !o.metricsPath ? "no /metrics" : o.fsyncMeasuring ? "measuring…" : o.fsyncP99 === null ? "no fsync" : fmtSeconds(o.fsyncP99), "ov-fsync"),
    );
    const phases = o.phases.filter((p) => p.phase !== "total");
    charts.replaceChildren(
      lineChart("operations committed per second (LSN rate)", [{ name: "ops/s", points: rate("lsn") }], { testid: "chart-ops" }),
      lineChart("log records (commits) and fsyncs per second", [
        { name: "records/s", points: rate("records") }, { name: "fsyncs/s", points: rate("syncs") }], { testid: "chart-commits" }),
      lineChart("deltas committed by ticks and pages recomputed per second", [
        { name: "deltas/s", points: rate("deltas") }, { name: "recomputed/s", points: rate("recomputed") }], { testid: "chart-deltas" }),
      lineChart("log bytes written per second", [{ name: "bytes/s", points: rate("logBytes") }], { testid: "chart-logbytes", format: (v) => fmtBytes(v) }),
      lineChart("tick latency p99 (whole tick and its phases, over the metrics window)",
        [{ name: "total", points: samples.map((x) => ({ t: x.t, v: x.phaseP99.total || 0 })) }]
          .concat(["commit", "propagate", "validate"].map((ph) => ({ name: ph, points: samples.map((x) => ({ t: x.t, v: x.phaseP99[ph] || 0 })) }))),
        { testid: "chart-tick", format: fmtSeconds }),
      phaseTable(phases),
      o.metricsPath ? lineChart(`log fsync latency (${FSYNC}, per second)`, [
        { name: "p50", points: samples.filter((x) => x.fsyncP50 !== null).map((x) => ({ t: x.t, v: x.fsyncP50 })) },
        { name: "p99", points: samples.filter((x) => x.fsyncP99 !== null).map((x) => ({ t: x.t, v: x.fsyncP99 })) },
        { name: "mean", points: samples.filter((x) => x.fsyncMean !== null).map((x) => ({ t: x.t, v: x.fsyncMean })) }],
      { testid: "chart-fsync", format: fmtSeconds }) : "",
    );
  }

  function phaseTable(phases) {
    return h("div", { class: "chart" }, h("div", { class: "title" }, "tick phases (p50 / p99 / max)"),
      h("table", { testid: "phases" },
        h("tr", {}, h("th", {}, "phase"), h("th", { class: "num" }, "ticks"), h("th", { class: "num" }, "p50"), h("th", { class: "num" }, "p99"), h("th", { class: "num" }, "max")),
        phases.map((p) => h("tr", {}, h("td", {}, p.phase), h("td", { class: "num" }, fmtNum(num(p.count))),
          h("td", { class: "num" }, fmtSeconds(p.p50Seconds || 0)), h("td", { class: "num" }, fmtSeconds(p.p99Seconds || 0)),
          h("td", { class: "num" }, fmtSeconds(p.maxSeconds || 0))))));
  }

  // One sample at a time: a server slow to answer (a bus whose lock a
  // long operation holds, a loaded machine) got a new Overview (and
  // /metrics scrape) every second on top of those waiting, each holding
  // one of the browser's 6 connections over HTTP/1.1, until the other
  // views' calls waited behind them, and then drew them all at once.
  let busy = false;
  async function sample() {
    if (busy) return;
    busy = true;
    try {
      await takeSample();
    } finally {
      busy = false;
    }
  }

  async function takeSample() {
    const r = await api.call("Overview", {});
    if (!r) return;
    const phaseP99 = {};
    for (const p of list(r.phases)) phaseP99[p.phase] = p.p99Seconds || 0;
    samples.push({
      t: num(r.timeUnixNano), lsn: num(r.committedLsn), durable: num(r.durableLsn), pages: num(r.pages),
      bytes: num(r.logicalBytes), edges: num(r.edges), bindings: num(r.bindings), records: num(r.logRecords),
      logBytes: num(r.logBytes), syncs: num(r.logSyncs), segments: num(r.logSegments), checkpoints: num(r.checkpoints),
      lastCkpt: num(r.lastCheckpointLsn), ckptFailures: num(r.checkpointFailures), sync: r.syncMode || "",
      inMemory: !!r.inMemory, failed: !!r.failed, ticking: !!r.ticking, ticks: num(r.ticks), overruns: num(r.tickOverruns),
      deltas: num(r.deltasCommitted), recomputed: num(r.pagesRecomputed), budget: r.tickBudgetSeconds || 0,
      phases: list(r.phases), phaseP99,
    });
    const cur = samples[samples.length - 1];
    cur.metricsPath = r.metricsPath || "";
    cur.fsyncP50 = cur.fsyncP99 = cur.fsyncMean = null;
    if (cur.metricsPath) {
      const m = await scrape(cur.metricsPath);
      if (!api.live()) return;
      const h = m && m.get(FSYNC);
      if (h && !lastFsync) {
        // The first scrape holds every fsync since the server started:
        // its quantiles are not the last second's, which the card and
        // the chart say they show (a server that fsynced slowly an hour
        // ago showed that as its latest p99). Rates start at the next.
        cur.fsyncMeasuring = true;
        lastFsync = h;
      } else if (h) {
        cur.fsyncP50 = quantile(lastFsync, h, 0.5);
        cur.fsyncP99 = quantile(lastFsync, h, 0.99);
        const n = h.count - (lastFsync ? lastFsync.count : 0);
        cur.fsyncMean = n > 0 ? (h.sum - (lastFsync ? lastFsync.sum : 0)) / n : null;
        lastFsync = h;
      }
    }
    if (samples.length > KEEP) samples.shift();
    draw();
  }

  sample();
  timer = setInterval(sample, 1000);
  return { dispose: () => clearInterval(timer) };
}

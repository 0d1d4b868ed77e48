// Log browser: committed operations by LSN range, page, source or time,
// streamed from the server (QueryLog) with the bytes each delta wrote.
import { h, fmtNum, fmtTime, hexString, count } from "../util.js";
import { num, str, list, bytes, pageID } from "../connect.js";

export function render({ el, params, api, navigate }) {
  const field = (name, ph, width) => h("input", { name, placeholder: ph, testid: "log-" + name, style: `width:${width}px`, value: params[name] || "" });
  const from = field("from", "from LSN", 90), to = field("to", "to LSN", 90), page = field("page", "page", 80);
  const source = field("source", "source", 110), since = field("since", "since (ISO time)", 150);
  const until = field("until", "until (ISO time)", 150);
  const limit = h("select", { testid: "log-limit" }, [100, 200, 1000, 10000].map((n) => h("option", { value: n, selected: n === 200 }, `${n} ops`)));
  const info = h("span", { class: "muted", testid: "log-info" });
  const body = h("tbody", {});
  const table = h("table", { testid: "log-table" },
    h("thead", {}, h("tr", {}, ["LSN", "time", "kind", "page", "source", "bytes written", "data", "detail"].map((c) => h("th", {}, c)))), body);
  el.append(h("h2", {}, "Log"),
    h("form", { class: "toolbar", onsubmit: (e) => { e.preventDefault(); run(); } },
      from, to, page, source, since, until, limit, h("button", { type: "submit", testid: "log-run" }, "Query")),
    info, table);

  let ac = null;
  // runs numbers the queries: a query sent while an earlier one still
  // waited for its Overview (Query clicked twice, Enter pressed twice)
  // makes that one drop its answer instead of streaming its rows into the
  // same table (the last rows shown twice, under "200 operations").
  let runs = 0;
  function run() {
    const me = ++runs;
    if (ac) ac.abort();
    ac = null;
    body.replaceChildren();
    let n = 0;
    // LSNs and the page checked here, as the times are: sent as typed,
    // "abc" or 2^64 came back as the server's "unmarshal message: … invalid
    // value for uint64 field" in the banner (TestInspectorLogSaysWhatIsNoNumber).
    const number = (input, what, ok) => {
      const v = input.value.trim();
      if (!v) return "0";
      if (/^[0-9]+$/.test(v) && ok(BigInt(v))) return BigInt(v).toString();
      info.textContent = `${JSON.stringify(v.slice(0, 64))} is not ${what}`;
      return null;
    };
    const fromLsn = number(from, "an LSN (a decimal number below 2^64)", (n) => n < 1n << 64n);
    const toLsn = fromLsn && number(to, "an LSN (a decimal number below 2^64)", (n) => n < 1n << 64n);
    const pageId = toLsn && number(page, "a page ID (a decimal number from 1 to 18446744073709551615)", (n) => n > 0n && n < 1n << 64n);
    if (!pageId) return;
    const req = { fromLsn, toLsn, page: pageId, source: source.value, limit: Number(limit.value) };
    for (const [input, key] of [[since, "fromTimeUnixNano"], [until, "toTimeUnixNano"]]) {
      if (!input.value) continue;
      const t = Date.parse(input.value);
      if (isNaN(t)) { info.textContent = `"${input.value}" is not a time (try 2026-11-30T19:00:00Z)`; return; }
      req[key] = String(BigInt(t) * 1000000n);
    }
    // No range given: the most recent operations. Filtered by page or
    // source, the newest matches anywhere in the log (the server scans it);
    // unfiltered, every LSN is an operation, so the last LSNs are enough.
    // Judged on the fields as read above (trimmed): an LSN field holding
    // only spaces counts as empty there, and here it made no tail, the
    // oldest operations shown instead of the newest
    // (TestInspectorLogBlankFieldsAreEmpty).
    const tail = !from.value.trim() && !to.value.trim() && !since.value && !until.value;
    const filtered = !!(page.value.trim() || source.value);
    if (tail && filtered) req.newest = true;
    const start = async () => {
      if (tail && !filtered) {
        const o = await api.call("Overview", {});
        if (!o || me !== runs) return;
        // No earlier than the log's oldest LSN: asking for a trimmed
        // LSN is an error (the log no longer holds it).
        const oldest = num(o.oldestLsn) || num(o.committedLsn) + 1; // 0: the log holds none
        if (oldest > num(o.committedLsn)) { info.textContent = "the log holds no operations"; return; }
        req.fromLsn = String(Math.max(1, oldest, num(o.committedLsn) - Number(limit.value) + 1));
      }
      info.textContent = "streaming…";
      ac = api.stream("QueryLog", req, (e) => {
        n++;
        const p = pageID(e.page);
        const data = bytes(e.data);
        body.append(h("tr", { testid: "log-row", "data-lsn": num(e.lsn) },
          h("td", { class: "num" }, fmtNum(num(e.lsn))), h("td", { class: "muted" }, fmtTime(e.timeUnixNano)),
          h("td", {}, str(e.kind)), h("td", {}, p !== "0" ? h("a", { onclick: () => navigate("#/page/" + p) }, p) : ""),
          h("td", {}, str(e.source)),
          h("td", { class: "mono" }, list(e.ranges).slice(0, 3).map((r) => `[${num(r.lo)},${num(r.hi)})`).join(" ") + (list(e.ranges).length > 3 ? " …" : "")),
          // hexString marks what it leaves out of the 24 bytes shown,
          // which covers a cut answer too (it has 256): marked again, a
          // long write read "… …".
          h("td", { class: "mono", testid: "log-data" }, data.length ? hexString(data, 24) + (e.dataTruncated && data.length <= 24 ? " …" : "") : ""),
          h("td", { class: "muted" }, str(e.detail))));
      }, (err) => { info.textContent = err ? "" : count(n, "operation"); });
    };
    start();
  }
  run();
  return { dispose: () => { if (ac) ac.abort(); } };
}

// Events: the orchestrator's tick events, live (overruns, rejected deltas,
// recompute, invariant and checkpoint failures, raised flags).
import { h, fmtNum, fmtTime, fmtSeconds, count } from "../util.js";
import { num, str, pageID } from "../connect.js";

const KEEP = 500;

export function render({ el, api, navigate }) {
  const info = h("span", { class: "muted", testid: "events-info" }, "waiting for events…");
  const body = h("tbody", {});
  el.append(h("h2", {}, "Events"), info,
    h("table", { testid: "events" },
      h("thead", {}, h("tr", {}, ["time", "tick", "type", "page", "LSN", "what"].map((c) => h("th", {}, c)))), body));
  let n = 0;
  let ac = null;
  (async () => {
    const o = await api.call("Overview", {});
    if (o && !o.ticking) info.textContent = "this server runs no ticks (mmsb serve --ticks 16ms): no tick events will come";
  })();
  // The stream sends the server's recent history first, then live events;
  // after the server was gone it is opened again, history included, so
  // the table restarts from it.
  const open = () => {
    if (ac) ac.abort();
    n = 0;
    body.replaceChildren();
    ac = api.stream("Events", {}, onEvent, (err) => {
      if (err) info.textContent = "disconnected: waiting for the server…";
    });
  };
  const onEvent = (e) => {
    n++;
    info.textContent = count(n, "event");
    const p = pageID(e.page);
    // Each part in a <bdi>: a rejected delta's name is its source, a
    // writer's string, and a right-to-left override (U+202E) in it drew
    // the error after it backwards (TestInspectorWritersBidiStaysInItsField).
    const parts = [str(e.name), str(e.error), e.durationSeconds ? "took " + fmtSeconds(e.durationSeconds) : ""].filter(Boolean);
    const what = parts.length ? parts.map((t, i) => [i ? " · " : "", h("bdi", {}, t)]) : h("bdi", {}, str(e.text));
    body.prepend(h("tr", { testid: "event-row", class: "ev-" + str(e.type) },
      h("td", { class: "muted" }, fmtTime(e.timeUnixNano)), h("td", { class: "num" }, num(e.tick) ? fmtNum(num(e.tick)) : ""), h("td", {}, str(e.type)),
      h("td", {}, p !== "0" ? h("a", { onclick: () => navigate("#/page/" + p) }, String(p)) : ""),
      h("td", { class: "num" }, num(e.lsn) ? fmtNum(num(e.lsn)) : ""), h("td", {}, what)));
    while (body.childElementCount > KEEP) body.lastElementChild.remove();
  };
  open();
  return { onReconnect: open, dispose: () => ac.abort() };
}

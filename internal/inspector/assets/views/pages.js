// Pages: one server-side page of the page table at a time (search, sort and
// paging happen on the server), refreshed when the Changes stream names a
// page on screen.
import { h, fmtNum, count } from "../util.js";
import { num, str, list, pageID } from "../connect.js";

// Kept across visits to the view.
const state = { offset: 0, limit: 50, sort: "PAGE_SORT_ID", descending: false, search: "" };

const columns = [
  { key: "id", label: "ID", sort: "PAGE_SORT_ID", num: true },
  { key: "size", label: "size", sort: "PAGE_SORT_SIZE", num: true },
  { key: "epoch", label: "epoch", sort: "PAGE_SORT_EPOCH", num: true },
  { key: "lastLsn", label: "last LSN", sort: "PAGE_SORT_LAST_LSN", num: true },
  { key: "flagNames", label: "flags" },
  { key: "type", label: "type" },
  { key: "func", label: "derived function" },
];

export function render({ el, api, navigate }) {
  const search = h("input", { type: "search", placeholder: "ID, 10-20, derived, flagged, or a function", size: 36, testid: "page-search", value: state.search });
  const info = h("span", { class: "muted", testid: "page-info" });
  const rowsSel = h("select", { testid: "page-rows" }, [25, 50, 100, 500].map((n) => h("option", { value: n, selected: n === state.limit }, n + " rows")));
  // Each button has a name a screen reader reads ("previous rows"), not
  // only its glyph ("black left-pointing triangle").
  const btn = (label, testid, fn, name) => h("button", { testid, onclick: fn, "aria-label": name }, label);
  const firstBtn = btn("first", "page-first", () => { state.offset = 0; load(); });
  const prevBtn = btn("◀", "page-prev", () => { state.offset = Math.max(0, state.offset - state.limit); load(); }, "previous rows");
  const nextBtn = btn("▶", "page-next", () => { if (state.offset + state.limit < total) { state.offset += state.limit; load(); } }, "next rows");
  // lastOffset is the offset of the last rows of the listing.
  const lastOffset = () => Math.max(0, Math.floor((total - 1) / state.limit) * state.limit);
  const lastBtn = btn("last", "page-last", () => { state.offset = lastOffset(); load(); });
  let total = 0;
  const table = h("table", { testid: "pages" });
  el.append(h("h2", {}, "Pages"),
    h("div", { class: "toolbar" },
      h("form", { onsubmit: (e) => { e.preventDefault(); state.search = search.value.trim(); state.offset = 0; load(); } }, search, h("button", { type: "submit", testid: "page-search-go" }, "Search")),
      rowsSel, firstBtn, prevBtn, nextBtn, lastBtn, info),
    table);
  rowsSel.addEventListener("change", () => { state.limit = Number(rowsSel.value); state.offset = 0; load(); });

  // paging enables the buttons that lead to other rows only: all four
  // stayed enabled on the only page of a listing (and "◀" on the first),
  // doing nothing when pressed (TestInspectorPagingButtonsOnOnePage). A
  // button that had the keyboard's focus and is disabled hands it to the
  // other way's button, or to the search box: it fell to the page's body.
  function paging() {
    const atStart = state.offset <= 0, atEnd = state.offset + state.limit >= total;
    const had = document.activeElement;
    for (const [b, off] of [[firstBtn, atStart], [prevBtn, atStart], [nextBtn, atEnd], [lastBtn, atEnd]]) b.disabled = off;
    if ([firstBtn, prevBtn, nextBtn, lastBtn].includes(had) && had.disabled) {
      const to = [prevBtn, nextBtn, firstBtn, lastBtn].find((b) => !b.disabled) || search;
      to.focus();
    }
  }

  let shown = new Map(); // id -> epoch on screen
  let loading = false, again = false;

  // A sortable column's label is a button in its header cell, a tab stop
  // that Enter or Space sorts by (the cell took clicks only, so the
  // keyboard could not sort), and the sorted column's cell says which way
  // (aria-sort) to a screen reader, which does not read the arrow as
  // one (TestInspectorPagesSortByKeyboard).
  function header() {
    return h("tr", {}, columns.map((c) => {
      const sorted = c.sort === state.sort;
      const arrow = sorted ? (state.descending ? " ▼" : " ▲") : "";
      return h("th", {
        class: (c.num ? "num " : "") + (c.sort ? "sortable" : ""), testid: "col-" + c.key,
        "aria-sort": sorted ? (state.descending ? "descending" : "ascending") : null,
        onclick: c.sort ? () => {
          if (state.sort === c.sort) state.descending = !state.descending;
          else { state.sort = c.sort; state.descending = false; }
          state.offset = 0;
          load();
        } : null,
      }, c.sort ? h("button", { type: "button", class: "sort" }, c.label, h("span", { "aria-hidden": "true" }, arrow)) : c.label);
    }), h("th", {}, ""));
  }

  // redraw replaces the table's rows, keeping the keyboard's focus on the
  // header button or row link it was on: the table is redrawn at every
  // refresh of a live bus (every 300 ms to 2 s), and the focus fell to
  // the page's body each time, a keyboard user thrown back to the top
  // (TestInspectorPagesSortByKeyboard).
  function redraw(...rows) {
    const had = table.contains(document.activeElement) ? document.activeElement : null;
    let want = null;
    if (had) {
      const th = had.closest("th"), tr = had.closest("tr[data-id]"), td = had.closest("td");
      if (th) want = `th[data-testid="${th.dataset.testid}"] button`;
      else if (tr && td) want = `tr[data-id="${tr.dataset.id}"] td[data-col="${td.dataset.col}"] a`;
    }
    table.replaceChildren(header(), ...rows);
    const back = want && table.querySelector(want);
    if (back) back.focus();
  }

  async function load() {
    if (loading) { again = true; return; }
    loading = true;
    const r = await api.call("ListPages", {
      offset: String(state.offset), limit: state.limit, sort: state.sort, descending: state.descending, search: state.search,
    }, failed);
    loading = false;
    if (r) draw(r);
    if (again) { again = false; load(); }
  }

  // failed empties the table: its rows answered another request (a
  // search that is none of the known forms kept the previous search's
  // rows and "1–50 of 310 pages" under the error, as if they matched).
  function failed() {
    total = 0;
    shown = new Map();
    redraw();
    const q = state.search.length > 64 ? state.search.slice(0, 64) + "…" : state.search;
    info.textContent = q ? `no rows: the search "${q}" failed (the error above says why)` : "no rows: the listing failed (the error above says why)";
    paging();
  }

  function draw(r) {
    total = num(r.total);
    const rows = list(r.rows);
    // Pages freed under the last rows, none left from the offset: the
    // last rows are read instead (the offset only moves back, so this
    // ends). The view showed no rows and "0–50 of 40 pages", the focus
    // on ◀ handed to the search box (TestInspectorPagingAfterPagesFreed).
    if (!rows.length && total > 0 && lastOffset() < state.offset) {
      state.offset = lastOffset();
      load();
      return;
    }
    const next = new Map();
    const trs = rows.map((row) => {
      const id = pageID(row.id), epoch = num(row.epoch);
      next.set(id, epoch);
      const changed = shown.has(id) && shown.get(id) !== epoch;
      const vals = { id, size: num(row.size), epoch, lastLsn: num(row.lastLsn), flagNames: row.flags ? str(row.flagNames) : "", type: str(row.type), func: str(row.func) };
      return h("tr", { testid: "page-row", "data-id": id, class: changed ? "flash" : null },
        columns.map((c) => h("td", { class: c.num ? "num" : null, "data-col": c.key },
          c.key === "id" ? h("a", { onclick: () => navigate("#/page/" + id), testid: "page-link" }, String(id)) : c.num ? fmtNum(vals[c.key]) : vals[c.key])),
        h("td", { "data-col": "graph" }, h("a", { onclick: () => navigate("#/graph/" + id), title: "graph neighbourhood" }, "graph")));
    });
    shown = next;
    redraw(...trs);
    const from = rows.length ? state.offset + 1 : 0;
    info.textContent = `${fmtNum(from)}–${fmtNum(state.offset + rows.length)} of ${count(total, "page")}`;
    paging();
  }

  load();
  let pending = null, pendingWait = 0;
  return {
    onChanges(msg) {
      const ids = list(msg.pages).map(pageID);
      const onScreen = msg.pagesTruncated || ids.some((id) => shown.has(id)) || state.sort !== "PAGE_SORT_ID";
      // Pages changed off screen may have been created or freed: the
      // total and the rows of this page of the table may be different
      // (they stayed as they were, "of 310 pages" after pages were
      // added, until a row on screen changed), so they are re-read too,
      // but only every second.
      if (!onScreen && !ids.length) return;
      // At most one refresh every 300 ms; every 2 s when the server must
      // read every page's description for the answer (a sort other than by
      // ID, or the flagged search), which costs it about a second at 1M
      // pages; every second when no row on screen changed.
      const costly = state.sort !== "PAGE_SORT_ID" || state.search === "flagged";
      const wait = costly ? 2000 : onScreen ? 300 : 1000;
      if (pending && (pendingWait <= wait)) return;
      if (pending) clearTimeout(pending); // a row on screen changed: sooner
      pendingWait = wait;
      pending = setTimeout(() => { pending = null; load(); }, wait);
    },
    dispose() { if (pending) clearTimeout(pending); },
  };
}

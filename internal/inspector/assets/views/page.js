// Page detail: a hex view of one window of the page, typed values when the
// page declares a type, the bytes written by its last deltas highlighted,
// an as-of-LSN field and slider, and the provenance of a selected range.
import { h, fmtNum, fmtTime, hex2, hexString } from "../util.js";
import { num, str, list, bytes, pageID, parsePageID } from "../connect.js";

const WINDOW = 1024;
const RECENT = 4; // deltas whose bytes are highlighted, newest darkest

// SHOWN_BYTES is where the server cuts a provenance step's intent (and its
// bytes): an intent that long is marked cut.
const SHOWN_BYTES = 256;

// A binding's parents: the page line names the first INLINE_PARENTS and
// says how many more there are; asked, the list below it shows them, a
// page of the server's answer (at most PARENTS_PAGE, GetPage's cut) at a
// time. The line listed every parent of the answer, 1,000 links above
// the bytes: a derived page's hex view started two screens down.
const INLINE_PARENTS = 20;
const PARENTS_PAGE = 1000;

const intentText = (b) => new TextDecoder().decode(b) + (b.length >= SHOWN_BYTES ? " …" : "");

export function render({ el, params, api, navigate }) {
  const id = parsePageID(params.id);
  if (!id) {
    // Not "page 0 does not exist": what the address holds is no page ID.
    el.append(h("h2", { testid: "page-title" }, "Page"),
      h("div", { class: "muted", testid: "page-gone" }, `${JSON.stringify(String(params.id ?? "").slice(0, 64))} is not a page ID (a decimal number from 1 to 18446744073709551615)`));
    return {};
  }
  // The address's numbers (links the views make, or typed by hand): one
  // that is no whole number in range is named on the page and left out.
  // They were used as they came: off=abc drew "bytes NaN–NaN" at offset
  // "000NaN", and lsn=-5 or off=1e30 showed no bytes, only the server's
  // "unmarshal message … invalid value" (TestInspectorPageAddressNumbers).
  const bad = [];
  const whole = (name, max) => {
    const v = params[name];
    if (v === undefined || v === "") return undefined;
    if (/^[0-9]+$/.test(v) && Number(v) <= max) return Number(v);
    bad.push(`${name}=${JSON.stringify(String(v).slice(0, 32))}`);
    return undefined;
  };
  const U32 = 0xffffffff;
  let asOf = whole("lsn", Number.MAX_SAFE_INTEGER) ?? 0;
  let offset = Math.floor((whole("off", U32) ?? 0) / WINDOW) * WINDOW;
  const named = bad.length;
  const lo = whole("lo", U32), hi = whole("hi", U32);
  let sel = lo !== undefined && hi !== undefined && lo < hi ? { lo, hi } : null;
  if (!sel && bad.length === named && (lo !== undefined || hi !== undefined)) bad.push(`lo=${lo ?? "–"}, hi=${hi ?? "–"} (no byte range: lo below hi)`);
  let data = null; // last answer
  let parentsOpen = false; // the list of parents below the page line is shown
  let parentsOffset = 0; // the first parent the list shows (0 while closed)
  let parentsShown = ""; // what the list holds (offset, total, IDs), "" when closed
  let refocus = null; // the testid of the toggle to focus at the next draw

  const title = h("h2", { testid: "page-title" }, `Page ${id}`);
  const meta = h("div", { class: "muted", testid: "page-meta" });
  const parentsBox = h("div", { testid: "page-parents" });
  const asofInput = h("input", { type: "number", min: 1, testid: "asof-lsn", style: "width:110px", placeholder: "LSN" });
  const slider = h("input", { type: "range", min: 1, max: 1, testid: "asof-slider", style: "width:260px" });
  const asofBanner = h("span", { testid: "asof-banner", class: "muted" });
  const hex = h("div", { class: "hex", testid: "hex" });
  const typed = h("div", { testid: "typed-view" });
  const recent = h("div", { testid: "recent" });
  const prov = h("div", { class: "panel", testid: "provenance" }, h("div", { class: "muted" }, "Select bytes in the hex view (drag, or click then shift-click) to see their provenance."));
  const winInfo = h("span", { class: "muted", testid: "window-info" });
  // A page of up to 16 MiB is 16,384 windows: jump to a byte instead of
  // clicking through them.
  const gotoInput = h("input", { type: "number", min: 0, testid: "window-goto", style: "width:110px", placeholder: "go to byte" });

  // The byte tools and views, hidden while the page does not exist: an
  // empty hex box and "Select bytes in the hex view" were shown for a
  // freed page (TestInspectorPageGoneHidesByteViews).
  const byteTools = h("div", { class: "toolbar" },
    h("button", { testid: "window-prev", onclick: () => { if (offset > 0) { offset -= WINDOW; load(); } } }, "◀ bytes"),
    h("button", { testid: "window-next", onclick: () => { if (data && offset + WINDOW < num(data.page.size)) { offset += WINDOW; load(); } } }, "bytes ▶"),
    gotoInput, winInfo);
  const byteView = h("div", { class: "split" }, h("div", {}, hex, typed), h("div", {}, prov, recent));
  el.append(title, bad.length ? h("div", { class: "muted", testid: "page-address-note" }, `left out of the address, not understood: ${bad.join(", ")}`) : "", meta, parentsBox,
    h("div", { class: "toolbar" },
      h("label", {}, "as of LSN ", asofInput), slider,
      h("button", { testid: "asof-now", onclick: () => { asOf = 0; load(); } }, "now"),
      asofBanner,
      h("a", { onclick: () => navigate("#/graph/" + id) }, "graph"),
      h("a", { onclick: () => navigate("#/log?page=" + id) }, "log")),
    byteTools, byteView);

  asofInput.addEventListener("change", () => { asOf = Number(asofInput.value) || 0; load(); });
  slider.addEventListener("change", () => { asOf = Number(slider.value); load(); });
  let sliding = false; // the slider's thumb is held
  slider.addEventListener("pointerdown", () => { sliding = true; });
  const endSlide = () => { sliding = false; };
  window.addEventListener("pointerup", endSlide);
  gotoInput.addEventListener("change", () => {
    const at = Math.floor(Number(gotoInput.value));
    if (!Number.isFinite(at) || at < 0) return;
    const size = data ? num(data.page.size) : Infinity;
    const to = Math.min(at, Math.max(0, size - 1));
    if (to !== at) gotoInput.value = to; // past the end: the last byte
    offset = Math.floor(to / WINDOW) * WINDOW;
    load();
  });

  let loading = false, again = false;
  async function load() {
    if (loading) { again = true; return; }
    loading = true;
    const r = await api.call("GetPage", { id: String(id), asOfLsn: String(asOf), recent: RECENT, windowOffset: offset, windowLength: WINDOW, parentsOffset }, (err) => {
      // Freed (or never created, or not yet at that LSN): show no bytes
      // rather than the last ones read as if they were still there.
      if (err.code === "not_found") gone(err);
      // Rebound with fewer parents than the list had paged past: from
      // the first again.
      else if (err.code === "invalid_argument" && parentsOffset > 0) { parentsOffset = 0; again = true; }
    });
    loading = false;
    // Asked for another window or LSN meanwhile: this answer is for the
    // old one, and drawn under the new offset it showed bytes at the
    // wrong place (a write at byte 16,000,000 in the last window).
    if (again) { again = false; load(); return; }
    if (r) { data = r; draw(); }
  }

  function draw() {
    byteTools.style.display = byteView.style.display = "";
    const p = data.page;
    const size = num(p.size);
    const type = str(p.type);
    const fn = str(p.func);
    // The page line is drawn anew at each reload (each tick for a derived
    // page): the link or toggle focused in it keeps the focus, else the
    // keyboard lost its place there at every tick. A toggle just used
    // hands the focus to the one drawn in its place.
    const had = meta.contains(document.activeElement) ? document.activeElement : null;
    const want = refocus || (had && (had.dataset.testid || had.getAttribute("href")));
    refocus = null;
    meta.replaceChildren(
      `size ${fmtNum(size)} B · epoch ${fmtNum(num(data.epoch))}` + (asOf ? ` as of LSN ${fmtNum(asOf)} (now ${fmtNum(num(p.epoch))})` : "") +
      ` · last LSN ${fmtNum(num(p.lastLsn))}` +
      (p.flags ? ` · flags ${str(p.flagNames)}` : ""),
      type ? h("span", {}, " · type ", h("bdi", { testid: "page-type" }, type)) : "",
      // The binding is the page's now: GetPage answers with the binding
      // as it is, not as the log had it at the as-of LSN, and as of an LSN
      // the line named today's function and parents as that LSN's
      // (TestInspectorPageParentsByKeyboardAndAsOf).
      // The function's name in a <bdi>, as the type is: a right-to-left
      // override (U+202E) in it drew the parent links after it right to
      // left (TestInspectorPageFunctionBidi).
      fn ? h("span", { testid: "page-binding" }, asOf ? " · derived now (the binding is not read as of the LSN): " : " · derived: ", h("bdi", {}, fn), "(", drawParents(), ")") : "");
    if (!fn) { parentsBox.replaceChildren(); parentsShown = ""; }
    if (want) {
      const back = [...meta.querySelectorAll("a")].find((a) => a.dataset.testid === want || a.getAttribute("href") === want);
      if (back) back.focus();
    }
    drawRange();
    const win = bytes(data.data);
    winInfo.textContent = `bytes ${fmtNum(offset)}–${fmtNum(offset + win.length - 1)} of ${fmtNum(size)}`;

    // Highlight classes: the newest write wins on overlap.
    const level = new Int8Array(win.length).fill(-1);
    const writes = list(data.recent);
    for (let k = writes.length - 1; k >= 0; k--) {
      for (const r of list(writes[k].ranges)) {
        for (let i = Math.max(num(r.lo), offset); i < Math.min(num(r.hi), offset + win.length); i++) level[i - offset] = k;
      }
    }
    drawHex(win, level);
    drawTyped(win, type);
    recent.replaceChildren(h("h3", {}, "last writes (highlighted, newest darkest)"),
      h("table", { testid: "recent-writes" },
        h("tr", {}, h("th", {}, "LSN"), h("th", {}, "source"), h("th", {}, "bytes"), h("th", {}, "time")),
        writes.map((w, k) => h("tr", {},
          h("td", {}, h("span", { class: "swatch changed-" + k }), fmtNum(num(w.lsn))),
          h("td", {}, h("bdi", {}, str(w.source)), w.derived ? " (derived)" : ""),
          h("td", { class: "mono" }, list(w.ranges).slice(0, 4).map((r) => `[${num(r.lo)},${num(r.hi)})`).join(" ") + (list(w.ranges).length > 4 ? " …" : "")),
          h("td", { class: "muted" }, fmtTime(w.timeUnixNano)))),
        // A page no write reached (or whose writes the log no longer
        // holds) showed the header alone, an empty table that read as
        // not yet loaded (TestInspectorPageSaysNoRecentWrites).
        writes.length === 0 ? h("tr", { testid: "recent-none" }, h("td", { colspan: "4", class: "muted" }, "no write in the log")) : ""));
    if (sel) loadProvenance();
  }

  // drawParents returns what the page line says of the binding's parents
  // and fills the list below it when that is open. The server lists at
  // most PARENTS_PAGE parents from parentsOffset; parents_total counts
  // them all.
  function drawParents() {
    const parents = list(data.parents).map(pageID);
    const total = num(data.parentsTotal);
    // Links with an address, and the toggles with an href and the role
    // of a button: an <a> with only an onclick is no tab stop, so neither
    // a parent nor "… and N more" could be reached from the keyboard.
    const link = (pp) => h("a", { href: "#/page/" + pp }, String(pp));
    const toggle = (testid, text, act) => h("a", { testid, href: "#", role: "button", onclick: (e) => { e.preventDefault(); act(); } }, text);
    const links = (ps) => ps.map((pp, i) => [i ? ", " : "", link(pp)]);
    if (!parentsOpen || total <= INLINE_PARENTS) {
      parentsBox.replaceChildren();
      parentsShown = "";
      const shown = parents.slice(0, INLINE_PARENTS);
      const more = total - shown.length;
      return [links(shown), more > 0 ? [", ", toggle("parents-more", `… and ${fmtNum(more)} more`, () => { parentsOpen = true; refocus = "parents-fewer"; draw(); })] : ""];
    }
    const from = parentsOffset, to = parentsOffset + parents.length;
    const page = (at) => { parentsOffset = at; load(); };
    // Redrawn only when the parents changed: a derived page is reloaded
    // each time it is recomputed (each tick), and the list drawn anew
    // each time scrolled back to its top under the reader.
    const shown = `${from} ${total} ${parents.join(",")}`;
    if (shown !== parentsShown) parentsBox.replaceChildren(
      h("div", { class: "toolbar" },
        h("span", { class: "muted", testid: "parents-range" }, `parents ${fmtNum(Math.min(from + 1, to))}–${fmtNum(to)} of ${fmtNum(total)}`),
        h("button", { testid: "parents-prev", disabled: from === 0, onclick: () => page(Math.max(0, from - PARENTS_PAGE)) }, "◀ parents"),
        h("button", { testid: "parents-next", disabled: to >= total, onclick: () => page(to) }, "parents ▶")),
      h("div", { class: "parents-list", testid: "parents-list" }, links(parents)));
    parentsShown = shown;
    return [`${fmtNum(total)} parents, listed below · `, toggle("parents-fewer", "fewer", () => {
      parentsOpen = false;
      refocus = "parents-more";
      if (parentsOffset) page(0); else draw();
    })];
  }

  // drawRange sets the slider's range and the banner: from the oldest LSN
  // the log holds to the committed LSN, which moves with the Changes
  // stream even when this page is not written (it stayed at the LSN of
  // the last load: the slider could not reach the newer LSNs, and the
  // banner said the log ended there).
  //
  // It leaves alone what the user is changing: an LSN being typed (the
  // field was emptied at every refresh, every 100 ms on a page each tick
  // writes, so no LSN could be typed there) and the slider being dragged.
  function drawRange() {
    const committed = num(data.committedLsn), oldest = Math.max(1, num(data.oldestLsn));
    slider.min = oldest;
    slider.max = committed;
    if (!sliding) slider.value = asOf || committed;
    if (document.activeElement !== asofInput) asofInput.value = asOf || "";
    asofBanner.textContent = asOf ? `showing the page as of LSN ${fmtNum(asOf)} (epoch ${fmtNum(num(data.epoch))})` : `current (log holds LSN ${fmtNum(oldest)}–${fmtNum(committed)})`;
  }

  function gone(err) {
    data = null;
    // The LSN asked for stays in its field (it was empty, the slider at
    // its start: nothing but the message said which LSN this was).
    if (document.activeElement !== asofInput) asofInput.value = asOf || "";
    asofBanner.textContent = asOf ? `as of LSN ${fmtNum(asOf)}` : "";
    parentsBox.replaceChildren();
    parentsShown = "";
    meta.replaceChildren(h("span", { testid: "page-gone" }, asOf ? `page ${id} did not exist at LSN ${fmtNum(asOf)} (${err.rawMessage})` : `page ${id} does not exist (freed, or never created): ${err.rawMessage}`));
    hex.replaceChildren();
    typed.replaceChildren();
    recent.replaceChildren();
    winInfo.textContent = "";
    byteTools.style.display = byteView.style.display = "none";
  }

  function drawHex(win, level) {
    const rows = [];
    for (let r = 0; r < win.length; r += 16) {
      const cells = [];
      let ascii = "";
      for (let i = r; i < Math.min(r + 16, win.length); i++) {
        const abs = offset + i;
        let cls = "b";
        if (level[i] >= 0) cls += " changed-" + level[i];
        if (sel && abs >= sel.lo && abs < sel.hi) cls += " sel";
        cells.push(h("span", { class: cls, "data-off": abs, testid: "byte" }, hex2(win[i])));
        ascii += win[i] >= 32 && win[i] < 127 ? String.fromCharCode(win[i]) : ".";
      }
      rows.push(h("div", { class: "row" }, h("span", { class: "off" }, (offset + r).toString(16).padStart(6, "0")), ...cells, h("span", { class: "ascii" }, ascii)));
    }
    hex.replaceChildren(...rows);
  }

  function drawTyped(win, type) {
    if (type !== "f64" && type !== "i64") { typed.replaceChildren(); return; }
    const dv = new DataView(win.buffer, win.byteOffset, win.byteLength);
    const cells = [];
    for (let i = 0; i + 8 <= win.length && cells.length < 128; i += 8) {
      const v = type === "f64" ? dv.getFloat64(i, true) : dv.getBigInt64(i, true);
      cells.push(h("tr", {}, h("td", { class: "num muted" }, `[${(offset + i) / 8}]`), h("td", { class: "num mono", testid: "typed-value" }, type === "f64" ? v.toPrecision(8) : v.toString())));
    }
    typed.replaceChildren(h("h3", {}, `${type} values`), h("table", {}, cells));
  }

  // Byte selection: drag across cells, or click one and shift-click another.
  let anchor = null;
  hex.addEventListener("mousedown", (e) => {
    const off = e.target.dataset && e.target.dataset.off;
    if (off === undefined) return;
    const o = Number(off);
    if (e.shiftKey && anchor !== null) select(Math.min(anchor, o), Math.max(anchor, o) + 1);
    else { anchor = o; select(o, o + 1); dragging = true; }
    e.preventDefault();
  });
  let dragging = false;
  hex.addEventListener("mouseover", (e) => {
    if (!dragging || !e.target.dataset || e.target.dataset.off === undefined) return;
    const o = Number(e.target.dataset.off);
    markSelection(Math.min(anchor, o), Math.max(anchor, o) + 1);
  });
  const endDrag = () => { if (dragging) { dragging = false; loadProvenance(); } };
  window.addEventListener("mouseup", endDrag);

  function markSelection(lo, hi) {
    sel = { lo, hi };
    for (const c of hex.querySelectorAll(".b")) {
      const o = Number(c.dataset.off);
      c.classList.toggle("sel", o >= lo && o < hi);
    }
  }
  function select(lo, hi) {
    markSelection(lo, hi);
    if (!dragging) loadProvenance();
  }

  async function loadProvenance() {
    if (!sel) return;
    const { lo, hi } = sel;
    const at = asOf;
    const r = await api.call("Provenance", { page: String(id), offset: lo, length: hi - lo });
    if (!r || !sel || sel.lo !== lo || sel.hi !== hi || at !== asOf) return;
    const steps = list(r.steps);
    // The bus traces the bytes a page holds now (Bus.Provenance has no
    // as-of LSN): under a view of the past the chain is not of the bytes
    // shown, and the panel says so (it read as theirs).
    const title = `provenance of bytes [${lo}, ${hi}) of page ${id}` +
      (at ? ` as they are now, not as of LSN ${fmtNum(at)}: the bytes shown may have other writers` : "");
    prov.replaceChildren(
      h("h3", { testid: "provenance-title" }, title),
      h("div", { class: "muted" }, `chain depth ${num(r.chainDepth)}${r.truncated ? " (truncated)" : ""}; click a step to open it`),
      ...steps.map((st) => {
        const depth = num(st.depth);
        const page = pageID(st.page);
        // The source and intent, a writer's strings, each in a <bdi>: a
        // right-to-left override in one (U+202E) ran on to the end of the
        // line, the intent drawn before the source's end, backwards
        // (TestInspectorWritersBidiStaysInItsField).
        const text = st.lost ? `page ${page}: history no longer in the log` :
          [`${str(st.kind)} LSN ${fmtNum(num(st.lsn))} · page ${page} bytes [${num(st.lo)},${num(st.hi)}) · source `, h("bdi", { class: "source" }, str(st.source) || "–"),
            st.intent ? [" · intent ", h("bdi", { class: "intent" }, intentText(bytes(st.intent)))] : "", st.repeat ? " · (listed above)" : ""];
        return h("div", {
          class: "step", testid: "prov-step", "data-page": page, "data-lsn": num(st.lsn), style: `margin-left:${depth * 18}px`,
          onclick: () => navigate(`#/page/${page}?lo=${num(st.lo)}&hi=${Math.min(num(st.hi), num(st.lo) + 64)}&off=${num(st.lo)}`),
        }, depth ? "↳ " : "", text, st.bytes ? h("div", { class: "mono muted" }, hexString(bytes(st.bytes), 32)) : "");
      }));
  }

  load();
  let pending = null;
  return {
    onChanges(msg) {
      if (data && num(msg.committedLsn) > num(data.committedLsn)) {
        data.committedLsn = msg.committedLsn;
        drawRange();
      }
      if (asOf) return; // a view of the past does not move
      if (!msg.pagesTruncated && !list(msg.pages).map(pageID).includes(id)) return;
      if (pending) return;
      pending = setTimeout(() => { pending = null; load(); }, 200);
    },
    dispose() {
      window.removeEventListener("mouseup", endDrag);
      window.removeEventListener("pointerup", endSlide);
      if (pending) clearTimeout(pending);
    },
  };
}

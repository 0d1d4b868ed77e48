// The inspector's shell: token, error banner, hash router, and the live
// Changes stream that every view listens to.
import { setToken, unary, stream, num } from "./connect.js";
import * as overview from "./views/overview.js";
import * as pages from "./views/pages.js";
import * as page from "./views/page.js";
import * as graph from "./views/graph.js";
import * as log from "./views/log.js";
import * as events from "./views/events.js";

const SERVICE = "mmsb.inspector.v1.InspectorService";
const TOKEN_KEY = "mmsb.token";

const views = { overview, pages, page, graph, log, events };

const $ = (sel) => document.querySelector(sel);
const viewEl = $("#view");
const errorEl = $('[data-testid="error"]');
const lsnEl = $('[data-testid="committed-lsn"]');

let current = null; // { view, dispose, onChanges }
let generation = 0; // bumps on every route change, so late answers are dropped
let changes = null; // AbortController of the Changes stream
let authFailed = false;
// liveError is the banner's text while the Changes stream is down (the bus
// closed or failed, the server gone): the views refresh only on that
// stream, so the banner keeps saying so until it is back. A view's read
// that succeeds meanwhile (a failed bus still serves reads; the Overview
// samples every second) cleared it, and the banner blinked out between
// the stream's retries.
let liveError = null;

function showError(err) {
  let msg = err && err.message ? err.message : String(err);
  if (err && (err.code === "unauthenticated" || err.code === "permission_denied")) {
    msg += " — enter a token with the read role (or higher) in the field above";
  }
  errorEl.textContent = msg;
  errorEl.hidden = false;
  if (err && (err.code === "unauthenticated" || err.code === "permission_denied")) {
    // A rejected token shows no data at all, not stale data from before.
    authFailed = true;
    viewEl.replaceChildren();
    lsnEl.textContent = "LSN –";
    stopChanges();
  }
}

function clearError() {
  if (liveError) {
    errorEl.textContent = liveError;
    errorEl.hidden = false;
    return;
  }
  errorEl.hidden = true;
  errorEl.textContent = "";
}

// api wraps the RPC calls of the current view: errors go to the banner, and
// answers that arrive after the user left the view are dropped.
function makeApi(gen) {
  const live = () => gen === generation;
  return {
    live,
    // call resolves to the answer, or to null after showing the error
    // (onError, if given, then gets it too).
    async call(method, req, onError) {
      try {
        const res = await unary(SERVICE, method, req);
        if (!live()) return null;
        clearError();
        return res;
      } catch (err) {
        if (live()) {
          showError(err);
          if (onError) onError(err);
        }
        return null;
      }
    },
    // stream returns an AbortController; onMessage is not called once the
    // view is gone.
    stream(method, req, onMessage, onEnd) {
      const ac = new AbortController();
      stream(SERVICE, method, req, (m) => { if (live()) onMessage(m); }, ac.signal)
        .then(() => { if (live() && onEnd) onEnd(null); })
        .catch((err) => {
          if (ac.signal.aborted || !live()) return;
          showError(err);
          if (onEnd) onEnd(err);
        });
      return ac;
    },
  };
}

function parseRoute() {
  const h = location.hash.replace(/^#\/?/, "") || "overview";
  const [path, query] = h.split("?");
  const parts = path.split("/");
  const params = Object.fromEntries(new URLSearchParams(query || ""));
  let name = parts[0];
  if (name === "page" && parts[1]) params.id = parts[1];
  if (name === "graph" && parts[1]) params.id = parts[1];
  if (!views[name]) name = "overview";
  return { name, params };
}

export function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

function route() {
  if (current && current.dispose) current.dispose();
  current = null;
  generation++;
  const { name, params } = parseRoute();
  for (const a of document.querySelectorAll("header nav a")) {
    a.classList.toggle("active", a.getAttribute("href") === "#/" + (name === "page" ? "pages" : name));
  }
  viewEl.replaceChildren();
  viewEl.dataset.view = name;
  // The graph that a node's Enter asked for takes the focus only if it is
  // the view drawn next: an Enter followed at once by another address (two
  // hash changes before the first hashchange ran, both read here as the
  // second) drew no graph, and the page's next graph, opened by other means,
  // took the focus (TestInspectorGraphFocusForgottenByOtherView).
  if (name !== "graph") graph.forgetFocus();
  if (authFailed) {
    // No view is drawn: the graph's node that an Enter asked to focus is
    // not either (TestInspectorGraphFocusNotKeptPastRefusal).
    graph.forgetFocus();
    return;
  }
  // The last view's error is not this one's: it stayed in the banner over
  // a view that calls nothing (an address with no page ID) or until this
  // view's first answer. The live stream's error stays (clearError).
  clearError();
  current = views[name].render({ el: viewEl, params, api: makeApi(generation), navigate, showError }) || {};
}

function stopChanges() {
  if (changes) changes.abort();
  changes = null;
  liveError = null;
}

// The Changes stream drives live updates; it reconnects after a dropped
// connection, and stops for good on an auth error. Any other error (the bus
// closed, the server gone) goes to the banner until the stream is back: the
// views refresh only on its messages, so without it they would look live.
function startChanges() {
  stopChanges();
  const ac = new AbortController();
  changes = ac;
  let after = 0;
  let failed = false; // the banner shows this stream's error
  const run = () => {
    if (ac.signal.aborted) return;
    stream(SERVICE, "Changes", { afterLsn: String(after) }, (msg) => {
      if (failed) {
        // Back: what the view shows may be stale (or was never loaded),
        // so it re-reads everything, and restarts its own streams.
        failed = false;
        liveError = null;
        clearError();
        lsnEl.classList.remove("stale");
        if (current && current.onReconnect) current.onReconnect();
        else if (current && current.onChanges) current.onChanges({ ...msg, pagesTruncated: true });
        after = num(msg.committedLsn);
        lsnEl.textContent = "LSN " + after;
        return;
      }
      after = num(msg.committedLsn);
      lsnEl.textContent = "LSN " + after;
      if (current && current.onChanges) current.onChanges(msg);
    }, ac.signal).then(() => setTimeout(run, 1000)).catch((err) => {
      if (ac.signal.aborted) return;
      if (err.code === "unauthenticated" || err.code === "permission_denied") {
        showError(err);
        return;
      }
      liveError = `${err.message} — live updates stopped; retrying every 2 s`;
      showError(new Error(liveError));
      lsnEl.classList.add("stale");
      failed = true;
      setTimeout(run, 2000);
    });
  };
  run();
}

function useToken(t) {
  if (t) sessionStorage.setItem(TOKEN_KEY, t);
  else sessionStorage.removeItem(TOKEN_KEY);
  setToken(t);
  authFailed = false;
  clearError();
  startChanges();
  route();
}

$('[data-testid="token-form"]').addEventListener("submit", (e) => {
  e.preventDefault();
  const input = $('[data-testid="token-input"]');
  useToken(input.value.trim());
  input.value = "";
});

// A tab out of sight holds no stream. Over HTTP/1.1 (a server without
// TLS) the browser opens at most 6 connections to a server, for all its
// tabs together, and each stream keeps one: three tabs left on the events
// view (Changes and Events) used them all, and every other call of every
// tab, the next tab's page load included, waited for ever. A hidden tab
// stops its streams and its view; shown again, it reconnects and re-reads
// the view.
let paused = false;

function pause() {
  paused = true;
  stopChanges();
  if (current && current.dispose) current.dispose();
  current = null;
  generation++; // answers still on their way are dropped
}

function resume() {
  if (!paused) return;
  paused = false;
  startChanges();
  route();
}

document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "hidden") pause();
  else resume();
});

window.addEventListener("hashchange", () => { if (!paused) route(); });
setToken(sessionStorage.getItem(TOKEN_KEY) || "");
if (document.visibilityState === "hidden") {
  paused = true; // opened in the background: starts when first shown
} else {
  startChanges();
  route();
}

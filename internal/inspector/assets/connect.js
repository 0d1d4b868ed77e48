// A small client for the Connect protocol with the JSON codec: unary calls
// (POST application/json) and server streams (POST application/connect+json,
// messages in enveloped frames: 1 flag byte, 4-byte big-endian length, JSON).
// It sends the bearer token, if one is set, on every call.

export class RPCError extends Error {
  constructor(code, message) {
    super(`${code}: ${message}`);
    this.code = code;
    this.rawMessage = message;
  }
}

let token = "";

export function setToken(t) {
  token = t || "";
}

// token returns the bearer token in use ("" for none).
export const currentToken = () => token;

function headers(contentType) {
  const h = { "Content-Type": contentType, "Connect-Protocol-Version": "1" };
  if (token) h["Authorization"] = "Bearer " + token;
  return h;
}

// HTTP statuses Connect uses when a unary error body is missing or unreadable.
const statusCodes = {
  400: "invalid_argument", 401: "unauthenticated", 403: "permission_denied",
  404: "unimplemented", 408: "deadline_exceeded", 413: "resource_exhausted",
  429: "unavailable", 502: "unavailable", 503: "unavailable", 504: "unavailable",
};

async function errorFrom(resp) {
  let body = null;
  try {
    body = await resp.json();
  } catch (_) {
    // not JSON: fall through to the status
  }
  const code = (body && body.code) || statusCodes[resp.status] || "unknown";
  const msg = (body && body.message) || `HTTP ${resp.status}`;
  return new RPCError(code, msg);
}

// unreachable turns a failed fetch or read (the server stopped, the
// network dropped: a TypeError such as "Failed to fetch") into an RPCError
// a person can read; an abort stays an abort.
function unreachable(err) {
  if (err instanceof RPCError || (err && err.name === "AbortError")) return err;
  return new RPCError("unavailable", `server unreachable (${err && err.message ? err.message : err})`);
}

// post sends one call; a network failure is an RPCError "unavailable".
async function post(service, method, contentType, body, signal) {
  try {
    return await fetch(`/${service}/${method}`, { method: "POST", headers: headers(contentType), body, signal });
  } catch (err) {
    throw unreachable(err);
  }
}

// unary calls /service/method with req and resolves to the response object.
export async function unary(service, method, req, signal) {
  const resp = await post(service, method, "application/json", JSON.stringify(req || {}), signal);
  if (!resp.ok) throw await errorFrom(resp);
  try {
    return await resp.json();
  } catch (err) {
    throw unreachable(err);
  }
}

const FLAG_END = 0x02;

function envelope(obj) {
  const body = new TextEncoder().encode(JSON.stringify(obj || {}));
  const out = new Uint8Array(5 + body.length);
  new DataView(out.buffer).setUint32(1, body.length, false);
  out.set(body, 5);
  return out;
}

// stream calls a server-streaming method and calls onMessage for each
// message. It resolves when the stream ends cleanly and rejects with an
// RPCError when the server ends it with an error. Abort signal to stop.
export async function stream(service, method, req, onMessage, signal) {
  const resp = await post(service, method, "application/connect+json", envelope(req), signal);
  if (!resp.ok) throw await errorFrom(resp);
  const reader = resp.body.getReader();
  const dec = new TextDecoder();
  let buf = new Uint8Array(0);
  for (;;) {
    // Parse every whole frame in buf.
    while (buf.length >= 5) {
      const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
      const flags = dv.getUint8(0);
      const len = dv.getUint32(1, false);
      if (buf.length < 5 + len) break;
      const payload = buf.subarray(5, 5 + len);
      buf = buf.slice(5 + len);
      const obj = len ? JSON.parse(dec.decode(payload)) : {};
      if (flags & FLAG_END) {
        if (obj.error) throw new RPCError(obj.error.code || "unknown", obj.error.message || "");
        return;
      }
      onMessage(obj);
    }
    let chunk;
    try {
      chunk = await reader.read();
    } catch (err) {
      throw unreachable(err); // the connection dropped mid-stream
    }
    const { value, done } = chunk;
    if (done) {
      // A clean end carries an end-of-stream frame: without one, the
      // connection was cut (the server went away).
      throw new RPCError("unavailable", buf.length ? "stream ended inside a frame" : "stream ended without its end frame (server gone?)");
    }
    const grown = new Uint8Array(buf.length + value.length);
    grown.set(buf);
    grown.set(value, buf.length);
    buf = grown;
  }
}

// Helpers for protobuf's JSON mapping: 64-bit integers arrive as strings,
// bytes as base64, and default values are omitted.
export const num = (v) => (v === undefined || v === null ? 0 : Number(v));
export const str = (v) => (v === undefined || v === null ? "" : String(v));
export const list = (v) => v || [];

// pageID returns a page ID of an answer (a uint64, which the JSON mapping
// sends as a decimal string) as that string, "0" for none. IDs reach
// 2^64-1 (a client may choose them) and a Number holds integers exactly
// only up to 2^53: read as one, page 9007199254740993 was shown as
// 9007199254740992 and its links opened that other page.
export const pageID = (v) => (v === undefined || v === null || v === "" ? "0" : String(v));

// parsePageID returns the page ID a person or a URL gave, in decimal
// without leading zeros, or "" when it is none (not digits, 0, past 2^64-1).
export function parsePageID(v) {
  const t = String(v ?? "").trim();
  if (!/^[0-9]+$/.test(t)) return "";
  const n = BigInt(t);
  return n > 0n && n < 1n << 64n ? n.toString() : "";
}

export function bytes(b64) {
  if (!b64) return new Uint8Array(0);
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

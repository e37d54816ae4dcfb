// Local history (docs/e2ee.md, "History at rest in the browser"): every
// message this device has shown is kept in IndexedDB, so that a start
// renders from it and asks the platform only for what is new, and the
// user scrolls back through it — and past it, a page at a time, with the
// protocol's backward paging (a "sync" with "before", docs/protocol.md).
//
// At rest each record is sealed with AES-256-GCM under a key this device
// made non-extractable and keeps in the same database (a CryptoKey is
// structured-cloneable: IndexedDB holds the key object, and no script —
// this one included — can read its bytes out). The record's conversation
// and seq are in the clear (they are its key, and the server knows them
// too); the content, the sender and the time are in the ciphertext, bound
// to (conversation, seq) as associated data so that records cannot be
// swapped. Logging out deletes the whole database.
//
// The records of a conversation are one unbroken run of seqs: messages
// are saved as they are shown (in order from the highest stored seq up)
// and pages as they come (each ending right below the lowest one held).

import * as actions from "./actions.js";

const PAGE = 50;        // messages per page asked of the platform, and per resume
const LOAD = 100;       // messages per conversation rendered from the store at start
const PAGE_WAIT = 10000;

export { PAGE };

// stats counts what the platform sent this page since it loaded: frames
// by type, and stored messages carried in any of them (message, batch,
// resumed). Tests read it as window.agentchatStats: a start that renders
// from the store downloads no message again.
export const stats = { frames: {}, messages: 0 };
window.agentchatStats = stats;

export function noteFrame(f) {
  stats.frames[f.type] = (stats.frames[f.type] || 0) + 1;
  if (f.type === "message") stats.messages++;
  if (f.type === "batch") stats.messages += (f.messages || []).length;
  if (f.type === "resumed") for (const b of f.batches || []) stats.messages += (b.messages || []).length;
}

let H = null;  // {db, key, name, app, writes}
let pageN = 0;
const pages = new Map(); // page request id → {conv, jump}

const dbName = (userId) => "agentchat-history:" + userId;
const enc = new TextEncoder();
const dec = new TextDecoder();
const ad = (conv, seq) => enc.encode(conv + "/" + seq);
const range = (conv, below = Infinity) => IDBKeyRange.bound([conv, 0], [conv, below], false, true);

function req(r) {
  return new Promise((resolve, reject) => { r.onsuccess = () => resolve(r.result); r.onerror = () => reject(r.error); });
}

function openDB(name) {
  const r = indexedDB.open(name, 1);
  r.onupgradeneeded = () => {
    r.result.createObjectStore("meta");
    r.result.createObjectStore("messages"); // key [conversation, seq] → {iv, ct}
  };
  return req(r);
}

// start opens the user's store (making its key the first time) and puts
// the newest messages of every conversation the app knows in place: shown,
// and the point a resume starts from. app is what this module may use of
// app.js: {convs, conv, send, open(c, f) → shown message, onMessage,
// render, renderConversations, current()}.
export async function start(userId, app) {
  const db = await openDB(dbName(userId));
  let key = await req(db.transaction("meta").objectStore("meta").get("key"));
  if (!key) {
    key = await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
    await req(db.transaction("meta", "readwrite").objectStore("meta").put(key, "key"));
  }
  H = { db, key, name: dbName(userId), app, writes: Promise.resolve() };
  for (const c of app.convs.values()) {
    const ms = await read(c.id, Infinity, LOAD);
    if (!ms.length) continue;
    c.msgs = ms.concat(c.msgs.filter((m) => !m.seq));
    c.last = ms[ms.length - 1].seq;
    c.seen = Math.max(c.seen, c.last);
    for (const m of ms) {
      if (m.mine) c.own.set(m.seq, m);
      if (m.at && m.at > c.at) c.at = m.at;
    }
  }
  app.renderConversations();
  const ol = document.getElementById("messages");
  ol.onscroll = () => {
    const id = app.current();
    if (id && ol.scrollTop < 40) older(app.conv(id));
  };
  // A conversation whose shown messages do not fill the view cannot
  // scroll: wheeling up at the top asks for more all the same.
  ol.addEventListener("wheel", (ev) => {
    const id = app.current();
    if (id && ev.deltaY < 0 && ol.scrollTop < 40) older(app.conv(id));
  }, { passive: true });
}

// read returns up to n stored messages of conv below seq `below`, the
// newest of them, in seq order.
async function read(conv, below, n) {
  const recs = [];
  await new Promise((resolve, reject) => {
    const cur = H.db.transaction("messages").objectStore("messages").openCursor(range(conv, below), "prev");
    cur.onerror = () => reject(cur.error);
    cur.onsuccess = () => {
      const x = cur.result;
      if (!x || recs.length >= n) return resolve();
      recs.push({ seq: x.key[1], rec: x.value });
      x.continue();
    };
  });
  const out = [];
  for (const { seq, rec } of recs.reverse()) out.push(await unseal(conv, seq, rec));
  return out;
}

async function seal(conv, m) {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ct = await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: ad(conv, m.seq) }, H.key, enc.encode(JSON.stringify(m)));
  return { iv, ct };
}

async function unseal(conv, seq, rec) {
  try {
    const plain = await crypto.subtle.decrypt({ name: "AES-GCM", iv: rec.iv, additionalData: ad(conv, seq) }, H.key, rec.ct);
    return JSON.parse(dec.decode(plain));
  } catch {
    return { seq, notice: "🔒 this stored message could not be read" };
  }
}

// save keeps one shown message (with a seq) in the store, after those
// saved before it.
export function save(conv, m) {
  if (!H || !m.seq) return;
  const db = H.db;
  H.writes = H.writes.then(async () => {
    const rec = await seal(conv, m);
    await req(db.transaction("messages", "readwrite").objectStore("messages").put(rec, [conv, m.seq]));
  }).catch((err) => console.warn("history: not saved", err));
}

// jumped: a conversation this device has nothing of yet, whose history is
// longer than a page, starts from its newest page rather than from seq 1
// (older pages come when the user scrolls back). It is called with each
// batch of a sync or a resume; true means the batch's messages (the
// oldest ones) are dropped and the newest page was asked for instead.
export function jumped(c, f) {
  if (!H || c.last !== 0 || c.noJump || c.msgs.some((m) => m.seq) || !f.more || !(f.lastSeq > 0)) return false;
  c.noJump = true; // once: if the page does not come, sync forward as before
  c.syncing = true;
  ask(c, f.lastSeq + 1, true);
  return true;
}

function ask(c, before, jump) {
  const id = "page:" + ++pageN;
  pages.set(id, { conv: c.id, jump });
  c.paging = true;
  H.app.send({ type: "sync", id, conversation: c.id, after: 0, before, limit: PAGE });
  setTimeout(() => { if (pages.has(id)) pageFailed(id); }, PAGE_WAIT);
}

function pageFailed(id) {
  const p = pages.get(id);
  pages.delete(id);
  const c = H.app.convs.get(p.conv);
  if (!c) return;
  c.paging = false;
  if (p.jump) { c.syncing = false; H.app.syncConv(c); }
}

export const isPage = (f) => pages.has(f.id);

// pageRefused takes an error frame answering a page request.
export function pageRefused(f) {
  if (!f.id || !pages.has(f.id)) return false;
  pageFailed(f.id);
  return true;
}

// onPage takes a page: the newest one of a conversation new to this
// device (into the order, as if it had been synced from there), or an
// older one the user scrolled back to (above what is shown, saved).
export async function onPage(f) {
  const p = pages.get(f.id);
  pages.delete(f.id);
  const c = H.app.convs.get(p.conv);
  if (!c) return;
  c.paging = false;
  const msgs = (f.messages || []).map((m) => ({ ...m, conversation: c.id }));
  if (p.jump) {
    c.syncing = false;
    if (msgs.length && c.last === 0) c.last = msgs[0].seq - 1;
    for (const m of msgs) await H.app.onMessage(m);
    return;
  }
  const floor = lowest(c);
  const shown = [];
  for (const m of msgs) {
    if (floor && m.seq >= floor) continue;
    const x = await H.app.open(c, m);
    save(c.id, x);
    shown.push(x);
  }
  prepend(c, shown);
}

const lowest = (c) => c.msgs.find((m) => m.seq)?.seq || 0;

// older shows the page before the oldest message shown: from the store if
// it has it, else from the platform.
export async function older(c) {
  if (!H || c.paging) return;
  const floor = lowest(c);
  if (floor <= 1) return; // the conversation's first message is shown (or none is)
  c.paging = true;
  const ms = await read(c.id, floor, PAGE);
  if (ms.length && ms[ms.length - 1].seq === floor - 1) {
    c.paging = false;
    prepend(c, ms);
    return;
  }
  ask(c, floor, false);
}

// prepend puts older messages above the shown ones, keeping what the user
// looks at where it is.
function prepend(c, ms) {
  if (!ms.length) return;
  c.msgs = ms.concat(c.msgs);
  if (H.app.current() !== c.id) return;
  const ol = document.getElementById("messages");
  const fromBottom = ol.scrollHeight - ol.scrollTop;
  H.app.render();
  ol.scrollTop = ol.scrollHeight - fromBottom;
}

// search opens every stored message of this device and returns those
// whose text or file name holds query (case-insensitive), newest first,
// at most `most` — each as it reads now (actions.derive over its
// conversation's run, as it is shown: by its latest edit; one deleted for
// everyone or for me is not found). It runs here only: the platform never
// sees a query.
export async function search(query, most = 50) {
  if (!H || !query) return [];
  const q = query.toLocaleLowerCase();
  const st = H.db.transaction("messages").objectStore("messages");
  const [recs, keys] = await Promise.all([req(st.getAll()), req(st.getAllKeys())]);
  const convs = new Map(); // in key order: by conversation, then seq
  for (let i = 0; i < recs.length; i++) {
    const [conv, seq] = keys[i];
    if (!convs.has(conv)) convs.set(conv, { id: conv, msgs: [] });
    convs.get(conv).msgs.push(await unseal(conv, seq, recs[i]));
  }
  const hits = [];
  for (const c of convs.values()) {
    for (const m of c.msgs) {
      if (!m.content || actions.uncounted(c, m) || actions.derive(c).state.get(m.seq)?.deleted) continue;
      const text = [actions.body(c, m) ?? m.content.text, m.content.media?.name].filter(Boolean).join(" ");
      if (text.toLocaleLowerCase().includes(q)) hits.push({ conv: c.id, seq: m.seq, text, sender: m.sender, at: m.at });
    }
  }
  return hits.sort((a, b) => (b.at > a.at) - (b.at < a.at)).slice(0, most);
}

// wipe deletes this device's local history (logging out, revoked).
export async function wipe() {
  if (!H) return;
  const name = H.name;
  await H.writes;
  H.db.close();
  H = null;
  pages.clear();
  await new Promise((resolve) => {
    const r = indexedDB.deleteDatabase(name);
    r.onsuccess = r.onerror = r.onblocked = () => resolve();
  });
}

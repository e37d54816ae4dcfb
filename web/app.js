// The web client: accounts over HTTP, one WebSocket to the connector that
// served this page (docs/protocol.md), and every message sealed and opened
// here (e2ee.js) — the server only ever sees envelopes. State is the
// device and its non-extractable key (IndexedDB) and, per conversation, the
// messages shown in seq order — kept on this device, sealed, by history.js
// (rendered from there at start, paged back on scrolling, searched by
// search.js).
import * as e2ee from "./e2ee.js";
import * as ed25519 from "./ed25519.js";
import * as actions from "./actions.js";
import * as history from "./history.js";
import * as search from "./search.js";
import * as presence from "./presence.js";
import * as lifecycle from "./lifecycle.js";
import * as groups from "./groups.js";
import * as safety from "./safety.js";
import * as push from "./push.js";
import * as groupkeys from "./groupkeys.js";

const $ = (id) => document.getElementById(id);
const S = {
  accountsURL: "",
  user: null,       // {userId, deviceId, username}
  tokens: null,     // {accessToken, refreshToken}
  identity: null,   // e2ee identity of this device
  signing: null,    // this device's Ed25519 key: {privateKey (non-extractable), publicRaw}
  signingKeys: new Map(), // conversation → {at, keys: Map(device → signing key raw)}, from its directory
  ws: null,
  backoff: 500,
  stopped: false,   // revoked or replaced: no more reconnects
  moving: false,    // a draining connector asked us to reconnect: no backoff
  resumes: 0,       // resume requests sent, for their ids
  resumeID: "",     // the resume whose answer is awaited
  convs: new Map(), // id → conversation state
  names: new Map(), // user id → display name
  current: null,
  sends: new Map(), // client message id → {conv, text, content?, media?, attempts}
  mediaWaits: new Map(), // media id → media requests awaiting media's answer
  transfers: new Map(),  // media id → {dir, phase, loaded, total, url?, error?}
  players: new Map(),    // media id → its <audio>, kept across redraws so playing goes on
  inbox: Promise.resolve(),
};

// ---------------------------------------------------------------- accounts

async function api(method, path, body, retried) {
  const headers = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (S.tokens) headers.Authorization = "Bearer " + S.tokens.accessToken;
  const r = await fetch(S.accountsURL + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (r.status === 401 && S.tokens && !retried) {
    await refresh();
    return api(method, path, body, true);
  }
  const text = await r.text();
  const data = text ? JSON.parse(text) : null;
  if (!r.ok) throw new Error(data?.detail || data?.title || `HTTP ${r.status}`);
  return data;
}

async function refresh() {
  const s = await fetch(S.accountsURL + "/v1/token/refresh", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ refreshToken: S.tokens.refreshToken }),
  });
  if (!s.ok) { logout("session expired: log in again"); throw new Error("session expired"); }
  setSession(await s.json());
}

let refreshTimer;
function setSession(s) {
  S.tokens = { accessToken: s.accessToken, refreshToken: s.refreshToken };
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => refresh().catch(() => {}), Math.max(30, (s.expiresIn || 900) - 60) * 1000);
}

// devices is this browser's device per username in IndexedDB: {deviceId,
// privateKey (a non-extractable CryptoKey), publicRaw, signing: {privateKey
// (non-extractable), publicRaw}}.
function devices(op, username, value) {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open("agentchat", 1);
    req.onupgradeneeded = () => req.result.createObjectStore("devices");
    req.onerror = () => reject(req.error);
    req.onsuccess = () => {
      const store = req.result.transaction("devices", op === "get" ? "readonly" : "readwrite").objectStore("devices");
      const q = op === "get" ? store.get(username) : op === "put" ? store.put(value, username) : store.delete(username);
      q.onsuccess = () => resolve(q.result);
      q.onerror = () => reject(q.error);
    };
  });
}

async function login(username, password, signup) {
  if (signup) await api("POST", "/v1/signup", { username, password });
  const saved = await devices("get", username);
  let identity, body;
  if (saved) {
    identity = { privateKey: saved.privateKey, publicRaw: saved.publicRaw };
    body = { username, password, deviceId: saved.deviceId };
  } else {
    identity = await e2ee.generateIdentity();
    body = { username, password, publicKey: e2ee.b64(identity.publicRaw), deviceName: "browser" };
  }
  let s;
  try {
    s = await api("POST", "/v1/login", body);
  } catch (err) {
    if (!saved || !/revoked|not found|unknown/i.test(err.message)) throw err;
    await devices("delete", username); // revoked or unknown: register anew
    return login(username, password, false);
  }
  // The signing key (docs/e2ee.md, "Signed messages"): made with the
  // device (or now, for a device from before signing) and registered after
  // login, when the user id the binding names is known; registering the
  // same key again is harmless, so every login makes sure of it.
  const signing = saved?.signing ?? await ed25519.generateSigningKey();
  await devices("put", username, { deviceId: s.deviceId, privateKey: identity.privateKey, publicRaw: identity.publicRaw, signing });
  S.identity = identity;
  S.signing = signing;
  await groupkeys.setDevice(s.deviceId, identity);
  S.user = { userId: s.userId, deviceId: s.deviceId, username };
  S.names.set(s.userId, "you");
  setSession(s);
  try {
    await api("PUT", `/v1/devices/${encodeURIComponent(s.deviceId)}/signing-key`, {
      signingKey: e2ee.b64(signing.publicRaw),
      binding: e2ee.b64(await ed25519.signBinding(signing.privateKey, s.userId, identity.publicRaw)),
    });
  } catch (err) {
    console.warn("signing key not registered: this device's messages show as unverified", err); // the next login tries again
  }
}

// senderVerified checks a message's signature against the sender device's
// signing key in the conversation's directory (fetched again when it does
// not list the device, at most every 10 s, so made-up devices cannot make
// us ask for each message).
async function senderVerified(c, f) {
  let d = S.signingKeys.get(c.id);
  if (!d || (!d.keys.has(f.senderDevice) && Date.now() - d.at > 10000)) {
    try {
      noteSigningKeys(c.id, (await api("GET", `/v1/conversations/${encodeURIComponent(c.id)}/devices`)).devices);
    } catch { /* unverified, not unreadable */ }
    d = S.signingKeys.get(c.id);
  }
  return ed25519.verifyEnvelope(f.envelope, c.id, f.senderDevice, d?.keys.get(f.senderDevice));
}

function noteSigningKeys(conversation, devices) {
  const keys = new Map();
  for (const d of devices) if (d.signingKey) keys.set(d.deviceId, e2ee.unb64(d.signingKey));
  S.signingKeys.set(conversation, { at: Date.now(), keys });
  safety.observe(devices); // "X's security code changed" (safety.js)
}

// logout ends the session; wipe (the user logged out, or the device was
// revoked) also deletes this device's local history, and starts afresh.
async function logout(why, wipe) {
  S.stopped = true;
  S.ws?.close();
  if (wipe) {
    if (S.user) await push.forget(S.user.deviceId);
    await history.wipe();
    location.reload();
    return;
  }
  $("app").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = why || "";
}

async function name(userId) {
  if (!S.names.has(userId)) {
    S.names.set(userId, userId);
    try {
      const u = await api("GET", "/v1/users/" + encodeURIComponent(userId));
      S.names.set(userId, u.name || u.username || userId);
      renderConversations();
      if (S.current) renderMessages();
    } catch { /* keep the id */ }
  }
  return S.names.get(userId);
}

// ---------------------------------------------------------------- conversations

function conv(id) {
  let c = S.convs.get(id);
  if (!c) {
    c = { id, title: id, kind: "", members: [], rev: 0, last: 0, seen: 0, msgs: [], pending: new Map(),
      own: new Map(), peerDelivered: 0, peerRead: 0, read: 0, at: "", partials: new Map(), ended: new Set(),
      syncing: false, gapTimer: null, receipts: true, typing: new Map() };
    S.convs.set(id, c);
  }
  return c;
}

async function loadConversations() {
  const { conversations } = await api("GET", "/v1/conversations");
  for (const x of conversations) {
    describe(conv(x.conversationId), { kind: x.kind, members: x.members || [], admins: x.admins || [], title: x.title || "", at: x.updatedAt });
  }
  renderConversations();
}

// describe sets what names a conversation and who is in it: from accounts'
// list, a conversation frame or a resume answer (docs/protocol.md). A
// frame's rev is kept; an older one changes nothing.
function describe(c, d) {
  if (d.rev && d.rev < c.rev) return;
  if (d.rev) c.rev = d.rev;
  c.kind = d.kind;
  c.members = d.members || [];
  c.title = d.title || "";
  if (d.admins !== undefined) c.admins = d.admins || [];
  if (d.at && !c.at) c.at = d.at;
  for (const m of c.members) name(m);
}

// onConversation: a conversation was started with us, we were added to a
// group, or its members changed (docs/protocol.md, "conversation"). One we
// are not in any more leaves the list; a new one is synced from its start.
function onConversation(f) {
  groupkeys.rotate(f.conversation); // members changed: the next group message starts a new sender key
  const known = S.convs.has(f.conversation);
  if (!(f.members || []).includes(S.user.userId)) {
    if (!known) return;
    S.convs.delete(f.conversation);
    if (S.current === f.conversation) { S.current = null; renderMessages(); }
    renderConversations();
    return;
  }
  const c = conv(f.conversation);
  describe(c, { kind: f.kind, members: f.members, admins: f.admins || [], title: f.title, rev: f.rev, at: new Date().toISOString() });
  if (!known) syncConv(c);
  renderConversations();
  if (S.current === c.id) renderMessages();
}

function titleOf(c) {
  if (c.title) return c.title;
  const others = c.members.filter((m) => m !== S.user.userId);
  return others.map((m) => S.names.get(m) || m).join(", ") || c.id;
}

async function startChat(input) {
  const names = input.split(",").map((s) => s.trim()).filter(Boolean);
  const ids = [];
  for (const n of names) {
    try {
      ids.push((await api("GET", "/v1/users?username=" + encodeURIComponent(n))).userId);
    } catch {
      ids.push(n); // an agent or user id
    }
  }
  const kind = ids.length === 1 ? "direct" : "group";
  const x = await api("POST", "/v1/conversations", { kind, members: [S.user.userId, ...ids], title: kind === "group" ? names.join(", ") : undefined });
  await loadConversations();
  openConversation(x.conversationId);
  syncConv(conv(x.conversationId));
}

function openConversation(id) {
  S.current = id;
  const c = conv(id);
  $("composer").disabled = $("send").disabled = $("attach").disabled = $("record").disabled = false;
  $("composer").focus();
  renderConversations();
  renderMessages();
  ackRead(c);
}

// ---------------------------------------------------------------- socket

function connect() {
  if (S.stopped) return;
  const url = location.origin.replace(/^http/, "ws") + "/ws";
  const ws = new WebSocket(url, ["agentchat.v1", "bearer." + S.tokens.accessToken]);
  S.ws = ws;
  status("connecting…");
  // Frames are handled one at a time, in order: opening a message is
  // asynchronous, and the order of a conversation must not depend on it.
  ws.onmessage = (ev) => { S.inbox = S.inbox.then(() => onFrame(JSON.parse(ev.data))).catch((err) => console.error(err)); };
  ws.onclose = (ev) => {
    if (S.ws !== ws) return;
    S.ws = null;
    for (const c of S.convs.values()) c.syncing = false;
    if (ev.code === 4003 || ev.code === 4004 || ev.code === 4009) {
      S.stopped = true;
      status({ 4003: "this device was revoked", 4004: "this account is suspended", 4009: "opened elsewhere" }[ev.code]);
      if (ev.code === 4003) { devices("delete", S.user.username); history.wipe(); }
      return;
    }
    // Moving off a draining connector (its reconnect frame): at once,
    // with a little jitter; anything else backs off.
    const wait = S.moving ? Math.random() * 250 : S.backoff * (0.5 + Math.random());
    if (!S.moving) S.backoff = Math.min(S.backoff * 2, 30000);
    S.moving = false;
    status("offline — reconnecting");
    setTimeout(async () => {
      if (ev.code === 4001 || ev.code === 1006) await refresh().catch(() => {});
      connect();
    }, wait);
  };
}

function status(s) { $("status").textContent = s; }

function send(frame) {
  if (S.ws?.readyState === WebSocket.OPEN) S.ws.send(JSON.stringify(frame));
}

async function onFrame(f) {
  history.noteFrame(f);
  switch (f.type) {
    case "hello":
      S.backoff = 500;
      status("online");
      resume("");
      presence.request(send);
      for (const [id, s] of S.sends) if (!s.seq) sendEnvelope(id, s);
      break;
    case "presence": presence.onFrame(f); break;
    case "resumed": await onResumed(f); break;
    case "conversation": onConversation(f); break;
    case "message": await onMessage(f); break;
    case "batch": if (history.isPage(f)) await history.onPage(f); else await onBatch(f); break;
    case "stored": await onStored(f); break;
    case "receipt": onReceipt(f); break;
    case "typing": onTyping(f); break;
    case "agent": await onAgent(f); break;
    case "media": onMedia(f); break;
    case "error": onError(f); break;
    case "resync": resume(""); break;
    case "reconnect": {
      const ws = S.ws; // the socket keeps serving until we move
      setTimeout(() => { if (S.ws === ws) { S.moving = true; ws.close(); } }, f.afterMs || 0);
      break;
    }
  }
}

// resume asks, in one frame, for what was missed in every conversation
// (docs/protocol.md, "Reconnect and resume"): the last seq shown of each
// one known, a page of 100 at most in id order after from. The answer
// brings conversations we did not know too; a refusal, or no answer
// within 10 s, falls back to one sync per conversation.
function resume(from) {
  const ids = [...S.convs.keys()].filter((id) => id > from).sort().slice(0, 100);
  const id = "resume:" + ++S.resumes;
  S.resumeID = id;
  for (const x of ids) { const c = conv(x); c.syncing = true; c.receipts = true; }
  send({ type: "resume", id, positions: ids.map((x) => ({ conversation: x, seq: conv(x).last })), from: from || undefined,
    limit: history.PAGE, receipts: true });
  setTimeout(() => { if (S.resumeID === id) resumeFailed(); }, 10000);
}

function resumeFailed() {
  S.resumeID = "";
  for (const c of S.convs.values()) { c.syncing = false; c.receipts = true; syncConv(c); }
}

async function onResumed(f) {
  const current = f.id === S.resumeID;
  let fresh = false;
  for (const b of f.batches || []) {
    if (!S.convs.has(b.conversation) && b.kind) describe(conv(b.conversation), b); // named in the answer
    fresh = fresh || !S.convs.has(b.conversation);
    await onBatch(b);
  }
  for (const id of f.gone || []) S.convs.delete(id);
  if (fresh) loadConversations().catch(() => {}); // titles and members of the new ones
  if (f.gone?.length) { if (f.gone.includes(S.current)) S.current = null; renderConversations(); }
  if (!current) return;
  S.resumeID = "";
  for (const c of S.convs.values()) if (c.syncing && !(f.batches || []).some((b) => b.conversation === c.id) && (!f.next || c.id <= f.next)) { c.syncing = false; syncConv(c); }
  if (f.next) resume(f.next);
}

// syncConv asks for what follows the last message shown: just the first
// hole when one is known (docs/protocol.md), with the members' cursors
// after a reconnect.
function syncConv(c) {
  if (c.syncing) return;
  let limit = 0;
  if (c.pending.size) limit = Math.min(...c.pending.keys()) - c.last - 1;
  else if (c.seen > c.last) limit = c.seen - c.last;
  c.syncing = true;
  send({ type: "sync", conversation: c.id, after: c.last, limit: limit > 0 && limit < 100 ? limit : undefined, receipts: c.receipts || undefined });
  setTimeout(() => { c.syncing = false; }, 10000);
}

function gap(c) { return c.pending.size > 0 || c.seen > c.last; }

function watchGap(c) {
  clearTimeout(c.gapTimer);
  if (gap(c)) c.gapTimer = setTimeout(() => gap(c) && syncConv(c), 2000); // deliveries may pass each other
}

async function onMessage(f) {
  // the entry of our own removal, after its conversation frame took the group off the list
  if (f.system && !S.convs.has(f.conversation) && f.system.user === S.user.userId) return;
  const c = conv(f.conversation);
  c.seen = Math.max(c.seen, f.seq);
  if (f.seq <= c.last || c.pending.has(f.seq)) return; // a duplicate
  c.pending.set(f.seq, f);
  while (c.pending.has(c.last + 1)) {
    const m = c.pending.get(c.last + 1);
    c.pending.delete(c.last + 1);
    c.last++;
    await show(c, m);
  }
  watchGap(c);
}

// OWN carries the content of this device's own send on the message frame
// onStored makes for it. A Symbol, so that no frame from the platform (it
// is JSON) can carry it: plaintext from the wire is never taken as this
// device's own, verified content.
const OWN = Symbol("own");

// openMessage turns a stored message frame into a shown message: opened
// and its signature checked here. A sender key distribution (groups,
// docs/e2ee.md "Sender keys") is kept by groupkeys.js and becomes a
// message that is never shown (actions.isAction), its key left out.
async function openMessage(c, f) {
  const m = { seq: f.seq, id: f.id, sender: f.sender, device: f.senderDevice, at: f.storedAt, mine: f.senderDevice === S.user.deviceId };
  if (f.system) { // a membership entry: nothing to open (groups.js)
    m.system = f.system;
    for (const u of [f.system.by, f.system.user, f.system.promoted]) if (u) name(u);
    return m;
  }
  const own = f[OWN];
  if (groupkeys.isDistribution(f)) {
    if (!own) await groupkeys.take(c.id, f);
    return { ...m, content: { text: "", senderKey: {} }, verified: true };
  }
  try {
    m.content = own ?? await groupkeys.open(c.id, f);
    m.verified = !!own || await senderVerified(c, f); // own: this device sealed it
  } catch (err) {
    m.notice = "🔒 this message could not be decrypted on this device (" + err.message + ")";
  }
  return m;
}

async function show(c, f) {
  const m = await openMessage(c, f);
  history.save(c.id, m);
  if (m.mine) c.own.set(m.seq, m);
  // An agent's reply replaces its partial answer, and ends it: partials
  // of it that come later (replayed after a resume, late) are dropped.
  if (!m.mine && m.content?.replyTo) endAnswer(c, answerKey(f.sender, m.content.replyTo));
  else {
    for (const [k, p] of c.partials) if (p.agent === f.sender) c.partials.delete(k);
    lifecycle.endAgent(c, f.sender);
  }
  c.msgs.push(m);
  name(f.sender);
  if (!m.mine) {
    // Acks are cumulative: one per burst (a sync batch) is enough.
    clearTimeout(c.ackTimer);
    c.ackTimer = setTimeout(() => send({ type: "delivered", conversation: c.id, seq: c.last }), 300);
    if (S.current === c.id && document.hasFocus()) ackRead(c);
  }
  if (m.at && m.at > c.at) c.at = m.at;
  if (S.current === c.id) renderMessages();
  renderConversations();
}

// ackRead says everything up to the last message shown was read: once per
// burst, since acks are cumulative.
function ackRead(c) {
  clearTimeout(c.readTimer);
  c.readTimer = setTimeout(() => {
    if (c.last <= 0) return;
    send({ type: "read", conversation: c.id, seq: c.last });
    if (c.last > c.read) { c.read = c.last; renderConversations(); }
  }, 300);
}

// unread counts the messages of others (not those we sent from another
// device) after our own read cursor — the member's, moved by any of our
// devices — so every device shows the same.
function unread(c) {
  let n = 0;
  for (let i = c.msgs.length - 1; i >= 0 && !(c.msgs[i].seq <= c.read); i--) if (c.msgs[i].seq && !c.msgs[i].system && c.msgs[i].sender !== S.user.userId && !actions.uncounted(c, c.msgs[i])) n++;
  return n;
}

// preview is the last message of a conversation as the list shows it,
// decrypted here like the message itself.
function preview(c) {
  const m = c.msgs.findLast((x) => x.seq && !actions.isAction(x) && !actions.hidden(c.id, x.seq)); // edits, reactions: not previews
  if (!m) return "";
  if (m.system) return groups.entryText(m.system, S.user.userId, (u) => S.names.get(u));
  const body = actions.body(c, m) ?? (m.content ? (m.content.text || (m.content.media ? "📎 " + (m.content.media.name || "file") : "")) : "🔒");
  const who = m.sender === S.user.userId ? "You" : c.kind === "group" ? S.names.get(m.sender) || m.sender : "";
  return who ? `${who}: ${body}` : body;
}

async function onBatch(f) {
  const c = conv(f.conversation);
  c.syncing = false;
  c.seen = Math.max(c.seen, f.lastSeq || 0);
  if (!history.jumped(c, f)) for (const m of f.messages || []) await onMessage({ ...m, conversation: c.id });
  if (!f.more) c.receipts = false;
  for (const cur of f.cursors || []) {
    if (cur.user === S.user.userId) { c.read = Math.max(c.read, cur.read); continue; } // ours, from any of our devices
    c.peerDelivered = Math.max(c.peerDelivered, cur.delivered);
    c.peerRead = Math.max(c.peerRead, cur.read);
  }
  if (S.current === c.id) renderMessages();
  renderConversations();
  if (f.more && gap(c)) syncConv(c);
}

async function onStored(f) {
  const s = S.sends.get(f.id);
  if (!s) return;
  s.seq = f.seq;
  if (groupkeys.isDistribution(f)) { // the messages that waited for this sender key go now
    groupkeys.stored(f.conversation, f.id);
    for (const [id, w] of S.sends) if (w.after === f.id && !w.seq) sendEnvelope(id, w);
  }
  // The connector does not echo a message to the device that sent it: it
  // takes its place in the order from here, its content known.
  await onMessage({ type: "message", id: f.id, conversation: f.conversation, seq: f.seq, sender: S.user.userId,
    senderDevice: S.user.deviceId, storedAt: f.storedAt, [OWN]: s.content || { text: s.text } });
}

function onReceipt(f) {
  if (!S.convs.has(f.conversation)) return;
  const c = conv(f.conversation);
  if (f.sender === S.user.userId) { // my other devices: read there is read here
    if (f.kind === "read" && f.seq > c.read) { c.read = f.seq; renderConversations(); }
    return;
  }
  if (f.kind === "read") c.peerRead = Math.max(c.peerRead, f.seq);
  c.peerDelivered = Math.max(c.peerDelivered, f.seq);
  if (S.current === c.id) renderMessages();
}

function onTyping(f) {
  if (f.sender === S.user.userId) return;
  const c = conv(f.conversation);
  if (f.state === "paused") c.typing.delete(f.sender);
  else c.typing.set(f.sender, { state: f.state, until: Date.now() + 6000 });
  name(f.sender);
  renderTyping();
}

// An agent's answer streams as partials, index 0, 1, … each the text since
// the previous one; after a reload or a reconnect the platform replays
// what was streamed so far (docs/protocol.md, "Answers in progress"), so
// the same index may come twice and indexes may pass each other: chunks
// are kept by index and only the unbroken run from 0 is shown.
const answerKey = (agent, replyTo) => `${agent}/${replyTo}`;

function endAnswer(c, key) {
  c.partials.delete(key);
  lifecycle.endStatus(c, key);
  c.ended.add(key);
  if (c.ended.size > 64) c.ended.delete(c.ended.values().next().value); // the oldest
}

async function onAgent(f) {
  const c = conv(f.conversation);
  const agent = f.agent || f.sender;
  const key = answerKey(agent, f.replyTo);
  if (f.kind === "partial") {
    if (c.ended.has(key)) return;
    const p = c.partials.get(key) || { agent, replyTo: f.replyTo, chunks: [] };
    if (p.chunks[f.index || 0] !== undefined) return; // had it
    let text = "";
    try {
      text = (await e2ee.open(f.envelope, e2ee.partialAD(c.id, f.senderDevice, f.replyTo, f.index || 0), S.user.deviceId, S.identity)).text || "";
    } catch { /* not sealed for this device: it still takes its place */ }
    if (c.ended.has(key)) return; // the reply came while it was opened
    p.chunks[f.index || 0] = text;
    c.partials.set(key, p);
  } else if (f.kind === "status") {
    if (!lifecycle.applyStatus(c, key, f)) return;
  } else if (f.kind === "error") {
    endAnswer(c, key);
    c.msgs.push({ notice: `${S.names.get(agent) || agent} could not answer: ${f.message || f.code}`, sender: agent });
  } else if (f.kind === "done") {
    endAnswer(c, key);
  }
  name(agent);
  if (S.current === c.id) renderMessages();
}

// streamed is the text of an answer so far: its chunks from index 0 up
// to the first one missing.
function streamed(p) {
  let text = "";
  for (let i = 0; i < p.chunks.length && p.chunks[i] !== undefined; i++) text += p.chunks[i];
  return text;
}

function onError(f) {
  if (f.id && f.id === S.resumeID) { resumeFailed(); return; }
  if (history.pageRefused(f)) return;
  if (f.id && S.mediaWaits.has(f.id)) { mediaRefused(f); return; }
  const s = f.id && S.sends.get(f.id);
  if (s && f.code === "missing_keys" && s.attempts < 5) {
    sealAndSend(f.id, s); // a device joined: seal again for the current directory
    return;
  }
  if (s && f.code === "rate_limited" && f.afterMs) {
    // Over the account's send rate (all its devices): nothing was taken; send it again then.
    setTimeout(() => { if (!s.seq) sendEnvelope(f.id, s); }, f.afterMs);
    return;
  }
  if (s && !["rate_limited", "unavailable"].includes(f.code)) s.failed = f.message || f.code;
  if (f.code === "not_member" && !f.id && f.conversation) S.convs.delete(f.conversation);
  $("chat-error").textContent = f.message || f.code;
  renderMessages();
}

// ---------------------------------------------------------------- sending

async function sealAndSend(id, s) {
  s.attempts++;
  const { devices } = await api("GET", `/v1/conversations/${encodeURIComponent(s.conv)}/devices`);
  const recipients = devices.map((d) => ({ device: d.deviceId, publicKey: e2ee.unb64(d.publicKey) }));
  if (!recipients.some((r) => r.device === S.user.deviceId)) recipients.push({ device: S.user.deviceId, publicKey: S.identity.publicRaw });
  noteSigningKeys(s.conv, devices);
  const content = s.content || { text: s.text };
  let envelope;
  if (!s.pairwise && groupkeys.isGroup(devices)) {
    // A group: sealed once with this page's sender key (groupkeys.js),
    // whose distribution, when new, goes first (pairwise) and is stored
    // before this message is sent.
    for (const d of devices) { const r = recipients.find((x) => x.device === d.deviceId); if (r) r.agent = !!d.agent; }
    const g = await groupkeys.seal(s.conv, id, content, recipients, (did, dcontent) => {
      const ds = { conv: s.conv, content: dcontent, attempts: 0, pairwise: true };
      S.sends.set(did, ds);
      return sealAndSend(did, ds);
    });
    envelope = g.envelope;
    s.after = g.after;
  } else {
    envelope = await e2ee.seal(content, { conversation: s.conv, senderDevice: S.user.deviceId, clientMessageId: id }, recipients);
  }
  s.envelope = await ed25519.signEnvelope(envelope, s.conv, S.user.deviceId, S.signing.privateKey);
  sendEnvelope(id, s);
}

function sendEnvelope(id, s) {
  if (s.after && !S.sends.get(s.after)?.seq) return; // its sender key's distribution is not stored yet
  if (s.envelope) send({ type: "send", id, conversation: s.conv, envelope: s.envelope });
}

async function sendText(text, content = { text }) {
  const id = crypto.randomUUID().replaceAll("-", "");
  const s = { conv: S.current, text, content, attempts: 0 };
  S.sends.set(id, s);
  renderMessages();
  try {
    await sealAndSend(id, s);
  } catch (err) {
    s.failed = err.message;
    renderMessages();
  }
}

// ---------------------------------------------------------------- media

// Media (docs/protocol.md, "Media"): the file is sealed here under a fresh
// key (e2ee.sealMedia, the Go SDK's e2ee.SealMedia byte for byte), the
// blob goes to the media store through a presigned PUT that media hands
// out, bound to its size and SHA-256; once media has confirmed the object,
// an ordinary sealed message carries the blob's id, key and digest, the
// file's name, type and size, and for an image a small JPEG thumbnail
// made here. The bytes never pass through the connector.

const MAX_THUMBNAIL = 16 << 10; // e2ee.MaxThumbnail
const newID = () => crypto.randomUUID().replaceAll("-", "");
const mediaKind = (type) => ["image", "video", "audio"].find((k) => type.startsWith(k + "/")) || "file";

// mediaRequest writes a media request (upload, uploaded, download: its id
// is the media id) and resolves with media's answer of kind want, or
// rejects with media's refusal. It writes the request again every 3 s
// while no answer came — the socket may have been replaced — as media
// answers a repeated request the same way; after a minute it gives up.
function mediaRequest(frame, want) {
  return new Promise((resolve, reject) => {
    const w = { want, tries: 0 };
    const finish = () => {
      clearInterval(w.timer);
      const ws = (S.mediaWaits.get(frame.id) || []).filter((x) => x !== w);
      if (ws.length) S.mediaWaits.set(frame.id, ws); else S.mediaWaits.delete(frame.id);
    };
    w.resolve = (f) => { finish(); resolve(f); };
    w.reject = (err) => { finish(); reject(err); };
    S.mediaWaits.set(frame.id, [...(S.mediaWaits.get(frame.id) || []), w]);
    w.timer = setInterval(() => {
      if (++w.tries > 20) w.reject(new Error("the media service did not answer"));
      else send(frame);
    }, 3000);
    send(frame);
  });
}

function onMedia(f) {
  for (const w of S.mediaWaits.get(f.id) || []) if (w.want === f.kind) w.resolve(f);
}

function mediaRefused(f) {
  const err = new Error(f.message || f.code);
  err.code = f.code;
  for (const w of S.mediaWaits.get(f.id) || []) w.reject(err);
}

// transfer sets the state of a media id's upload or download, shown in
// its bubble; progress alone updates the bar in place.
function transfer(id, state) {
  const t = Object.assign(S.transfers.get(id) || { loaded: 0, total: 0 }, state);
  S.transfers.set(id, t);
  renderMessages();
  return t;
}

function progress(id, loaded, total) {
  const t = S.transfers.get(id);
  if (!t) return;
  t.loaded = loaded;
  if (total) t.total = total;
  for (const p of document.querySelectorAll(`progress[data-media="${id}"]`)) { p.max = t.total || 1; p.value = loaded; }
}

// storeRequest is one PUT or GET of a presigned URL, with progress. A
// refusal (S3 answers 403 to an expired URL) or a response the browser
// cannot read (an error without CORS headers) rejects with renew set: ask
// media for a fresh URL.
function storeRequest(method, url, { headers = {}, body, onprogress } = {}) {
  return new Promise((resolve, reject) => {
    const x = new XMLHttpRequest();
    x.open(method, url);
    x.responseType = "arraybuffer";
    for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() !== "content-length") x.setRequestHeader(k, v); // the browser sets it from the body
    (method === "PUT" ? x.upload : x).onprogress = (ev) => onprogress?.(ev.loaded, ev.lengthComputable ? ev.total : 0);
    x.onload = () => {
      if (x.status === 200) { resolve(new Uint8Array(x.response)); return; }
      const text = new TextDecoder().decode(x.response || new ArrayBuffer(0));
      const err = new Error(`the media store refused: ${x.status} ${(/<Message>([^<]*)/.exec(text) || [])[1] || ""}`.trim());
      err.renew = x.status === 403;
      reject(err);
    };
    x.onerror = () => { const err = new Error("the media store could not be reached"); err.renew = true; reject(err); };
    x.send(body);
  });
}

// putBlob uploads blob through an upload grant: one PUT to its url, or —
// a blob over media's multipart threshold (docs/protocol.md, "Large
// files") — one PUT per part, each consecutive slice of the part's size
// with the x-amz-checksum-sha256 of its own bytes, which S3 checks. It
// returns the parts' hex SHA-256 for the uploaded frame (none for one PUT).
// sent (kept by the caller across renewed grants) holds the digests of
// the parts already in the store: media's renewed grant is for the same
// upload, so — as the Go client's SendFile — the upload goes on from the
// part whose URL expired instead of starting over (unless the grant is
// cut into another number of parts).
async function putBlob(g, blob, onprogress, sent = { parts: 0, sums: [] }) {
  if (!g.parts?.length) {
    await storeRequest("PUT", g.url, { headers: g.headers, body: blob, onprogress });
    return [];
  }
  if (sent.parts !== g.parts.length) Object.assign(sent, { parts: g.parts.length, sums: [] });
  const done = sent.sums;
  let off = 0;
  for (const [i, p] of g.parts.entries()) {
    if (!(p.size >= 1) || off + p.size > blob.length) throw new Error("the upload's parts do not fit the file");
    if (i < done.length) { off += p.size; continue; }
    const part = blob.subarray(off, off + p.size);
    const sum = new Uint8Array(await crypto.subtle.digest("SHA-256", part));
    const base = off;
    await storeRequest("PUT", p.url, { headers: { "X-Amz-Checksum-Sha256": e2ee.b64(sum), ...g.headers }, body: part,
      onprogress: (n) => onprogress(base + n) });
    done.push(Array.from(sum, (x) => x.toString(16).padStart(2, "0")).join(""));
    off += p.size;
  }
  if (off !== blob.length) throw new Error("the upload's parts do not cover the file");
  return [...done];
}

// withFreshURL asks media for a URL and uses it; a URL that expired (or
// was refused) on the way is renewed by asking again, up to three times.
async function withFreshURL(ask, use) {
  for (let i = 1; ; i++) {
    try {
      return await use(await ask());
    } catch (err) {
      if (!err.renew || i >= 3) throw err;
    }
  }
}

// thumbnail decodes an image and draws a JPEG of at most MAX_THUMBNAIL
// bytes, smaller and coarser until it fits: {width, height, thumbnail}
// (base64, as in the content's JSON), or {} when the image cannot be read.
async function thumbnail(file) {
  let bmp;
  try {
    bmp = await createImageBitmap(file);
  } catch {
    return {};
  }
  try {
    const out = { width: bmp.width, height: bmp.height };
    for (const edge of [320, 200, 120, 64]) {
      const scale = Math.min(1, edge / Math.max(bmp.width, bmp.height));
      const canvas = new OffscreenCanvas(Math.max(1, Math.round(bmp.width * scale)), Math.max(1, Math.round(bmp.height * scale)));
      canvas.getContext("2d").drawImage(bmp, 0, 0, canvas.width, canvas.height);
      for (const quality of [0.7, 0.5, 0.3]) {
        const jpeg = new Uint8Array(await (await canvas.convertToBlob({ type: "image/jpeg", quality })).arrayBuffer());
        if (jpeg.length <= MAX_THUMBNAIL) return { ...out, thumbnail: e2ee.b64(jpeg) };
      }
    }
    return out;
  } finally {
    bmp.close();
  }
}

// sendFile seals, uploads and then sends file into the current
// conversation. Any refusal on the way (not a member, too large, the
// store refused the upload) leaves no message: the bubble says why.
async function sendFile(file) {
  const convID = S.current;
  if (!convID) return;
  const id = newID();
  const type = file.type || "application/octet-stream";
  const media = { id: "m" + newID(), type, size: file.size, name: file.name };
  const s = { conv: convID, text: "", media, attempts: 0 };
  S.sends.set(id, s);
  transfer(media.id, { dir: "up", phase: "preparing" });
  try {
    const data = new Uint8Array(await file.arrayBuffer());
    if (type.startsWith("image/")) Object.assign(media, await thumbnail(file));
    const sealed = await e2ee.sealMedia(data);
    const size = sealed.blob.length;
    transfer(media.id, { phase: "uploading", loaded: 0, total: size });
    const sent = { parts: 0, sums: [] }; // parts already in the store, across renewed URLs
    const parts = await withFreshURL(
      () => mediaRequest({ type: "upload", id: media.id, conversation: convID, size, sha256: sealed.sha256, kind: mediaKind(type) }, "upload"),
      (g) => putBlob(g, sealed.blob, (n) => progress(media.id, n), sent));
    transfer(media.id, { phase: "confirming", loaded: size });
    await mediaRequest({ type: "uploaded", id: media.id, conversation: convID, size, sha256: sealed.sha256,
      parts: parts.length ? parts.map((sha256) => ({ sha256 })) : undefined }, "stored");
    media.key = sealed.key;
    media.sha256 = sealed.sha256;
    s.content = { text: "", media };
    // The sender's own copy opens from the file itself: nothing to fetch.
    transfer(media.id, { phase: "done", url: URL.createObjectURL(file) });
    await sealAndSend(id, s);
  } catch (err) {
    s.failed = err.message;
    transfer(media.id, { phase: "failed", error: err.message });
  }
}

// download fetches media m of conversation through a fresh presigned GET,
// checks the blob's SHA-256 against the message's and decrypts it; the
// plaintext becomes an object URL on its transfer. One download per media
// id at a time; a done one is not fetched again.
function download(convID, m) {
  const t = S.transfers.get(m.id);
  if (t?.url || t?.phase === "downloading") return t.done || Promise.resolve(t);
  const cur = transfer(m.id, { dir: "down", phase: "downloading", loaded: 0, total: 0, error: "" });
  cur.done = (async () => {
    try {
      const blob = await withFreshURL(
        () => mediaRequest({ type: "download", id: m.id, conversation: convID }, "download"),
        (g) => { progress(m.id, 0, g.size); return storeRequest("GET", g.url, { onprogress: (n) => progress(m.id, n) }); });
      const data = await e2ee.openMedia(blob, m);
      return transfer(m.id, { phase: "done", url: URL.createObjectURL(new Blob([data], { type: m.type })) });
    } catch (err) {
      transfer(m.id, { phase: "failed", error: err.message });
      throw err;
    }
  })();
  return cur.done;
}

// openMedia shows an image full size, or saves a file, downloading it
// first when needed.
async function openMedia(convID, m) {
  let t;
  try {
    t = await download(convID, m);
  } catch {
    return; // the bubble says why; a tap tries again
  }
  if (m.type.startsWith("audio/")) {
    player(m, t.url).play().catch(() => {}); // the bubble shows it; a tap plays it
  } else if (m.type.startsWith("image/")) {
    $("viewer-img").src = t.url;
    $("viewer-img").alt = m.name || "photo";
    $("viewer-save").href = t.url;
    $("viewer-save").download = m.name || "photo";
    $("viewer").hidden = false;
  } else {
    const a = el("a");
    a.href = t.url;
    a.download = m.name || "file";
    a.click();
  }
}

// player is the <audio> of a voice note or another sound, one per media
// id: the list is redrawn as messages come, and the same element put back
// in the same task keeps playing.
function player(m, url) {
  let a = S.players.get(m.id);
  if (!a) {
    a = el("audio");
    a.controls = true;
    a.src = url;
    a.onclick = (ev) => ev.stopPropagation();
    S.players.set(m.id, a);
  }
  return a;
}

// Voice notes: the 🎤 button records from the microphone (MediaRecorder)
// until it is pressed again; the recording is sent as a file, like any.
let recorder = null;
async function toggleRecording() {
  if (recorder) { recorder.stop(); return; }
  if (!S.current) return;
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  } catch (err) {
    $("chat-error").textContent = "no microphone: " + err.message;
    return;
  }
  const chunks = [];
  const r = new MediaRecorder(stream);
  recorder = r;
  r.ondataavailable = (ev) => { if (ev.data.size) chunks.push(ev.data); };
  r.onstop = () => {
    recorder = null;
    for (const track of stream.getTracks()) track.stop();
    $("record").dataset.state = "idle";
    $("record").textContent = "🎤";
    const type = (r.mimeType || "audio/webm").split(";")[0];
    const blob = new Blob(chunks, { type });
    const ext = type.split("/")[1] || "webm";
    if (blob.size) sendFile(new File([blob], `voice-note-${new Date().toISOString().replace(/[:.]/g, "-")}.${ext}`, { type }));
  };
  r.start();
  $("record").dataset.state = "recording";
  $("record").textContent = "⏹";
}

function formatSize(n) {
  if (n < 1024) return n + " B";
  if (n < 1 << 20) return (n / 1024).toFixed(1) + " KB";
  return (n / (1 << 20)).toFixed(1) + " MB";
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

// mediaBox is a bubble's attachment: the thumbnail of an image (a tap
// opens it full size), else the file's name and size (a tap saves it),
// with a progress bar while it moves.
function mediaBox(m, convID) {
  const box = el("div", "media");
  box.dataset.media = m.id;
  const t = S.transfers.get(m.id);
  box.dataset.state = t?.phase || "remote";
  if (typeof m.thumbnail === "string" && BASE64.test(m.thumbnail) && String(m.type).startsWith("image/")) {
    const img = el("img", "thumb");
    img.src = "data:image/jpeg;base64," + m.thumbnail;
    img.alt = m.name || "photo";
    box.append(img);
  } else {
    const f = el("div", "file");
    f.append(el("span", "file-name", m.name || "file"), el("span", "file-size", formatSize(Number(m.size) || 0)));
    box.append(f);
  }
  if (t && ["uploading", "downloading"].includes(t.phase)) {
    const p = el("progress");
    p.dataset.media = m.id;
    p.max = t.total || 1;
    p.value = t.loaded;
    box.append(p);
  } else if (t && t.phase !== "done" && t.phase !== "failed") {
    box.append(el("div", "media-phase", t.phase + "…"));
  }
  if (t?.phase === "failed") box.append(el("div", "error", t.error));
  if (t?.url && String(m.type).startsWith("audio/")) box.append(player(m, t.url));
  if (t?.url) {
    const a = el("a", "save", "Save");
    a.href = t.url;
    a.download = m.name || "file";
    a.onclick = (ev) => ev.stopPropagation();
    box.append(a);
  }
  if (typeof m.key === "string" && typeof m.sha256 === "string") {
    box.classList.add("openable");
    box.onclick = () => openMedia(convID, m);
  }
  return box;
}

// ---------------------------------------------------------------- rendering

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function renderConversations() {
  const ul = $("conversations");
  ul.replaceChildren();
  // Most recent first: by the last message, else by the last change.
  const recent = [...S.convs.values()].sort((a, b) => (b.at > a.at) - (b.at < a.at) || (a.id > b.id) - (a.id < b.id));
  for (const c of recent) {
    const li = el("li", "conv" + (c.id === S.current ? " current" : ""));
    li.dataset.id = c.id;
    const text = el("div", "summary");
    text.append(el("span", "title", titleOf(c)), el("span", "preview", preview(c)));
    li.append(text);
    const n = unread(c);
    if (n) li.append(el("span", "unread", String(n)));
    li.onclick = () => openConversation(c.id);
    ul.append(li);
  }
}

function ticks(seq, c) {
  if (!seq) return ["sent", "🕓"];
  if (seq <= c.peerRead) return ["read", "✓✓"];
  if (seq <= c.peerDelivered) return ["delivered", "✓✓"];
  return ["stored", "✓"];
}

function renderMessages() {
  const ol = $("messages");
  ol.replaceChildren();
  const c = S.current && conv(S.current);
  groups.render();
  if (!c) return;
  $("chat-title").textContent = titleOf(c);
  presence.render(c, S.user.userId);
  const shownIds = new Set();
  for (const m of c.msgs) {
    if (m.notice && !m.seq) { ol.append(el("li", "msg " + (m.keychange ? "keychange" : "notice"), m.notice)); continue; }
    if (m.system) {
      const li = el("li", "msg system", groups.entryText(m.system, S.user.userId, (u) => S.names.get(u)));
      li.dataset.seq = m.seq;
      ol.append(li);
      continue;
    }
    shownIds.add(m.id);
    if (actions.isAction(m) || actions.hidden(c.id, m.seq)) { // shown on the message it changes (actions.js)
      const n = actions.isAction(m) && actions.notice(c, m);
      if (n) ol.append(n);
      continue;
    }
    const li = el("li", "msg " + (m.mine ? "mine" : "theirs") + (m.content && !m.verified ? " unverified" : ""));
    li.dataset.seq = m.seq;
    if (!m.mine && c.kind === "group") li.append(el("div", "from", S.names.get(m.sender) || m.sender));
    if (m.content?.media) li.append(mediaBox(m.content.media, c.id));
    if (!m.content?.media || m.content.text) li.append(el("div", "text", m.content ? m.content.text : m.notice));
    const meta = el("div", "meta", m.at ? new Date(m.at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) + " " : "");
    if (m.content && !m.verified) {
      // Not signed by the sender device's key: never shown as surely theirs.
      const u = el("span", "unverified-mark", "⚠ unverified ");
      u.title = "Not signed by the sender's device key: it may not be from " + (S.names.get(m.sender) || m.sender);
      meta.append(u);
    }
    if (m.mine) {
      const [state, mark] = ticks(m.seq, c);
      const t = el("span", "ticks", mark);
      t.dataset.state = state;
      meta.append(t);
    }
    li.append(meta);
    ol.append(actions.decorate(li, c, m));
  }
  // Own messages not yet seen come back: shown from the outbox.
  for (const [id, s] of S.sends) {
    if (s.conv !== c.id || shownIds.has(id) || actions.isAction(s)) continue;
    const li = el("li", "msg mine" + (s.failed ? " failed" : ""));
    li.dataset.id = id;
    if (s.media) li.append(mediaBox(s.media, c.id));
    else li.append(el("div", "text", s.text));
    const [state, mark] = s.failed ? ["failed", "✗ " + s.failed] : ticks(s.seq, c);
    const t = el("span", "ticks", mark);
    t.dataset.state = state;
    const meta = el("div", "meta");
    meta.append(t);
    li.append(meta);
    ol.append(li);
  }
  for (const p of c.partials.values()) {
    const text = streamed(p);
    if (!text) continue;
    const li = el("li", "msg partial", `${S.names.get(p.agent) || p.agent}: ${text}…`);
    li.dataset.agent = p.agent;
    li.dataset.replyTo = p.replyTo;
    ol.append(li);
  }
  ol.scrollTop = ol.scrollHeight;
  renderTyping();
}

function renderTyping() {
  const c = S.current && conv(S.current);
  const now = Date.now();
  const who = c ? [...c.typing].filter(([u, t]) => t.until > now && !(t.state === "thinking" && lifecycle.hasStatus(c, u))).map(([u, t]) =>
    `${S.names.get(u) || u} is ${t.state === "thinking" ? "thinking" : "typing"}…`) : [];
  $("typing").textContent = who.join(" ");
  lifecycle.render($("agent-status"), c, (u) => S.names.get(u) || u);
}
setInterval(renderTyping, 1000);

// ---------------------------------------------------------------- wiring

let typingSent = 0;
async function main() {
  const cfg = await fetch("config.json").then((r) => r.json()).catch(() => ({}));
  S.accountsURL = (cfg.accountsURL || location.origin).replace(/\/$/, "");
  const submit = async (signup) => {
    $("login-error").textContent = "";
    try {
      await login($("login-username").value.trim(), $("login-password").value, signup);
      $("login").hidden = true;
      $("app").hidden = false;
      $("me").textContent = S.user.username;
      S.stopped = false;
      await loadConversations();
      // Without a local store (IndexedDB refused) the client works as before: from the platform.
      await history.start(S.user.userId, { convs: S.convs, conv, send, open: openMessage, onMessage, syncConv,
        render: renderMessages, renderConversations, current: () => S.current }).catch((err) => console.warn("no local history", err));
      presence.init(api);
      connect();
      push.afterLogin(S.user.deviceId).catch((err) => console.warn("push", err));
    } catch (err) {
      $("login-error").textContent = err.message;
    }
  };
  push.init({ api, openConversation, hasConversation: (id) => S.convs.has(id), catchUp: (id) => { if (S.ws?.readyState === WebSocket.OPEN) syncConv(conv(id)); } });
  search.init({ titleOf: (id) => (S.convs.has(id) ? titleOf(conv(id)) : id), openConversation });
  $("logout").onclick = () => logout("", true);
  $("login-form").onsubmit = (ev) => { ev.preventDefault(); submit(false); };
  $("signup").onclick = () => submit(true);
  $("new-chat-form").onsubmit = (ev) => {
    ev.preventDefault();
    const v = $("new-chat-name").value.trim();
    if (v) startChat(v).then(() => { $("new-chat-name").value = ""; }, (err) => { $("chat-error").textContent = err.message; });
  };
  $("composer-form").onsubmit = (ev) => {
    ev.preventDefault();
    const text = $("composer").value;
    if (!text.trim() || !S.current) return;
    $("composer").value = "";
    send({ type: "typing", conversation: S.current, state: "paused" });
    sendText(text, actions.compose(text));
  };
  $("composer").oninput = () => {
    if (S.current && Date.now() - typingSent > 3000) {
      typingSent = Date.now();
      send({ type: "typing", conversation: S.current, state: "typing" });
    }
  };
  window.onfocus = () => { if (S.current) ackRead(conv(S.current)); };
  // Attachments: the attach button's file picker, or files dropped on the chat.
  $("attach").onclick = () => $("attach-input").click();
  $("record").onclick = () => toggleRecording();
  $("attach-input").onchange = () => {
    for (const f of $("attach-input").files) sendFile(f);
    $("attach-input").value = "";
  };
  const chat = document.querySelector("main");
  chat.ondragover = (ev) => { if (S.current && ev.dataTransfer?.types.includes("Files")) { ev.preventDefault(); chat.classList.add("dropping"); } };
  chat.ondragleave = () => chat.classList.remove("dropping");
  chat.ondrop = (ev) => {
    ev.preventDefault();
    chat.classList.remove("dropping");
    if (S.current) for (const f of ev.dataTransfer.files) sendFile(f);
  };
  actions.init({ send: (content) => sendText(content.text, content), render: () => { renderMessages(); renderConversations(); },
    me: () => S.user?.userId, name: (u) => (u === S.user?.userId ? "You" : S.names.get(u) || u) });
  groups.init({ S, api, conv, name, safety });
  safety.init({ S, api, render: () => { if (S.current) renderMessages(); } });
  $("viewer").onclick = (ev) => { if (ev.target !== $("viewer-save")) $("viewer").hidden = true; };
  $("login-submit").disabled = $("signup").disabled = false; // wired up: a click now logs in
  setInterval(() => { for (const c of S.convs.values()) { c.receipts = true; syncConv(c); } }, 20000); // idle sync
}

main();

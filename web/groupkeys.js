// The web client's sender keys for groups (docs/e2ee.md, "Sender keys"):
// what app.js calls to read distributions and v2 messages, and to seal a
// group message once. The primitives are web/senderkeys.js; this module
// holds the page's state: its own sender key per group (not kept across
// page loads: a new page starts a new epoch at its first group message)
// and the keys received, by conversation, sender device and epoch — kept
// in IndexedDB across page loads (the page renders old messages from its
// local history and asks only for new ones, which need those keys),
// sealed with AES-256-GCM under a non-extractable key of this device, as
// history.js keeps messages.

import * as e2ee from "./e2ee.js";
import * as senderkeys from "./senderkeys.js";

const keys = new senderkeys.Keys();
const own = new Map(); // conversation → {sk, devices (sorted ids, joined), dist (id), stored}
let me = null; // {deviceId, identity}
let db = null, dbKey = null, saveTimer = null;

// setDevice names this page's device once logged in and loads the keys
// it received before (best effort: without them, messages of those
// epochs show as undecryptable).
export async function setDevice(deviceId, identity) {
  me = { deviceId, identity };
  try { await load(deviceId); } catch (err) { console.warn("sender keys not loaded", err); }
}

// isDistribution: a message frame that carries a sender key, not a message.
export const isDistribution = (f) => senderkeys.isDistributionID(f.id);
export const isGroup = senderkeys.isGroup;

const adOf = (conversation, f) => ({ conversation, senderDevice: f.senderDevice, clientMessageId: f.id });

// take reads a distribution (a v1 message sealed for this device) and
// keeps its sender key; one that does not open is ignored (the messages
// of its epoch then show as undecryptable). app.js does not call it for
// this page's own (it holds the key).
export async function take(conversation, f) {
  if (!f.envelope) return;
  try {
    const c = await e2ee.open(f.envelope, adOf(conversation, f), me.deviceId, me.identity);
    if (c.senderKey) { keys.receive(conversation, f.senderDevice, c.senderKey); save(); }
  } catch (err) {
    console.warn("sender key distribution not readable", f.seq, err);
  }
}

// open decrypts a message frame's envelope: with the sender's sender key,
// or with this device's key.
export async function open(conversation, f) {
  // v1, or v2 with a key wrapped for this device (an agent's, sealed
  // once with no chain): this device's own key opens it.
  if (f.envelope?.v !== 2 || (f.envelope.keys || []).some((k) => k.device === me.deviceId)) {
    return e2ee.open(f.envelope, adOf(conversation, f), me.deviceId, me.identity);
  }
  const c = await keys.open(conversation, f.senderDevice, f.envelope, e2ee.adBytes(adOf(conversation, f)));
  save();
  return c;
}

// seal seals content as message id of a group whose devices are
// recipients ([{device, publicKey (raw), agent}]): once, with this page's
// sender key (wrapped for agent devices only). A new key is made when
// there is none or the devices are not the ones it was given to; then
// distribute(distributionID, content) is awaited first — the caller sends
// it pairwise. It returns {envelope, after}: after is the distribution's
// id while it is not stored (the message waits for it).
export async function seal(conversation, id, content, recipients, distribute) {
  const devices = recipients.map((r) => r.device).sort().join("\n");
  let k = own.get(conversation);
  if (!k || k.devices !== devices) {
    const sk = senderkeys.newSenderKey();
    k = { sk, devices, dist: senderkeys.distributionID(sk.epoch), stored: false };
    own.set(conversation, k);
    await distribute(k.dist, senderkeys.distribution(sk));
  }
  const ad = e2ee.adBytes({ conversation, senderDevice: me.deviceId, clientMessageId: id });
  const agents = recipients.filter((r) => r.agent);
  const envelope = await senderkeys.sealGroup(k.sk, new TextEncoder().encode(JSON.stringify(content)), ad,
    agents.length ? (mk) => e2ee.wrapFor(mk, ad, agents) : null);
  return { envelope, after: k.stored ? null : k.dist };
}

// stored: a distribution of this page's is stored: its epoch is readable.
export function stored(conversation, id) {
  const k = own.get(conversation);
  if (k?.dist === id) k.stored = true;
}

// rotate: the group's membership changed (a conversation frame): the next
// message starts a new epoch, for the devices of then.
export function rotate(conversation) { own.delete(conversation); }

// Keeping the received keys: one IndexedDB record, sealed.
function req(r) {
  return new Promise((resolve, reject) => { r.onsuccess = () => resolve(r.result); r.onerror = () => reject(r.error); });
}

async function load(deviceId) {
  const r = indexedDB.open("agentchat-senderkeys:" + deviceId, 1);
  r.onupgradeneeded = () => r.result.createObjectStore("kv");
  db = await req(r);
  const kv = () => db.transaction("kv", "readwrite").objectStore("kv");
  dbKey = await req(kv().get("key"));
  if (!dbKey) {
    dbKey = await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
    await req(kv().put(dbKey, "key"));
  }
  const rec = await req(kv().get("peers"));
  if (!rec) return;
  const plain = await crypto.subtle.decrypt({ name: "AES-GCM", iv: rec.iv }, dbKey, rec.ct);
  for (const [id, p] of JSON.parse(new TextDecoder().decode(plain))) {
    if (!keys.peers.has(id)) {
      keys.peers.set(id, { epoch: p.epoch, index: p.index, chain: e2ee.unb64(p.chain),
        skipped: new Map(p.skipped.map(([i, k]) => [i, e2ee.unb64(k)])) });
    }
  }
}

function save() {
  if (!db) return;
  clearTimeout(saveTimer);
  saveTimer = setTimeout(async () => {
    const out = [...keys.peers].map(([id, p]) => [id, { epoch: p.epoch, index: p.index, chain: e2ee.b64(p.chain),
      skipped: [...p.skipped].map(([i, k]) => [i, e2ee.b64(k)]) }]);
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const ct = await crypto.subtle.encrypt({ name: "AES-GCM", iv }, dbKey, new TextEncoder().encode(JSON.stringify(out)));
    db.transaction("kv", "readwrite").objectStore("kv").put({ iv, ct }, "peers");
  }, 100);
}

// Sender keys for groups (docs/e2ee.md, "Sender keys"; sdk/e2ee/senderkey.go
// is the reference, sdk/e2ee/testdata/senderkeys.json the vectors, checked
// by senderkeys_check.js in Node and in Chromium). WebCrypto only.
//
// A sender device has per group a sender key — an epoch id and a chain
// key — given to every member device once in a distribution (a v1
// message whose content is {text: "", senderKey: {epoch, index, chainKey}},
// client message id distributionID(epoch)). Each group message is sealed
// once with the chain's next message key (envelope v2: {v: 2, epoch,
// index, nonce, ct, keys?, sig}; keys only for agent devices):
//   messageKey_i = HKDF-SHA256(chainKey_i, salt empty, "agentchat/e2ee/v2/message-key")
//   chainKey_i+1 = HKDF-SHA256(chainKey_i, salt empty, "agentchat/e2ee/v2/chain-key")
// and the plaintext is framed, committed and sealed as in v1.

import { b64, unb64, concat } from "./e2ee.js";

const subtle = globalThis.crypto.subtle;
const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { fatal: true });
const PAD_BLOCK = 256, COMMIT = 32;
export const MAX_SKIP = 2000, MAX_SKIPPED = 2000;

async function hkdf(secret, info) {
  const k = await subtle.importKey("raw", secret, "HKDF", false, ["deriveBits"]);
  return new Uint8Array(await subtle.deriveBits({ name: "HKDF", hash: "SHA-256", salt: new Uint8Array(), info: enc.encode(info) }, k, 256));
}

async function gcm(op, key, iv, data, ad) {
  const k = await subtle.importKey("raw", key, "AES-GCM", false, [op]);
  return new Uint8Array(await subtle[op]({ name: "AES-GCM", iv, additionalData: ad, tagLength: 128 }, k, data));
}

// chainStep is one step of a chain: [messageKey, nextChainKey].
export const chainStep = async (chainKey) =>
  [await hkdf(chainKey, "agentchat/e2ee/v2/message-key"), await hkdf(chainKey, "agentchat/e2ee/v2/chain-key")];

const commitment = (mk) => hkdf(mk, "agentchat/e2ee/v1/commit");

function frame(commit, content) {
  const p = new Uint8Array(Math.ceil((COMMIT + content.length + 1) / PAD_BLOCK) * PAD_BLOCK);
  p.set(commit); p.set(content, COMMIT); p[COMMIT + content.length] = 0x80;
  return p;
}

function unframe(p, commit) {
  if (p.length % PAD_BLOCK !== 0 || !p.subarray(0, COMMIT).every((x, i) => x === commit[i])) throw new Error("key commitment mismatch");
  let i = p.length - 1;
  while (i >= COMMIT && p[i] === 0) i--;
  if (i < COMMIT || p[i] !== 0x80 || p.length - i > PAD_BLOCK) throw new Error("bad padding");
  return p.subarray(COMMIT, i);
}

export const distributionID = (epoch) => "sk-" + (epoch >>> 0).toString(16).padStart(8, "0");
export const isDistributionID = (id) => typeof id === "string" && /^sk-[0-9a-f]{8}$/.test(id);

// newSenderKey: {epoch (random, non-zero), index: 0, chain (32 bytes)}.
export function newSenderKey() {
  const e = new Uint32Array(1);
  do crypto.getRandomValues(e); while (e[0] === 0);
  return { epoch: e[0], index: 0, chain: crypto.getRandomValues(new Uint8Array(32)) };
}

// distribution is the content a sender key is distributed in (chainKey
// base64, as Go writes []byte; index omitted when 0, as Go does).
export const distribution = (sk) => ({ text: "", senderKey: { epoch: sk.epoch, ...(sk.index ? { index: sk.index } : {}), chainKey: b64(sk.chain) } });

// sealGroup seals content bytes with sk's next message key under ad
// (bytes) and moves sk on; wrap(mk) returns the keys for agent devices
// (e2ee.wrapFor) or [] for none. nonce is for the vectors only.
export async function sealGroup(sk, content, ad, wrap, nonce) {
  const [mk, next] = await chainStep(sk.chain);
  const iv = nonce ?? crypto.getRandomValues(new Uint8Array(12));
  const ct = await gcm("encrypt", mk, iv, frame(await commitment(mk), content), ad);
  const env = { v: 2, epoch: sk.epoch, ...(sk.index ? { index: sk.index } : {}), nonce: b64(iv), ct: b64(ct) };
  const keys = wrap ? await wrap(mk) : [];
  if (keys.length) env.keys = keys;
  sk.chain = next; sk.index++;
  return env;
}

// receiverKey starts a receiver's state from a distribution's senderKey.
export function receiverKey(d) {
  const chain = unb64(d.chainKey);
  if (!(d.epoch > 0) || chain.length !== 32) throw new Error("bad sender key");
  return { epoch: d.epoch, index: d.index || 0, chain, skipped: new Map() };
}

// openGroup decrypts a v2 envelope with rk (a receiverKey) under ad
// (bytes), forgetting the key it used; rk changes only when it opens.
export async function openGroup(rk, env, ad) {
  const index = env.index || 0;
  if (env.v !== 2) throw new Error("not a sender-key envelope");
  if (env.epoch !== rk.epoch) throw new Error("another epoch");
  const nonce = unb64(env.nonce), ct = unb64(env.ct);
  const open = async (mk) => unframe(await gcm("decrypt", mk, nonce, ct, ad), await commitment(mk));
  if (index < rk.index) {
    const mk = rk.skipped.get(index);
    if (!mk) throw new Error("message key already used or dropped");
    const p = await open(mk);
    rk.skipped.delete(index);
    return p;
  }
  if (index - rk.index > MAX_SKIP) throw new Error("message index too far ahead");
  let chain = rk.chain;
  const skipped = [];
  for (let i = rk.index; i < index; i++) {
    const [mk, next] = await chainStep(chain);
    skipped.push([i, mk]); chain = next;
  }
  const [mk, next] = await chainStep(chain);
  const p = await open(mk);
  rk.chain = next; rk.index = index + 1;
  for (const [i, k] of skipped) rk.skipped.set(i, k);
  while (rk.skipped.size > MAX_SKIPPED) rk.skipped.delete(Math.min(...rk.skipped.keys()));
  return p;
}

// Keys is one device's sender-key state in this page: its own key per
// group, and the keys it received, by conversation, sender device and
// epoch. It is not saved: a page load reads each group's history from
// its start (distributions included) and makes a new own key at its
// first message.
export class Keys {
  constructor() { this.own = new Map(); this.peers = new Map(); }
  static id(conversation, device, epoch) { return `${conversation}\u0000${device}\u0000${epoch}`; }

  // receive takes a distribution's senderKey from device.
  receive(conversation, device, d) {
    const id = Keys.id(conversation, device, d.epoch);
    if (!this.peers.has(id)) this.peers.set(id, receiverKey(d));
  }

  // open decrypts a v2 envelope of device's: the content object.
  async open(conversation, device, env, ad) {
    const rk = this.peers.get(Keys.id(conversation, device, env.epoch));
    if (!rk) throw new Error("no sender key for this message");
    const c = JSON.parse(dec.decode(await openGroup(rk, env, ad)));
    if (typeof c !== "object" || c === null || typeof c.text !== "string") throw new Error("bad content");
    return c;
  }
}

// isGroup: devices [{userId}] of more than two users use sender keys.
export const isGroup = (devices) => new Set(devices.map((d) => d.userId).filter(Boolean)).size > 2;

export { concat };

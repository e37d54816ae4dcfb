// Checks vectors.json with WebCrypto only (X25519, HKDF-SHA256, AES-GCM), the
// way the browser client implements docs/e2ee.md: it opens every vector as
// every recipient, and re-seals it from the vector's random bytes and expects
// the envelope byte for byte. Run: node webcrypto_check.mjs vectors.json
// (Node 20+ or any runtime with globalThis.crypto.subtle and X25519).
import { readFileSync } from "node:fs";

const subtle = globalThis.crypto.subtle;
const enc = new TextEncoder();

const hex = (s) => Uint8Array.from(s.match(/../g) ?? [], (h) => parseInt(h, 16));
const toHex = (b) => Array.from(new Uint8Array(b), (x) => x.toString(16).padStart(2, "0")).join("");
const b64 = (b) => btoa(String.fromCharCode(...new Uint8Array(b)));
const unb64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
const b64url = (b) => b64(b).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const concat = (...parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let i = 0;
  for (const p of parts) { out.set(p, i); i += p.length; }
  return out;
};
const equal = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

const PAD_BLOCK = 256, COMMIT = 32;

// adBytes: "agentchat/e2ee/v1/ad" then each field as uint32 BE length || UTF-8.
function adBytes(ad) {
  const parts = [enc.encode("agentchat/e2ee/v1/ad")];
  for (const f of [ad.conversation, ad.senderDevice, ad.clientMessageId]) {
    const b = enc.encode(f), len = new Uint8Array(4);
    new DataView(len.buffer).setUint32(0, b.length);
    parts.push(len, b);
  }
  return concat(...parts);
}

async function hkdf(secret, salt, info) {
  const k = await subtle.importKey("raw", secret, "HKDF", false, ["deriveBits"]);
  return new Uint8Array(await subtle.deriveBits({ name: "HKDF", hash: "SHA-256", salt, info: enc.encode(info) }, k, 256));
}

async function gcm(op, key, iv, data, ad) {
  const k = await subtle.importKey("raw", key, "AES-GCM", false, [op]);
  return new Uint8Array(await subtle[op]({ name: "AES-GCM", iv, additionalData: ad, tagLength: 128 }, k, data));
}

const x25519Private = (d, x) =>
  subtle.importKey("jwk", { kty: "OKP", crv: "X25519", d: b64url(d), x: b64url(x) }, { name: "X25519" }, false, ["deriveBits"]);
const x25519Public = (raw) => subtle.importKey("raw", raw, { name: "X25519" }, true, []);
const ecdh = async (priv, pubRaw) =>
  new Uint8Array(await subtle.deriveBits({ name: "X25519", public: await x25519Public(pubRaw) }, priv, 256));

function frame(commit, content) {
  const n = COMMIT + content.length + 1;
  const p = new Uint8Array(Math.ceil(n / PAD_BLOCK) * PAD_BLOCK);
  p.set(commit); p.set(content, COMMIT); p[COMMIT + content.length] = 0x80;
  return p;
}

function unframe(p, commit) {
  if (!equal(p.subarray(0, COMMIT), commit)) throw new Error("key commitment mismatch");
  if (p.length % PAD_BLOCK !== 0) throw new Error("bad padding length");
  let i = p.length - 1;
  while (i >= COMMIT && p[i] === 0) i--;
  if (i < COMMIT || p[i] !== 0x80 || p.length - i > PAD_BLOCK) throw new Error("bad padding");
  return p.subarray(COMMIT, i);
}

async function open(env, ad, device, priv, pub) {
  const k = env.keys.find((k) => k.device === device);
  if (!k) throw new Error("not a recipient");
  const epk = unb64(k.epk);
  const shared = await ecdh(priv, epk);
  const wrapKey = await hkdf(shared, concat(epk, pub), "agentchat/e2ee/v1/wrap");
  const mk = await gcm("decrypt", wrapKey, unb64(k.nonce), unb64(k.wk), ad);
  const p = await gcm("decrypt", mk, unb64(env.nonce), unb64(env.ct), ad);
  return unframe(p, await hkdf(mk, new Uint8Array(), "agentchat/e2ee/v1/commit"));
}

async function seal(v, ad) {
  const random = hex(v.random);
  const mk = random.subarray(0, 32), nonce = random.subarray(32, 44);
  const commit = await hkdf(mk, new Uint8Array(), "agentchat/e2ee/v1/commit");
  const ct = await gcm("encrypt", mk, nonce, frame(commit, hex(v.content)), ad);
  const keys = [];
  for (const [i, r] of v.recipients.entries()) {
    const ephPriv = random.subarray(44 + 44 * i, 76 + 44 * i), wrapNonce = random.subarray(76 + 44 * i, 88 + 44 * i);
    // A browser generates the ephemeral pair; importing it needs its public half too.
    const eph = await x25519Private(ephPriv, hex(r.ephemeralPublic));
    const pub = hex(r.publicKey);
    const shared = await ecdh(eph, pub);
    const wrapKey = await hkdf(shared, concat(hex(r.ephemeralPublic), pub), "agentchat/e2ee/v1/wrap");
    const wk = await gcm("encrypt", wrapKey, wrapNonce, mk, ad);
    keys.push({ device: r.device, epk: b64(hex(r.ephemeralPublic)), nonce: b64(wrapNonce), wk: b64(wk) });
  }
  return JSON.stringify({ v: 1, nonce: b64(nonce), ct: b64(ct), keys });
}

const file = JSON.parse(readFileSync(process.argv[2] ?? new URL("vectors.json", import.meta.url), "utf8"));
let failures = 0, checks = 0;
const check = (ok, what) => { checks++; if (!ok) { failures++; console.error("FAIL", what); } };
for (const v of file.vectors) {
  const ad = adBytes(v.ad);
  check(toHex(ad) === v.adBytes, `${v.name}: adBytes`);
  check((await seal(v, ad)) === v.envelopeJSON, `${v.name}: seal reproduces envelopeJSON`);
  for (const r of v.recipients) {
    const priv = await x25519Private(hex(r.privateKey), hex(r.publicKey));
    const content = await open(v.envelope, ad, r.device, priv, hex(r.publicKey));
    check(toHex(content) === v.content, `${v.name}: open as ${r.device}`);
    const other = { ...v.ad, conversation: v.ad.conversation + "x" };
    const refused = await open(v.envelope, adBytes(other), r.device, priv, hex(r.publicKey)).then(() => false, () => true);
    check(refused, `${v.name}: other conversation refused for ${r.device}`);
  }
}
for (const m of file.media) {
  const random = hex(m.random);
  const blob = hex(m.blob);
  const data = await gcm("decrypt", random.subarray(0, 32), blob.subarray(0, 12), blob.subarray(12), enc.encode("agentchat/e2ee/v1/media"));
  check(toHex(data) === m.data, `media ${m.name}: open`);
  check(toHex(await subtle.digest("SHA-256", blob)) === m.sha256, `media ${m.name}: sha256`);
}
console.log(`${checks - failures}/${checks} checks passed`);
process.exit(failures ? 1 : 0);

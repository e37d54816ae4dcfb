// The envelope of docs/e2ee.md in WebCrypto only (X25519, HKDF-SHA256,
// AES-256-GCM): what the browser client seals and opens. The Go SDK
// (sdk/e2ee) is the reference; sdk/e2ee/testdata/webcrypto_check.mjs runs
// this module against the Go test vectors, and the browser test opens and
// seals across both.

const subtle = globalThis.crypto.subtle;
const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { fatal: true });

export const b64 = (b) => {
  let s = "";
  for (const x of new Uint8Array(b)) s += String.fromCharCode(x);
  return btoa(s);
};
export const unb64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
const b64url = (b) => b64(b).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
export const concat = (...parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let i = 0;
  for (const p of parts) { out.set(p, i); i += p.length; }
  return out;
};
const equal = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

const PAD_BLOCK = 256, COMMIT = 32;

// adBytes: "agentchat/e2ee/v1/ad" then each field as uint32 BE length || UTF-8.
export function adBytes(ad) {
  const parts = [enc.encode("agentchat/e2ee/v1/ad")];
  for (const f of [ad.conversation, ad.senderDevice, ad.clientMessageId]) {
    const b = enc.encode(f), len = new Uint8Array(4);
    new DataView(len.buffer).setUint32(0, b.length);
    parts.push(len, b);
  }
  return concat(...parts);
}

// partialAD is the associated data of an agent's streamed partial.
export const partialAD = (conversation, agentDevice, replyTo, index) =>
  ({ conversation, senderDevice: agentDevice, clientMessageId: `partial/${replyTo}/${index}` });

async function hkdf(secret, salt, info) {
  const k = await subtle.importKey("raw", secret, "HKDF", false, ["deriveBits"]);
  return new Uint8Array(await subtle.deriveBits({ name: "HKDF", hash: "SHA-256", salt, info: enc.encode(info) }, k, 256));
}

async function gcm(op, key, iv, data, ad) {
  const k = await subtle.importKey("raw", key, "AES-GCM", false, [op]);
  return new Uint8Array(await subtle[op]({ name: "AES-GCM", iv, additionalData: ad, tagLength: 128 }, k, data));
}

// importPrivate makes an X25519 private key from its raw halves.
export const importPrivate = (d, x) =>
  subtle.importKey("jwk", { kty: "OKP", crv: "X25519", d: b64url(d), x: b64url(x) }, { name: "X25519" }, true, ["deriveBits"]);
const importPublic = (raw) => subtle.importKey("raw", raw, { name: "X25519" }, true, []);
const ecdh = async (priv, pubRaw) =>
  new Uint8Array(await subtle.deriveBits({ name: "X25519", public: await importPublic(pubRaw) }, priv, 256));

// validatePublicKey throws unless raw is a key sdk/e2ee's ValidatePublicKey
// accepts (docs/e2ee.md, "Key management"): 32 bytes, canonical (bit 255
// clear, u < p) and not of low order (u mod p is none of 0, 1, the two
// points of order 8, p-1, read with bit 255 ignored or counted). Sealing for
// a low-order key would give anyone the message key.
const P = (1n << 255n) - 19n;
const LOW_ORDER = [0n, 1n,
  325606250916557431795983626356110631294008115727848805560023387167927233504n,
  39382357235489614581723060781553021112529911719440698176882885853963445705823n, P - 1n];
export function validatePublicKey(raw) {
  const b = new Uint8Array(raw);
  if (b.length !== 32) throw new Error("public key must be 32 bytes");
  let full = 0n;
  for (let i = 31; i >= 0; i--) full = (full << 8n) | BigInt(b[i]);
  const masked = full & ((1n << 255n) - 1n);
  if (LOW_ORDER.includes(masked % P) || LOW_ORDER.includes(full % P)) throw new Error("low-order public key");
  if (full !== masked || masked >= P) throw new Error("non-canonical public key encoding");
}

// generateIdentity makes a device key pair: {privateKey, publicRaw}. The
// private key is not extractable: kept as a CryptoKey (IndexedDB stores it
// as is), no script can read its bytes, only use it.
export async function generateIdentity() {
  const kp = await subtle.generateKey({ name: "X25519" }, false, ["deriveBits"]);
  return { privateKey: kp.privateKey, publicRaw: new Uint8Array(await subtle.exportKey("raw", kp.publicKey)) };
}

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

// openBytes returns the content bytes of env (the envelope's JSON form)
// for device, or throws: not a recipient, tampered, or another ad.
export async function openBytes(env, ad, device, priv, pubRaw) {
  if (env.v !== 1 && env.v !== 2) throw new Error("unknown envelope version " + env.v);
  const k = (env.keys || []).find((k) => k.device === device); // v2: agent devices only
  if (!k) throw new Error("not a recipient");
  const epk = unb64(k.epk);
  const shared = await ecdh(priv, epk);
  const wrapKey = await hkdf(shared, concat(epk, pubRaw), "agentchat/e2ee/v1/wrap");
  const mk = await gcm("decrypt", wrapKey, unb64(k.nonce), unb64(k.wk), ad);
  const p = await gcm("decrypt", mk, unb64(env.nonce), unb64(env.ct), ad);
  return unframe(p, await hkdf(mk, new Uint8Array(), "agentchat/e2ee/v1/commit"));
}

// sealBytes seals content for recipients [{device, publicKey (raw)}].
// random, for test vectors only, fixes the message key, the nonces and the
// ephemeral keys ({mk, nonce, ephemerals: [{priv, pubRaw, nonce}]});
// without it everything is fresh from the browser's CSPRNG.
// Every recipient's key must pass validatePublicKey, else it throws before
// sealing anything.
export async function sealBytes(content, ad, recipients, random) {
  for (const r of recipients) {
    try { validatePublicKey(r.publicKey); } catch (err) { throw new Error(`recipient ${r.device}: ${err.message}`); }
  }
  const mk = random?.mk ?? crypto.getRandomValues(new Uint8Array(32));
  const nonce = random?.nonce ?? crypto.getRandomValues(new Uint8Array(12));
  const commit = await hkdf(mk, new Uint8Array(), "agentchat/e2ee/v1/commit");
  const ct = await gcm("encrypt", mk, nonce, frame(commit, content), ad);
  return { v: 1, nonce: b64(nonce), ct: b64(ct), keys: await wrapFor(mk, ad, recipients, random?.ephemerals) };
}

// wrapFor wraps a message key for each recipient (a fresh ephemeral key
// each, or ephemerals[i] for the vectors): the envelope's keys. A v2
// (sender-key) envelope wraps its message key this way for agent devices.
export async function wrapFor(mk, ad, recipients, ephemerals) {
  const keys = [];
  for (const [i, r] of recipients.entries()) {
    validatePublicKey(r.publicKey);
    let eph = ephemerals?.[i];
    if (!eph) {
      const kp = await subtle.generateKey({ name: "X25519" }, true, ["deriveBits"]);
      eph = { priv: kp.privateKey, pubRaw: new Uint8Array(await subtle.exportKey("raw", kp.publicKey)),
        nonce: crypto.getRandomValues(new Uint8Array(12)) };
    }
    const shared = await ecdh(eph.priv, r.publicKey);
    const wrapKey = await hkdf(shared, concat(eph.pubRaw, r.publicKey), "agentchat/e2ee/v1/wrap");
    const wk = await gcm("encrypt", wrapKey, eph.nonce, mk, ad);
    keys.push({ device: r.device, epk: b64(eph.pubRaw), nonce: b64(eph.nonce), wk: b64(wk) });
  }
  return keys;
}

// seal and open work on content objects ({text, replyTo?, media?}).
export const seal = (content, ad, recipients) =>
  sealBytes(enc.encode(JSON.stringify(content)), adBytes(ad), recipients);

export async function open(env, ad, device, identity) {
  const c = JSON.parse(dec.decode(await openBytes(env, adBytes(ad), device, identity.privateKey, identity.publicRaw)));
  if (typeof c !== "object" || c === null || typeof c.text !== "string") throw new Error("bad content");
  return c;
}

// Media (docs/e2ee.md, "Media"; sdk/e2ee/media.go is the reference): a
// file is sealed under a fresh key, blob = nonce (12) || AES-256-GCM(key,
// nonce, data, AD "agentchat/e2ee/v1/media"); the key and the blob's hex
// SHA-256 go into the message's content (base64 key, as Go's []byte in
// JSON), the blob to the media store.
const MEDIA_AD = enc.encode("agentchat/e2ee/v1/media");

export async function sha256Hex(bytes) {
  const d = new Uint8Array(await subtle.digest("SHA-256", bytes));
  return Array.from(d, (x) => x.toString(16).padStart(2, "0")).join("");
}

// sealMedia encrypts data (a Uint8Array): {blob, key (base64), sha256 (hex)}.
export async function sealMedia(data) {
  const key = crypto.getRandomValues(new Uint8Array(32));
  const nonce = crypto.getRandomValues(new Uint8Array(12));
  const blob = concat(nonce, await gcm("encrypt", key, nonce, data, MEDIA_AD));
  return { blob, key: b64(key), sha256: await sha256Hex(blob) };
}

// openMedia checks a fetched blob against the digest in the (signed)
// message, then decrypts it with the message's key; it throws on a
// swapped or tampered blob.
export async function openMedia(blob, media) {
  if (await sha256Hex(blob) !== media.sha256) throw new Error("the file's SHA-256 is not the message's: not opened");
  const key = unb64(media.key);
  if (key.length !== 32 || blob.length < 28) throw new Error("bad media key or blob");
  return gcm("decrypt", key, blob.subarray(0, 12), blob.subarray(12), MEDIA_AD);
}

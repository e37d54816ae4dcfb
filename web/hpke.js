// HPKE (RFC 9180) base mode over WebCrypto, one suite: DHKEM(X25519,
// HKDF-SHA256), HKDF-SHA256, AES-128-GCM — the suite of sdk/e2ee's HPKESeal
// and HPKEOpen (docs/e2ee.md, "Primitives for sender keys"). WebCrypto's
// HKDF always extracts then expands, and HPKE needs the two steps apart
// with its own labels, so both are written here over HMAC-SHA256.
// sdk/e2ee/testdata/primitives_check.js checks this module against RFC 9180
// A.1.1 (in Node and in headless Chromium).
import { concat, validatePublicKey } from "./e2ee.js";

const subtle = globalThis.crypto.subtle;
const enc = new TextEncoder();

const KEM_ID = 0x0020, KDF_ID = 0x0001, AEAD_ID = 0x0001;
const NK = 16, NN = 12, NH = 32; // AES-128-GCM key and nonce, SHA-256 output
const i2osp = (n, w) => Uint8Array.from({ length: w }, (_, i) => Number((BigInt(n) >> BigInt(8 * (w - 1 - i))) & 0xffn));
const KEM_SUITE = concat(enc.encode("KEM"), i2osp(KEM_ID, 2));
const HPKE_SUITE = concat(enc.encode("HPKE"), i2osp(KEM_ID, 2), i2osp(KDF_ID, 2), i2osp(AEAD_ID, 2));
const V1 = enc.encode("HPKE-v1");

async function hmac(key, data) {
  // WebCrypto refuses an empty HMAC key; HMAC pads keys with zeros, so
  // HKDF's empty salt is the same as NH zero bytes (RFC 5869 2.2).
  const k = await subtle.importKey("raw", key.length ? key : new Uint8Array(NH), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return new Uint8Array(await subtle.sign("HMAC", k, data));
}

// HKDF-Expand (RFC 5869 2.3).
async function expand(prk, info, length) {
  const out = new Uint8Array(length);
  let t = new Uint8Array(0);
  for (let i = 1, n = 0; n < length; i++) {
    t = await hmac(prk, concat(t, info, Uint8Array.of(i)));
    out.set(t.subarray(0, length - n), n);
    n += t.length;
  }
  return out;
}

const labeledExtract = (suite, salt, label, ikm) => hmac(salt, concat(V1, suite, enc.encode(label), ikm));
const labeledExpand = (suite, prk, label, info, length) =>
  expand(prk, concat(i2osp(length, 2), V1, suite, enc.encode(label), info), length);

const PKCS8_X25519 = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20]);

// keyPair imports a raw X25519 private key: {privateKey, publicRaw}.
async function keyPair(skRaw) {
  const privateKey = await subtle.importKey("pkcs8", concat(PKCS8_X25519, skRaw), { name: "X25519" }, true, ["deriveBits"]);
  const jwk = await subtle.exportKey("jwk", privateKey);
  const publicRaw = Uint8Array.from(atob(jwk.x.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
  return { privateKey, publicRaw };
}

// deriveKeyPair is RFC 9180 7.1.3 for X25519 (for the vectors, and for
// keys that must follow from a secret).
export async function deriveKeyPair(ikm) {
  const prk = await labeledExtract(KEM_SUITE, new Uint8Array(0), "dkp_prk", ikm);
  const sk = await labeledExpand(KEM_SUITE, prk, "sk", new Uint8Array(0), 32);
  return { ...(await keyPair(sk)), skRaw: sk };
}

const dh = async (priv, pubRaw) => {
  const pub = await subtle.importKey("raw", pubRaw, { name: "X25519" }, true, []);
  return new Uint8Array(await subtle.deriveBits({ name: "X25519", public: pub }, priv, 256)); // throws on all zeros
};

async function extractAndExpand(dhOut, kemContext) {
  const prk = await labeledExtract(KEM_SUITE, new Uint8Array(0), "eae_prk", dhOut);
  return labeledExpand(KEM_SUITE, prk, "shared_secret", kemContext, 32);
}

// keySchedule is RFC 9180 5.1 for mode_base (no PSK).
async function keySchedule(sharedSecret, info) {
  const empty = new Uint8Array(0);
  const pskIdHash = await labeledExtract(HPKE_SUITE, empty, "psk_id_hash", empty);
  const infoHash = await labeledExtract(HPKE_SUITE, empty, "info_hash", info);
  const ksContext = concat(Uint8Array.of(0), pskIdHash, infoHash);
  const secret = await labeledExtract(HPKE_SUITE, sharedSecret, "secret", empty);
  const key = await labeledExpand(HPKE_SUITE, secret, "key", ksContext, NK);
  return new Context({
    key: await subtle.importKey("raw", key, "AES-GCM", false, ["encrypt", "decrypt"]),
    baseNonce: await labeledExpand(HPKE_SUITE, secret, "base_nonce", ksContext, NN),
    exporterSecret: await labeledExpand(HPKE_SUITE, secret, "exp", ksContext, NH),
  });
}

// Context is an HPKE encryption context: seal (sender) or open
// (recipient) messages in order, or export secrets. seq is the next
// sequence number; it moves only on success.
class Context {
  #key; #baseNonce; #exporterSecret;
  constructor({ key, baseNonce, exporterSecret }) {
    this.#key = key; this.#baseNonce = baseNonce; this.#exporterSecret = exporterSecret; this.seq = 0;
  }
  nonce(seq = this.seq) {
    const n = this.#baseNonce.slice(), s = i2osp(seq, NN);
    for (let i = 0; i < NN; i++) n[i] ^= s[i];
    return n;
  }
  async seal(aad, pt) {
    const ct = new Uint8Array(await subtle.encrypt({ name: "AES-GCM", iv: this.nonce(), additionalData: aad, tagLength: 128 }, this.#key, pt));
    this.seq++;
    return ct;
  }
  async open(aad, ct) {
    const pt = new Uint8Array(await subtle.decrypt({ name: "AES-GCM", iv: this.nonce(), additionalData: aad, tagLength: 128 }, this.#key, ct));
    this.seq++;
    return pt;
  }
  export(exporterContext, length) {
    return labeledExpand(HPKE_SUITE, this.#exporterSecret, "sec", exporterContext, length);
  }
}

// setupBaseS is RFC 9180 5.1.1 SetupBaseS: {enc, context} for the
// recipient's raw X25519 public key (refused unless validatePublicKey
// accepts it). ephemeral ({privateKey, publicRaw}) is for test vectors
// only; without it the key is fresh.
export async function setupBaseS(pkR, info, ephemeral) {
  validatePublicKey(pkR);
  let eph = ephemeral;
  if (!eph) {
    const kp = await subtle.generateKey({ name: "X25519" }, true, ["deriveBits"]);
    eph = { privateKey: kp.privateKey, publicRaw: new Uint8Array(await subtle.exportKey("raw", kp.publicKey)) };
  }
  const shared = await extractAndExpand(await dh(eph.privateKey, pkR), concat(eph.publicRaw, pkR));
  return { enc: eph.publicRaw, context: await keySchedule(shared, info) };
}

// setupBaseR is RFC 9180 5.1.1 SetupBaseR for this device's X25519 key
// (privateKey, a CryptoKey; publicRaw, its 32 bytes).
export async function setupBaseR(encapsulated, privateKey, publicRaw, info) {
  if (encapsulated.length !== 32) throw new Error("hpke: enc must be 32 bytes");
  const shared = await extractAndExpand(await dh(privateKey, encapsulated), concat(encapsulated, publicRaw));
  return keySchedule(shared, info);
}

// seal and open are the single-shot forms sdk/e2ee's HPKESeal and HPKEOpen
// use: one message per context. seal returns {enc, ct}.
export async function seal(pkR, info, aad, pt) {
  const { enc: e, context } = await setupBaseS(pkR, info);
  return { enc: e, ct: await context.seal(aad, pt) };
}

export async function open(encapsulated, privateKey, publicRaw, info, aad, ct) {
  return (await setupBaseR(encapsulated, privateKey, publicRaw, info)).open(aad, ct);
}

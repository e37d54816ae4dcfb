// Ed25519 (RFC 8032) over WebCrypto: the signatures of sdk/e2ee's
// SigningKey and Verify (docs/e2ee.md, "Primitives for sender keys"),
// including its key check, which WebCrypto does not make: under a key of
// small order a signature can be made without any private key, and
// Chromium verifies it. sdk/e2ee/testdata/primitives_check.js checks this
// module against RFC 8032 7.1 (in Node and in headless Chromium).
import { b64, concat, unb64 } from "./e2ee.js";

const subtle = globalThis.crypto.subtle;
const ALG = { name: "Ed25519" };
const PKCS8_ED25519 = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);

// generateSigningKey makes a device's signing key: {privateKey, publicRaw}.
// The private key is not extractable (kept as a CryptoKey, as the device's
// X25519 key is).
export async function generateSigningKey() {
  const kp = await subtle.generateKey(ALG, false, ["sign", "verify"]);
  return { privateKey: kp.privateKey, publicRaw: new Uint8Array(await subtle.exportKey("raw", kp.publicKey)) };
}

// importSigningKey loads RFC 8032's 32-byte secret key (for test vectors).
export async function importSigningKey(seed) {
  if (seed.length !== 32) throw new Error("signing key seed must be 32 bytes");
  const privateKey = await subtle.importKey("pkcs8", concat(PKCS8_ED25519, seed), ALG, true, ["sign"]);
  const jwk = await subtle.exportKey("jwk", privateKey);
  const publicRaw = Uint8Array.from(atob(jwk.x.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
  return { privateKey, publicRaw };
}

export const sign = async (privateKey, message) => new Uint8Array(await subtle.sign(ALG, privateKey, message));

// validateSigningKey throws unless raw is a key sdk/e2ee's
// ValidateSigningKey accepts: 32 bytes; y (bits 0–254, little-endian) not
// of small order modulo p (0, 1, p-1, the two y of order 8), whatever bit
// 255 says ("low-order"); y < p ("non-canonical"); and some x has that y
// ("not a point").
const P = (1n << 255n) - 19n;
const SMALL_Y = [0n, 1n, P - 1n,
  0x05fc536d880238b13933c6d305acdfd5f098eff289f4c345b027b2c28f95e826n,
  0x7a03ac9277fdc74ec6cc392cfa53202a0f67100d760b3cba4fd84d3d706a17c7n];
const modpow = (b, e) => { let r = 1n; b %= P; for (; e > 0n; e >>= 1n, b = b * b % P) if (e & 1n) r = r * b % P; return r; };
const D = (P - 121665n) * modpow(121666n, P - 2n) % P;
export function validateSigningKey(raw) {
  const b = new Uint8Array(raw);
  if (b.length !== 32) throw new Error("signing public key must be 32 bytes");
  let y = 0n;
  for (let i = 31; i >= 0; i--) y = (y << 8n) | BigInt(b[i]);
  y &= (1n << 255n) - 1n;
  if (SMALL_Y.includes(y % P)) throw new Error("low-order signing public key");
  if (y >= P) throw new Error("non-canonical signing public key encoding");
  const y2 = y * y % P;
  const x2 = (y2 - 1n + P) * modpow(D * y2 + 1n, P - 2n) % P;
  if (modpow(x2, (P - 1n) / 2n) !== 1n) throw new Error("signing public key is not a point on edwards25519");
}

// verify is true only for a key validateSigningKey accepts and a signature
// WebCrypto verifies; a bad key, a bad length or a key WebCrypto cannot
// import are all false (the message is shown as unverified).
export async function verify(publicRaw, message, signature) {
  try {
    validateSigningKey(publicRaw);
    if (signature.length !== 64) return false;
    const key = await subtle.importKey("raw", publicRaw, ALG, true, ["verify"]);
    return await subtle.verify(ALG, key, signature, message);
  } catch {
    return false;
  }
}

// Signed messages (docs/e2ee.md, "Signed messages"; sdk/e2ee/signature.go
// is the reference, primitives.json's "signed" section the vectors).
const utf8 = new TextEncoder();
const u32 = (n) => { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, n); return b; };
const field = (b) => [u32(b.length), b];

// envelopeSignedBytes is what a sender signs for env (the envelope's JSON
// form): label, version, conversation, sender device, (v2: epoch and
// index), nonce, ciphertext, and (v1) the recipient device ids in order,
// each length-prefixed.
export function envelopeSignedBytes(env, conversation, senderDevice) {
  const keys = env.keys || [];
  const parts = [utf8.encode("agentchat/e2ee/v1/sig"), u32(env.v),
    ...field(utf8.encode(conversation)), ...field(utf8.encode(senderDevice))];
  if (env.v !== 1) parts.push(u32(env.epoch), u32(env.index || 0)); // v2 (sender keys): which chain key
  parts.push(...field(unb64(env.nonce)), ...field(unb64(env.ct)));
  if (env.v !== 1) return concat(...parts); // v2 signs no key list: each device gets its own key at most
  parts.push(u32(keys.length));
  for (const k of keys) parts.push(...field(utf8.encode(k.device)));
  return concat(...parts);
}

// signEnvelope sets env.sig (base64, as Go writes it).
export async function signEnvelope(env, conversation, senderDevice, privateKey) {
  env.sig = b64(await sign(privateKey, envelopeSignedBytes(env, conversation, senderDevice)));
  return env;
}

// verifyEnvelope is true only when env carries a signature that the
// sender device's signing key (raw bytes from the directory) verifies for
// this conversation and sender device; unsigned, another key's, a missing
// or refused key: false, and the message is shown as unverified.
export async function verifyEnvelope(env, conversation, senderDevice, signingKeyRaw) {
  if (typeof env?.sig !== "string" || !signingKeyRaw) return false;
  try {
    return await verify(signingKeyRaw, envelopeSignedBytes(env, conversation, senderDevice), unb64(env.sig));
  } catch {
    return false;
  }
}

// bindingBytes is the statement a device signs when it registers its
// signing key: this key is user's, on the device whose X25519 key is
// x25519Raw.
export const bindingBytes = (user, x25519Raw) =>
  concat(utf8.encode("agentchat/e2ee/v1/device-binding"), ...field(utf8.encode(user)), ...field(x25519Raw));

export const signBinding = (privateKey, user, x25519Raw) => sign(privateKey, bindingBytes(user, x25519Raw));

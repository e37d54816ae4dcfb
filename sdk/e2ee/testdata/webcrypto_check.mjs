// Checks vectors.json with the browser client's own envelope code
// (web/e2ee.js: WebCrypto only): it opens every vector as every recipient,
// and re-seals it from the vector's random bytes and expects the envelope
// byte for byte. It also feeds every published low-order key
// (low_order_keys.json, written from sdk/e2ee's LowOrderKeys) to the
// client's key check and sealer, which must refuse each.
// Run: node webcrypto_check.mjs vectors.json
// (Node 20+ or any runtime with globalThis.crypto.subtle and X25519).
import { readFileSync } from "node:fs";
import { adBytes, b64, importPrivate, openBytes, sealBytes, validatePublicKey } from "../../../web/e2ee.js";

const hex = (s) => Uint8Array.from(s.match(/../g) ?? [], (h) => parseInt(h, 16));
const toHex = (b) => Array.from(new Uint8Array(b), (x) => x.toString(16).padStart(2, "0")).join("");
const subtle = globalThis.crypto.subtle;
const enc = new TextEncoder();

const open = (env, ad, device, priv, pub) => openBytes(env, ad, device, priv, pub);

// seal re-seals a vector from its random bytes: message key, nonce, then
// per recipient the ephemeral private key and the wrap nonce.
async function seal(v, ad) {
  const random = hex(v.random);
  const ephemerals = [];
  for (const [i, r] of v.recipients.entries()) {
    const pubRaw = hex(r.ephemeralPublic);
    ephemerals.push({ priv: await importPrivate(random.subarray(44 + 44 * i, 76 + 44 * i), pubRaw), pubRaw,
      nonce: random.subarray(76 + 44 * i, 88 + 44 * i) });
  }
  const recipients = v.recipients.map((r) => ({ device: r.device, publicKey: hex(r.publicKey) }));
  const env = await sealBytes(hex(v.content), ad, recipients,
    { mk: random.subarray(0, 32), nonce: random.subarray(32, 44), ephemerals });
  return JSON.stringify(env);
}

async function gcmOpen(key, iv, data, ad) {
  const k = await subtle.importKey("raw", key, "AES-GCM", false, ["decrypt"]);
  return new Uint8Array(await subtle.decrypt({ name: "AES-GCM", iv, additionalData: ad, tagLength: 128 }, k, data));
}

const file = JSON.parse(readFileSync(process.argv[2] ?? new URL("vectors.json", import.meta.url), "utf8"));
let failures = 0, checks = 0;
const check = (ok, what) => { checks++; if (!ok) { failures++; console.error("FAIL", what); } };
for (const v of file.vectors) {
  const ad = adBytes(v.ad);
  check(toHex(ad) === v.adBytes, `${v.name}: adBytes`);
  check((await seal(v, ad)) === v.envelopeJSON, `${v.name}: seal reproduces envelopeJSON`);
  for (const r of v.recipients) {
    const priv = await importPrivate(hex(r.privateKey), hex(r.publicKey));
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
  const data = await gcmOpen(random.subarray(0, 32), blob.subarray(0, 12), blob.subarray(12), enc.encode("agentchat/e2ee/v1/media"));
  check(toHex(data) === m.data, `media ${m.name}: open`);
  check(toHex(await subtle.digest("SHA-256", blob)) === m.sha256, `media ${m.name}: sha256`);
}
const throws = async (f, re) => { try { await f(); return false; } catch (err) { return re.test(err.message); } };
const low = JSON.parse(readFileSync(new URL("low_order_keys.json", import.meta.url), "utf8")).lowOrderKeys;
check(low.length === 19, `low_order_keys.json: ${low.length} keys, want 19`);
const good = file.vectors[0].recipients[0];
for (const h of low) {
  check(await throws(() => validatePublicKey(hex(h)), /low-order/), `validatePublicKey refuses ${h}`);
  const rs = [{ device: good.device, publicKey: hex(good.publicKey) }, { device: "dev-low", publicKey: hex(h) }];
  check(await throws(() => sealBytes(enc.encode("canary"), adBytes(file.vectors[0].ad), rs), /dev-low: low-order/),
    `sealBytes refuses ${h}`);
}
const P = (1n << 255n) - 19n;
const le = (n) => Uint8Array.from({ length: 32 }, (_, i) => Number((n >> BigInt(8 * i)) & 0xffn));
for (let i = 2n; i <= 18n; i++) check(await throws(() => validatePublicKey(le(P + i)), /non-canonical/), `validatePublicKey refuses p+${i}`);
for (const v of file.vectors) for (const r of v.recipients) {
  check(!(await throws(() => validatePublicKey(hex(r.publicKey)), /./)), `validatePublicKey accepts ${v.name}/${r.device}`);
  const top = hex(r.publicKey); top[31] |= 0x80;
  check(await throws(() => validatePublicKey(top), /non-canonical/), `validatePublicKey refuses ${v.name}/${r.device} with bit 255`);
}
console.log(`${checks - failures}/${checks} checks passed`);
process.exit(failures ? 1 : 0);

// Checks primitives.json with the browser client's own modules
// (web/hpke.js, web/ed25519.js: WebCrypto only). The same module runs in
// Node (primitives_node.mjs, from TestPrimitivesWebCrypto) and in headless
// Chromium (tests/e2e, TestPrimitivesInChromium), so the check is the
// browser's, not a copy of it.
import { deriveKeyPair, setupBaseR, setupBaseS, seal, open } from "../../../web/hpke.js";
import { importSigningKey, generateSigningKey, sign, verify, validateSigningKey,
  envelopeSignedBytes, signEnvelope, verifyEnvelope, bindingBytes, signBinding } from "../../../web/ed25519.js";

const hex = (s) => Uint8Array.from(s.match(/../g) ?? [], (h) => parseInt(h, 16));
const toHex = (b) => Array.from(new Uint8Array(b), (x) => x.toString(16).padStart(2, "0")).join("");
const throws = async (f) => { try { await f(); return null; } catch (err) { return err; } };

// check runs every vector of file (primitives.json, parsed) and returns
// {checks, failures: [what failed]}.
export async function check(file) {
  let checks = 0;
  const failures = [];
  const ok = (cond, what) => { checks++; if (!cond) failures.push(what); };

  for (const v of file.hpke.vectors) {
    const info = hex(v.info);
    const r = await deriveKeyPair(hex(v.ikmR));
    ok(toHex(r.skRaw) === v.skRm && toHex(r.publicRaw) === v.pkRm, "hpke: DeriveKeyPair(ikmR)");
    const e = await deriveKeyPair(hex(v.ikmE));
    ok(toHex(e.skRaw) === v.skEm && toHex(e.publicRaw) === v.pkEm, "hpke: DeriveKeyPair(ikmE)");
    // The sender, with the vector's ephemeral key: enc and every
    // ciphertext byte for byte, at every listed sequence number.
    const s = await setupBaseS(hex(v.pkRm), info, e);
    ok(toHex(s.enc) === v.enc, "hpke: enc");
    const rc = await setupBaseR(hex(v.enc), r.privateKey, r.publicRaw, info);
    for (const x of v.encryptions) {
      s.context.seq = x.seq; rc.seq = x.seq;
      ok(toHex(s.context.nonce()) === x.nonce, `hpke: nonce of seq ${x.seq}`);
      ok(toHex(await s.context.seal(hex(x.aad), hex(x.pt))) === x.ct, `hpke: seal seq ${x.seq}`);
      ok(toHex(await rc.open(hex(x.aad), hex(x.ct))) === x.pt, `hpke: open seq ${x.seq}`);
    }
    for (const x of v.exports) {
      ok(toHex(await s.context.export(hex(x.exporter_context), x.L)) === x.exported_value, `hpke: sender export ${x.exporter_context}`);
      ok(toHex(await rc.export(hex(x.exporter_context), x.L)) === x.exported_value, `hpke: recipient export ${x.exporter_context}`);
    }
    // Refusals: another aad, a changed tag, a low-order recipient.
    const x = v.encryptions[0];
    rc.seq = 0;
    ok(await throws(() => rc.open(hex(x.aad + "00"), hex(x.ct))), "hpke: another aad refused");
    const bad = hex(x.ct); bad[bad.length - 1] ^= 1;
    ok(await throws(() => rc.open(hex(x.aad), bad)), "hpke: changed tag refused");
    ok(rc.seq === 0, "hpke: a failed open does not move the sequence");
    ok(/low-order/.test((await throws(() => seal(new Uint8Array(32), info, new Uint8Array(0), hex(x.pt))))?.message), "hpke: seal for a low-order key refused");
    // A single-shot round trip with a fresh ephemeral key.
    const fresh = await seal(hex(v.pkRm), info, hex(x.aad), hex(x.pt));
    ok(toHex(await open(fresh.enc, r.privateKey, r.publicRaw, info, hex(x.aad), fresh.ct)) === x.pt, "hpke: fresh seal opens");
  }

  for (const v of file.ed25519.vectors) {
    const k = await importSigningKey(hex(v.secretKey));
    ok(toHex(k.publicRaw) === v.publicKey, `ed25519 ${v.name}: public key`);
    ok(toHex(await sign(k.privateKey, hex(v.message))) === v.signature, `ed25519 ${v.name}: signature`);
    ok(await verify(hex(v.publicKey), hex(v.message), hex(v.signature)), `ed25519 ${v.name}: verifies`);
  }
  for (const c of file.ed25519.verify) {
    ok((await verify(hex(c.publicKey), hex(c.message), hex(c.signature))) === c.valid, `ed25519 verify: ${c.name}`);
  }
  const want = { "": null, low_order: /low-order/, non_canonical: /non-canonical/, not_a_point: /not a point/ };
  for (const c of file.ed25519.keys) {
    const err = await throws(() => validateSigningKey(hex(c.publicKey)));
    ok(want[c.error] === null ? err === null : want[c.error].test(err?.message), `ed25519 key: ${c.name} (${err?.message ?? "accepted"})`);
  }
  const g = await generateSigningKey();
  const m = new TextEncoder().encode("agentchat/test/sign\0hello");
  ok(await verify(g.publicRaw, m, await sign(g.privateKey, m)), "ed25519: a generated key signs and verifies");

  // Our own signed statements, byte for byte as sdk/e2ee makes them.
  if (file.signed) {
    const e = file.signed.envelope;
    const k = await importSigningKey(hex(e.seed));
    ok(toHex(envelopeSignedBytes(e.envelope, e.conversation, e.senderDevice)) === e.signedBytes, "signed: envelope's signed bytes");
    const env = await signEnvelope({ ...e.envelope }, e.conversation, e.senderDevice, k.privateKey);
    ok(toHex(Uint8Array.from(atob(env.sig), (c) => c.charCodeAt(0))) === e.sig, "signed: envelope signature");
    ok(await verifyEnvelope(env, e.conversation, e.senderDevice, hex(e.publicKey)), "signed: envelope verifies");
    ok(!(await verifyEnvelope(e.envelope, e.conversation, e.senderDevice, hex(e.publicKey))), "signed: unsigned is not verified");
    ok(!(await verifyEnvelope(env, e.conversation, "dev-mallory", hex(e.publicKey))), "signed: another sender device is not verified");
    ok(!(await verifyEnvelope(env, e.conversation, e.senderDevice, g.publicRaw)), "signed: another key is not verified");
    const b = file.signed.binding;
    const bk = await importSigningKey(hex(b.seed));
    ok(toHex(bindingBytes(b.user, hex(b.x25519Public))) === b.bytes, "signed: binding bytes");
    ok(toHex(await signBinding(bk.privateKey, b.user, hex(b.x25519Public))) === b.sig, "signed: binding signature");
  } else ok(false, "signed: section missing");
  return { checks, failures };
}

// interop is the other half of a Go ↔ browser exchange (hex everywhere):
// it opens what Go sealed for a key Go made (in: {hpke: {skR, pkR, info,
// aad, enc, ct}, ed25519: {publicKey, message, signature}, sealTo}) and
// seals for Go's key and signs with a fresh key, for Go to check.
export async function interop(input) {
  const h = input.hpke;
  const pkcs8 = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20, ...hex(h.skR)]);
  const priv = await crypto.subtle.importKey("pkcs8", pkcs8, { name: "X25519" }, false, ["deriveBits"]);
  const opened = toHex(await open(hex(h.enc), priv, hex(h.pkR), hex(h.info), hex(h.aad), hex(h.ct)));
  const verified = await verify(hex(input.ed25519.publicKey), hex(input.ed25519.message), hex(input.ed25519.signature));
  const mine = await seal(hex(input.sealTo), hex(h.info), hex(h.aad), new TextEncoder().encode("sealed in the browser"));
  const k = await generateSigningKey();
  const msg = new TextEncoder().encode("signed in the browser");
  return { opened, verified, enc: toHex(mine.enc), ct: toHex(mine.ct), publicKey: toHex(k.publicRaw), message: toHex(msg), signature: toHex(await sign(k.privateKey, msg)) };
}

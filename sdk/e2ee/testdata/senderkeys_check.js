// Checks senderkeys.json with the browser client's own modules
// (web/senderkeys.js, web/e2ee.js, web/ed25519.js: WebCrypto only). The
// same module runs in Node (senderkeys_node.mjs, from
// TestSenderKeysWebCrypto) and in headless Chromium (tests/e2e,
// TestSenderKeysInChromium): every chain key, message key, ciphertext,
// envelope and signature byte for byte, the receiver's window, the agent's
// wrapped key, and the refusals.
import { adBytes, b64, importPrivate, openBytes } from "../../../web/e2ee.js";
import { wrapFor } from "../../../web/e2ee.js";
import { importSigningKey, envelopeSignedBytes, signEnvelope, verifyEnvelope } from "../../../web/ed25519.js";
import { chainStep, distribution, distributionID, isDistributionID, openGroup, receiverKey, sealGroup, Keys } from "../../../web/senderkeys.js";

const hex = (s) => Uint8Array.from(s.match(/../g) ?? [], (h) => parseInt(h, 16));
const toHex = (b) => Array.from(new Uint8Array(b), (x) => x.toString(16).padStart(2, "0")).join("");
const throws = async (f) => { try { await f(); return null; } catch (err) { return err; } };
const text = (b) => new TextDecoder().decode(b);

export async function check(file) {
  let checks = 0;
  const failures = [];
  const ok = (cond, what) => { checks++; if (!cond) failures.push(what); };

  // The sender key NewSenderKey made: epoch (4, big-endian) || chain key.
  const r = hex(file.senderRandom);
  const sk = { epoch: new DataView(r.buffer).getUint32(0), index: 0, chain: r.slice(4) };
  ok(sk.epoch === file.distribution.epoch, "sender key: epoch");
  ok(JSON.stringify(distribution(sk)) === file.distributionJSON, "distribution: content JSON");
  ok(distributionID(sk.epoch) === "sk-" + file.senderRandom.slice(0, 8) && isDistributionID(distributionID(sk.epoch)), "distribution: id");
  ok(!isDistributionID("sk-1234") && !isDistributionID("xx-12345678"), "distribution: other ids");
  for (const [i, s] of file.chain.entries()) {
    const [mk, next] = await chainStep(hex(s.chainKey));
    ok(toHex(mk) === s.messageKey, `chain: message key ${i}`);
    if (file.chain[i + 1]) ok(toHex(next) === file.chain[i + 1].chainKey, `chain: chain key ${i + 1}`);
  }
  const signer = await importSigningKey(hex(file.signingSeed));
  ok(toHex(signer.publicRaw) === file.signingPublic, "signing key");

  // Seal in chain order (the file lists them in the order a receiver
  // opens them), byte for byte.
  const byIndex = [...file.messages].sort((a, b) => (a.envelope.index || 0) - (b.envelope.index || 0));
  for (const m of byIndex) {
    const random = hex(m.random);
    const ad = adBytes(m.ad);
    ok(toHex(ad) === m.adBytes, `${m.name}: ad bytes`);
    const agents = (m.agents || []).map((a) => ({ device: a.device, publicKey: hex(a.publicKey) }));
    const ephemerals = [];
    for (const [i] of agents.entries()) {
      const pubRaw = Uint8Array.from(atob(m.envelope.keys[i].epk), (c) => c.charCodeAt(0));
      ephemerals.push({ priv: await importPrivate(random.subarray(12 + 44 * i, 44 + 44 * i), pubRaw), pubRaw, nonce: random.subarray(44 + 44 * i, 56 + 44 * i) });
    }
    const env = await sealGroup(sk, new TextEncoder().encode(m.contentText), ad,
      agents.length ? (mk) => wrapFor(mk, ad, agents, ephemerals) : null, random.subarray(0, 12));
    ok(toHex(envelopeSignedBytes(env, m.ad.conversation, m.ad.senderDevice)) === m.signedBytes, `${m.name}: signed bytes`);
    await signEnvelope(env, m.ad.conversation, m.ad.senderDevice, signer.privateKey);
    ok(JSON.stringify(env) === m.envelopeJSON, `${m.name}: envelope byte for byte`);
  }
  ok(sk.index === byIndex.length, "sender: index moved on");

  // Open as a receiver, in the file's order (skips, then the skipped).
  const rk = receiverKey(file.distribution);
  for (const m of file.messages) {
    const ad = adBytes(m.ad);
    const bad = { ...m.envelope, ct: b64(hex(toHex(Uint8Array.from(atob(m.envelope.ct), (c) => c.charCodeAt(0)))).map((x, i) => i === 0 ? x ^ 1 : x)) };
    const before = { index: rk.index, skipped: rk.skipped.size };
    ok(await throws(() => openGroup(rk, bad, ad)), `${m.name}: tampered refused`);
    ok(rk.index === before.index && rk.skipped.size === before.skipped, `${m.name}: a refusal keeps the state`);
    const p = await openGroup(rk, m.envelope, ad);
    ok(text(p) === m.contentText, `${m.name}: opens`);
    ok(await throws(() => openGroup(rk, m.envelope, ad)), `${m.name}: opens once`);
    ok(await verifyEnvelope(m.envelope, m.ad.conversation, m.ad.senderDevice, hex(file.signingPublic)), `${m.name}: verifies`);
    ok(!(await verifyEnvelope({ ...m.envelope, index: (m.envelope.index || 0) + 1 }, m.ad.conversation, m.ad.senderDevice, hex(file.signingPublic))), `${m.name}: another index does not verify`);
    for (const a of m.agents || []) {
      const priv = await importPrivate(hex(a.privateKey), hex(a.publicKey));
      ok(text(await openBytes(m.envelope, ad, a.device, priv, hex(a.publicKey))) === m.contentText, `${m.name}: the agent opens its wrapped key`);
    }
  }
  ok(rk.skipped.size === 0, "receiver: no skipped keys left");
  const other = { ...file.messages[0].envelope, epoch: file.distribution.epoch + 1 };
  ok(/epoch/.test((await throws(() => openGroup(rk, other, adBytes(file.messages[0].ad))))?.message), "another epoch refused");
  const far = { ...file.messages[0].envelope, index: 5000 };
  ok(/too far/.test((await throws(() => openGroup(receiverKey(file.distribution), far, adBytes(file.messages[0].ad))))?.message), "too far ahead refused");

  // The page's key store: a distribution, then a message by content.
  const keys = new Keys();
  const m0 = file.messages[0];
  keys.receive(m0.ad.conversation, m0.ad.senderDevice, file.distribution);
  const c = await keys.open(m0.ad.conversation, m0.ad.senderDevice, m0.envelope, adBytes(m0.ad));
  ok(c.text === JSON.parse(m0.contentText).text, "Keys: opens a message's content");
  ok(await throws(() => keys.open(m0.ad.conversation, "dev-other", m0.envelope, adBytes(m0.ad))), "Keys: no key for another device");
  return { checks, failures };
}

// interop is the browser's half of a fresh exchange with Go (in: {dist:
// {epoch, index?, chainKey}, ad: {conversation, senderDevice,
// clientMessageId}, envelope, signingPublic (hex), reply: ad}): it opens
// Go's v2 message with Go's distribution and verifies its signature, then
// seals a reply with a fresh sender key of its own and signs it; Go opens
// that with the returned distribution.
export async function interop(input) {
  const keys = new Keys();
  keys.receive(input.ad.conversation, input.ad.senderDevice, input.dist);
  const opened = await keys.open(input.ad.conversation, input.ad.senderDevice, input.envelope, adBytes(input.ad));
  const verified = await verifyEnvelope(input.envelope, input.ad.conversation, input.ad.senderDevice, hex(input.signingPublic));
  const { newSenderKey } = await import("../../../web/senderkeys.js");
  const { generateSigningKey } = await import("../../../web/ed25519.js");
  const sk = newSenderKey();
  const dist = distribution(sk).senderKey;
  const signer = await generateSigningKey();
  const env = await sealGroup(sk, new TextEncoder().encode(JSON.stringify({ text: "sealed once in the browser" })), adBytes(input.reply), null);
  await signEnvelope(env, input.reply.conversation, input.reply.senderDevice, signer.privateKey);
  return { opened: opened.text, verified, dist, envelope: env, signingPublic: toHex(signer.publicRaw) };
}

// The web client's sender keys for groups (docs/e2ee.md, "Sender keys"):
// what app.js calls to read distributions and v2 messages (and, to send,
// sealForGroup). The primitives are web/senderkeys.js; this module holds
// the page's state: the keys received, by conversation, sender device
// and epoch. It is not saved: a page load reads each conversation from
// its start, distributions included, as it reads the history.

import * as e2ee from "./e2ee.js";
import * as senderkeys from "./senderkeys.js";

const keys = new senderkeys.Keys();
let me = null; // {deviceId, identity}

// setDevice names this page's device once logged in.
export function setDevice(deviceId, identity) { me = { deviceId, identity }; }

// isDistribution: a message frame that carries a sender key, not a message.
export const isDistribution = (f) => senderkeys.isDistributionID(f.id);

const adOf = (conversation, f) => ({ conversation, senderDevice: f.senderDevice, clientMessageId: f.id });

// take reads a distribution (a v1 message sealed for this device) and
// keeps its sender key; one that does not open is ignored (the messages
// of its epoch then show as undecryptable). app.js does not call it for
// this page's own (it holds the key).
export async function take(conversation, f) {
  if (!f.envelope) return;
  try {
    const c = await e2ee.open(f.envelope, adOf(conversation, f), me.deviceId, me.identity);
    if (c.senderKey) keys.receive(conversation, f.senderDevice, c.senderKey);
  } catch (err) {
    console.warn("sender key distribution not readable", f.seq, err);
  }
}

// open decrypts a message frame's envelope: v2 with the sender's key,
// v1 with this device's key.
export function open(conversation, f) {
  if (f.envelope?.v === 2) return keys.open(conversation, f.senderDevice, f.envelope, e2ee.adBytes(adOf(conversation, f)));
  return e2ee.open(f.envelope, adOf(conversation, f), me.deviceId, me.identity);
}

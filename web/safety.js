// Safety numbers and key-change notices (docs/e2ee.md, "Safety numbers").
// A user's identity is every current device's X25519 public key followed
// by its Ed25519 signing key (if any), sorted bytewise and concatenated;
// its fingerprint is Signal's NumericFingerprint (version 0, 5,200
// iterations of SHA-512 over the keys and the user id, 30 digits); two
// users compare the 60 digits of both, the smaller first — the same as
// sdk/e2ee.SafetyNumber, checked against the same vectors
// (sdk/e2ee/testdata/safety_numbers.json).
//
// The client remembers, per contact, a digest of the identity it saw last
// (localStorage: key digests only, nothing secret); when a key directory
// it fetches lists that contact with another identity — a device added,
// removed or replaced — every conversation with them shows "X's security
// code changed".

const unb64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
const hexOf = (b) => [...new Uint8Array(b)].map((x) => x.toString(16).padStart(2, "0")).join("");

function compareBytes(a, b) {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

// identityKeyBytes: devices are [{publicKey, signingKey?}] as raw bytes.
export function identityKeyBytes(devices) {
  const keys = devices.map((d) => {
    const k = new Uint8Array(d.publicKey.length + (d.signingKey?.length || 0));
    k.set(d.publicKey);
    if (d.signingKey) k.set(d.signingKey, d.publicKey.length);
    return k;
  }).sort(compareBytes);
  const out = new Uint8Array(keys.reduce((n, k) => n + k.length, 0));
  let at = 0;
  for (const k of keys) { out.set(k, at); at += k.length; }
  return out;
}

export const ITERATIONS = 5200;

// fingerprint: 30 digits of one user.
export async function fingerprint(userId, keys) {
  const id = new TextEncoder().encode(userId);
  let hash = new Uint8Array(2 + keys.length + id.length); // version 0, big-endian
  hash.set(keys, 2);
  hash.set(id, 2 + keys.length);
  const buf = new Uint8Array(64 + keys.length);
  buf.set(keys, 64);
  for (let i = 0; i < ITERATIONS; i++) {
    const input = i === 0 ? concat(hash, keys) : (buf.set(hash), buf);
    hash = new Uint8Array(await crypto.subtle.digest("SHA-512", input));
  }
  let s = "";
  for (let i = 0; i < 30; i += 5) {
    let n = 0n;
    for (const c of hash.subarray(i, i + 5)) n = (n << 8n) | BigInt(c);
    s += String(n % 100000n).padStart(5, "0");
  }
  return s;
}

function concat(a, b) {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

// safetyNumber: the 60 digits two users compare.
export async function safetyNumber(userA, keysA, userB, keysB) {
  const [a, b] = await Promise.all([fingerprint(userA, keysA), fingerprint(userB, keysB)]);
  return a < b ? a + b : b + a;
}

export const format = (n) => n.match(/.{5}/g).join(" ");

// fromDirectory turns a key directory's entries (base64) into devices.
export const fromDirectory = (ds) => ds.map((d) => ({ publicKey: unb64(d.publicKey), signingKey: d.signingKey ? unb64(d.signingKey) : null }));

// ---------------------------------------------------------------- notices

let X; // {S, api, conv, render}

export function init(ctx) { X = ctx; }

const storeKey = () => "agentchat.identities." + X.S.user.deviceId;

function seen() {
  try { return JSON.parse(localStorage.getItem(storeKey()) || "{}"); } catch { return {}; }
}

// observe takes a key directory just fetched (a conversation's devices):
// for each other user in it whose identity differs from the one this
// device saw last, a notice in every conversation with them. The first
// sight of someone is remembered silently.
export async function observe(devices) {
  if (!X?.S.user) return;
  const byUser = new Map();
  for (const d of devices) {
    if (d.userId === X.S.user.userId || !d.userId) continue;
    if (!byUser.has(d.userId)) byUser.set(d.userId, []);
    byUser.get(d.userId).push(d);
  }
  const known = seen();
  let changed = false;
  for (const [user, ds] of byUser) {
    const digest = hexOf(await crypto.subtle.digest("SHA-256", identityKeyBytes(fromDirectory(ds))));
    if (known[user] === digest) continue;
    const before = known[user];
    known[user] = digest;
    changed = true;
    if (!before) continue;
    const who = X.S.names.get(user) || user;
    for (const c of X.S.convs.values()) {
      if (c.members.includes(user)) c.msgs.push({ notice: `🔐 ${who}'s security code changed`, keychange: user, at: new Date().toISOString() });
    }
  }
  if (changed) {
    localStorage.setItem(storeKey(), JSON.stringify(known));
    X.render();
  }
}

// numberWith is the safety number of this user and another, from their
// current devices (accounts' key directory).
export async function numberWith(user) {
  const me = X.S.user.userId;
  const [mine, theirs] = await Promise.all([
    X.api("GET", "/v1/users/" + encodeURIComponent(me) + "/devices"),
    X.api("GET", "/v1/users/" + encodeURIComponent(user) + "/devices"),
  ]);
  observe(theirs.devices.map((d) => ({ ...d, userId: user })));
  return safetyNumber(me, identityKeyBytes(fromDirectory(mine.devices)), user, identityKeyBytes(fromDirectory(theirs.devices)));
}

// Web Push for the web client (docs/protocol.md, "Push notifications"):
// the service worker (sw.js) and this device's subscription in accounts.
// After login the client registers sw.js and, when the user has allowed
// notifications, subscribes with the server's VAPID key and hands the
// subscription to accounts (PUT /v1/devices/{id}/push-subscription) — at
// every login, so a renewed subscription or a new key replaces the old.
// While the browser has not asked yet, a 🔔 button asks: the permission
// prompt needs a user gesture. A click on a notification opens its
// conversation here (the worker's message, or #c=<id> in a new tab).

let app; // {api(method, path, body), openConversation(id), hasConversation(id), catchUp(id)}

// init wires what does not need a session: the worker's messages ("open"
// a conversation, after a click; a "push" came for one, to catch up on).
export function init(a) {
  app = a;
  if (!("serviceWorker" in navigator)) return;
  navigator.serviceWorker.addEventListener("message", (ev) => {
    if (ev.data?.type === "open") openWanted(ev.data.conversation);
    if (ev.data?.type === "push" && app.hasConversation(ev.data.conversation)) app.catchUp(ev.data.conversation);
  });
}

// afterLogin registers the worker and subscribes this device (deviceId)
// if notifications are allowed; otherwise shows the button that asks.
export async function afterLogin(deviceId) {
  openWanted(new URLSearchParams(location.hash.slice(1)).get("c"));
  if (!("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window)) return;
  let key;
  try {
    key = (await app.api("GET", "/v1/push")).vapidPublicKey;
  } catch {
    return; // push is off on this server (404)
  }
  const reg = await navigator.serviceWorker.register("sw.js");
  await navigator.serviceWorker.ready;
  const button = document.getElementById("notify");
  const subscribe = async () => {
    const sub = (await reg.pushManager.getSubscription()) ?? await reg.pushManager.subscribe({
      userVisibleOnly: true, applicationServerKey: unb64url(key),
    });
    // A subscription made with another key (the server's changed) fails at
    // the push service: make a new one.
    const made = sub.options?.applicationServerKey;
    const fresh = made && !equal(new Uint8Array(made), unb64url(key))
      ? (await sub.unsubscribe(), await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: unb64url(key) }))
      : sub;
    await app.api("PUT", `/v1/devices/${encodeURIComponent(deviceId)}/push-subscription`, fresh.toJSON());
  };
  const attempt = () => subscribe().catch((err) => console.warn("push: not subscribed", err));
  if (Notification.permission === "granted") return attempt();
  if (Notification.permission === "default" && button) {
    button.hidden = false;
    button.onclick = async () => {
      button.hidden = true;
      if (await Notification.requestPermission() === "granted") attempt();
    };
  }
}

// forget removes this device's subscription (logout): a shared browser
// must not wake for the next user's device.
export async function forget(deviceId) {
  try {
    const reg = await navigator.serviceWorker?.getRegistration();
    const sub = await reg?.pushManager.getSubscription();
    await sub?.unsubscribe();
    await app.api("DELETE", `/v1/devices/${encodeURIComponent(deviceId)}/push-subscription`);
  } catch { /* best effort: the server drops it when its push service says gone */ }
}

function openWanted(id) {
  if (id && app.hasConversation(id)) {
    app.openConversation(id);
    if (location.hash) history.replaceState(null, "", location.pathname + location.search);
  }
}

function unb64url(s) {
  const b = atob(s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4));
  return Uint8Array.from(b, (c) => c.charCodeAt(0));
}

function equal(a, b) { return a.length === b.length && a.every((x, i) => x === b[i]); }

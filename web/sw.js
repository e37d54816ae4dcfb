// The service worker: it wakes for a Web Push (docs/protocol.md, "Push
// notifications") and shows "New message" — nothing else. The push's
// payload names at most a conversation ({"type":"message","conversation":
// id}); it is kept in the notification's data for the click, never put on
// screen, so the notification centre and lock screen learn nothing, and a
// forged push cannot put words there either. Open tabs hear of the push
// (they sync the conversation). A click focuses an open tab of
// the client and asks it to open the conversation, or opens the client on
// it (#c=<id>). Served from the root, so its scope is the whole client.
"use strict";

// An id as the platform makes them (sdk/events.ValidID): anything else in
// a payload is ignored.
const validID = /^[A-Za-z0-9_.:-]{1,128}$/;

function conversationOf(data) {
  try {
    const p = data?.json();
    if (p?.type === "message" && typeof p.conversation === "string" && validID.test(p.conversation)) return p.conversation;
  } catch { /* not JSON: a bare wake-up */ }
  return "";
}

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (ev) => ev.waitUntil(self.clients.claim()));

self.addEventListener("push", (ev) => {
  const conversation = conversationOf(ev.data);
  // One notification per conversation (tag): a second push replaces the
  // first instead of stacking.
  ev.waitUntil((async () => {
    await self.registration.showNotification("New message", {
      tag: "agentchat:" + (conversation || "new"),
      data: { conversation },
    });
    // An open tab may have missed the message (a socket that dropped while
    // the laptop slept): tell it, and it catches up at once.
    for (const c of await self.clients.matchAll({ type: "window" })) c.postMessage({ type: "push", conversation });
  })());
});

self.addEventListener("notificationclick", (ev) => {
  ev.notification.close();
  const conversation = ev.notification.data?.conversation || "";
  ev.waitUntil((async () => {
    const tabs = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
    const tab = tabs.find((c) => new URL(c.url).origin === self.location.origin);
    if (tab) {
      tab.postMessage({ type: "open", conversation });
      await tab.focus();
      return;
    }
    await self.clients.openWindow("./" + (conversation ? "#c=" + encodeURIComponent(conversation) : ""));
  })());
});

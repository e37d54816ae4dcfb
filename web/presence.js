// Presence in the web client (docs/protocol.md, "Presence"): "online" or
// "last seen …" under the chat title of a direct conversation, and the
// privacy select (who sees one's own). Everything comes pushed as presence
// frames: a snapshot answering the request sent after each hello, then one
// frame per change. Nothing here asks the server for anyone's presence.
//
// app.js calls: init(api) once logged in, request(send) on hello,
// onFrame(f) for each presence frame, and render(conv, me) when it draws
// the open conversation.

const known = new Map(); // user id → {online, lastSeen (Date)}; absent: nothing to show
let requests = 0;
let shown = null;        // {conv, me} of the last render, for redraws

// request asks for the presence of everyone this user may watch.
export function request(send) {
  send({ type: "presence", id: "p-" + (++requests) });
}

// onFrame applies a presence frame: one user's (no online, no lastSeen:
// forget them), or a snapshot (users; anyone not listed: nothing to show).
export function onFrame(f) {
  if (f.user) {
    apply(f);
  } else {
    const listed = new Set((f.users || []).map((u) => u.user));
    for (const u of [...known.keys()]) if (!listed.has(u)) known.delete(u);
    for (const u of f.users || []) apply(u);
  }
  redraw();
}

function apply(f) {
  if (f.online || f.lastSeen) known.set(f.user, { online: !!f.online, lastSeen: f.lastSeen ? new Date(f.lastSeen) : null });
  else known.delete(f.user);
}

// line is what to show of user's presence ("" for nothing).
export function line(user, now = new Date()) {
  const p = known.get(user);
  if (!p) return "";
  if (p.online) return "online";
  if (!p.lastSeen) return "";
  const t = p.lastSeen;
  const time = t.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  const day = new Date(now.getFullYear(), now.getMonth(), now.getDate());
  const that = new Date(t.getFullYear(), t.getMonth(), t.getDate());
  const days = Math.round((day - that) / 86400000);
  if (days <= 0) return "last seen today at " + time;
  if (days === 1) return "last seen yesterday at " + time;
  return "last seen " + t.toLocaleDateString() + " at " + time;
}

// render shows, under the chat title, the presence of the other member of
// a direct conversation (groups show none).
export function render(conv, me) {
  shown = { conv, me };
  const box = document.getElementById("chat-presence");
  if (!box) return;
  const peer = conv && conv.kind === "direct" ? conv.members.find((m) => m !== me) : null;
  const text = peer ? line(peer) : "";
  box.textContent = text;
  box.dataset.state = text === "online" ? "online" : text ? "last-seen" : "none";
  box.hidden = !text;
}

function redraw() { if (shown) render(shown.conv, shown.me); }
setInterval(redraw, 60000); // "today" becomes "yesterday"

// init loads the privacy setting into its select and saves changes.
export async function init(api) {
  const sel = document.getElementById("presence-visibility");
  const err = document.getElementById("presence-error");
  if (!sel) return;
  try {
    sel.value = (await api("GET", "/v1/me/presence")).visibility;
  } catch (e) {
    err.textContent = e.message;
  }
  sel.disabled = false;
  sel.onchange = async () => {
    err.textContent = "";
    sel.disabled = true;
    try {
      sel.value = (await api("PUT", "/v1/me/presence", { visibility: sel.value })).visibility;
    } catch (e) {
      err.textContent = e.message;
    } finally {
      sel.disabled = false;
    }
  };
}

// Groups in the web client (docs/protocol.md, "Group management"): the
// membership entries a group's conversation shows ("Alice added Bob"),
// and the group info panel — members with admin badges; for an admin,
// add, remove and make admin; for everyone, leave. Changes go to accounts;
// what they changed comes back as a conversation frame (members, admins)
// and as an entry in the conversation, like for every other member.

let X; // what app.js lends: {S, api, conv, name, render}

export function init(ctx) {
  X = ctx;
  const $ = (id) => document.getElementById(id);
  $("group-info").onclick = () => { $("group-panel").hidden = !$("group-panel").hidden; render(); };
  $("group-add-form").onsubmit = (ev) => {
    ev.preventDefault();
    const v = $("group-add-name").value.trim();
    if (v) act(async (c) => { await X.api("POST", path(c, "members"), { userId: await userID(v) }); $("group-add-name").value = ""; });
  };
  $("group-leave").onclick = () => act((c) => X.api("DELETE", path(c, "members", X.S.user.userId)));
}

const path = (c, what, user) => "/v1/conversations/" + encodeURIComponent(c.id) + "/" + what + (user ? "/" + encodeURIComponent(user) : "");

// userID takes a username (or an agent's or user's id, as the new-chat box does).
async function userID(v) {
  try { return (await X.api("GET", "/v1/users?username=" + encodeURIComponent(v))).userId; } catch { return v; }
}

// act runs one change of the current group, showing a refusal ("only the
// group's admins can do that") in the panel.
async function act(fn) {
  const c = X.S.current && X.conv(X.S.current);
  const err = document.getElementById("group-error");
  err.textContent = "";
  if (!c) return;
  try { await fn(c); } catch (e) { err.textContent = e.message; }
}

// isAdmin: an admin of c (any member of a group from before admins).
export function isAdmin(c, user) {
  const admins = c.admins || [];
  return admins.length ? admins.includes(user) : c.members.includes(user);
}

// entryText renders a membership change the way every client does
// (sdk/client.MemberChangeText): "Alice added Bob", "You left",
// "Carol is now an admin".
export function entryText(ch, me, nameOf) {
  const who = (u) => (u === me ? "You" : nameOf(u) || u);
  const obj = (u) => (u === me ? "you" : who(u));
  let s;
  switch (ch.op) {
    case "add": s = `${who(ch.by)} added ${obj(ch.user)}`; break;
    case "remove": s = `${who(ch.by)} removed ${obj(ch.user)}`; break;
    case "leave": s = `${who(ch.user)} left`; break;
    case "admin": s = ch.user === me ? "You are now an admin" : `${who(ch.user)} is now an admin`; break;
    case "unadmin": s = ch.user === me ? "You are no longer an admin" : `${who(ch.user)} is no longer an admin`; break;
    default: s = `${who(ch.by)} changed the group`;
  }
  if (ch.promoted) s += ch.promoted === me ? "; you are now an admin" : `; ${who(ch.promoted)} is now an admin`;
  return s;
}

// render shows the info button for a group and, when open, the panel for
// the current conversation; app.js calls it whenever it redraws the chat.
export function render() {
  const $ = (id) => document.getElementById(id);
  const c = X.S.current && X.conv(X.S.current);
  const mine = !!c && c.members.includes(X.S.user.userId);
  const group = mine && c.kind === "group";
  $("group-info").hidden = !mine;
  $("group-info").textContent = group ? "Group info" : "Info";
  if (!mine) { $("group-panel").hidden = true; return; }
  if ($("group-panel").hidden) return;
  const me = X.S.user.userId;
  const admin = group && isAdmin(c, me);
  $("group-leave").hidden = !group;
  if ($("safety-number").dataset.conv !== c.id) { $("safety-number").textContent = ""; $("safety-number").dataset.conv = c.id; }
  const ul = $("group-members");
  ul.replaceChildren();
  for (const m of c.members) {
    X.name(m);
    const li = document.createElement("li");
    li.className = "member";
    li.dataset.user = m;
    const label = document.createElement("span");
    label.className = "name";
    label.textContent = m === me ? "You" : X.S.names.get(m) || m;
    li.append(label);
    if ((c.admins || []).includes(m)) {
      const b = document.createElement("span");
      b.className = "admin-badge";
      b.textContent = "admin";
      li.append(b);
    }
    if (m !== me) li.append(button("Security code", "safety", () => showSafety(c, m)));
    if (admin && m !== me) {
      if (!(c.admins || []).includes(m)) li.append(button("Make admin", "make-admin", () => act((g) => X.api("POST", path(g, "admins"), { userId: m }))));
      else li.append(button("Dismiss as admin", "dismiss-admin", () => act((g) => X.api("DELETE", path(g, "admins", m)))));
      li.append(button("Remove", "remove", () => act((g) => X.api("DELETE", path(g, "members", m)))));
    }
    ul.append(li);
  }
  $("group-add-form").hidden = !admin;
}

// showSafety shows the safety number with user (safety.js): compare it
// with theirs to know no device was slipped into either key list.
async function showSafety(c, user) {
  const out = document.getElementById("safety-number");
  out.dataset.conv = c.id;
  out.dataset.user = user;
  out.textContent = "…";
  try {
    const n = await X.safety.numberWith(user);
    out.dataset.number = n;
    out.textContent = `Security code with ${X.S.names.get(user) || user}: ${X.safety.format(n)}`;
  } catch (e) { out.textContent = e.message; }
}

function button(text, cls, onclick) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = cls;
  b.textContent = text;
  b.onclick = onclick;
  return b;
}

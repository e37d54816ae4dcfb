// Replies, edits, deletes and reactions in the web client
// (docs/protocol.md, "Replies, edits, deletes and reactions"). Each is an
// ordinary sealed message whose content refers to an earlier one by seq —
// {text, replyTo}, {text: "", edit: {ref, text}}, {text: "", delete: {ref}},
// {text: "", react: {ref, emoji}} — so the server stores and routes it
// like any other and learns nothing of it. What they do is worked out
// here, at render time, from the conversation's messages in seq order
// (derive): the same rules as the Go SDK's e2ee.CheckAction, so that every
// member's devices show the same, and whatever put the messages there (a
// sync, a reload, a local history) gets the same result. Delete for me is
// this browser's alone (localStorage): nothing is sent.

export const EDIT_WINDOW = 15 * 60 * 1000;        // e2ee.EditWindow
export const DELETE_WINDOW = 48 * 60 * 60 * 1000; // e2ee.DeleteWindow
const EMOJIS = ["👍", "❤️", "😂", "😮", "😢", "🙏"];

let hooks = null; // from app.js: send(content), render(), me(), name(user)
const composing = { mode: "", ref: 0 }; // the composer's reply or edit target

export function init(h) {
  hooks = h;
  const bar = document.createElement("div");
  bar.id = "compose-target";
  bar.hidden = true;
  const label = document.createElement("span");
  const cancel = document.createElement("button");
  cancel.type = "button";
  cancel.textContent = "✕";
  cancel.title = "Cancel";
  cancel.onclick = () => target("", 0);
  bar.append(label, cancel);
  document.getElementById("composer-form").before(bar);
}

export const kindOf = (content) =>
  content?.edit ? "edit" : content?.delete ? "delete" : content?.react ? "reaction" :
  content?.senderKey ? "senderkey" : "message"; // a group's sender key (groupkeys.js): never shown
const refOf = (content) => (content?.edit || content?.delete || content?.react)?.ref || 0;

// isAction: an edit, delete or reaction — not a message of its own (not
// shown as a bubble, not unread, not a preview).
export const isAction = (m) => !!m.content && kindOf(m.content) !== "message";

// uncounted: not an unread message — an action, or one deleted for me.
export const uncounted = (c, m) => isAction(m) || hidden(c.id, m.seq);

// check is e2ee.CheckAction: why action entry `by` must not apply to the
// message `orig` ("" when it applies).
export function check(by, orig) {
  const kind = kindOf(by.content);
  if (!orig) return "the message it refers to is unknown";
  if (!orig.content || kindOf(orig.content) !== "message" || orig.seq >= by.seq) return "it refers to no earlier message";
  if (orig.deleted) return "the message was deleted";
  if (kind === "reaction") return "";
  if (!by.sender || by.sender !== orig.sender || (orig.verified && !by.verified)) return "only the sender may edit or delete a message";
  const window = kind === "delete" ? DELETE_WINDOW : EDIT_WINDOW;
  // Not "> window": a time missing (NaN) is too late, as a zero time is in Go.
  if (!(Date.parse(by.at) - Date.parse(orig.at) <= window)) return "the time to edit or delete it has passed";
  return "";
}

// derive works out, from a conversation's messages in seq order, each
// message's state — {edited, deleted, reactions: Map(user → emoji)} by seq —
// and why each refused action is refused (invalid, by seq). An action
// about a message below the oldest one loaded is neither: it is judged
// once scrolling back loads that message (c.msgs runs unbroken from its
// first seq, so every action on a loaded message is loaded too). Cached
// until the conversation has more messages.
export function derive(c) {
  if (c.derived?.n === c.msgs.length) return c.derived;
  const state = new Map(), invalid = new Map(), bySeq = new Map();
  const floor = c.msgs.find((m) => m.seq)?.seq || 0;
  for (const m of c.msgs) {
    if (!m.seq) continue;
    const st = { seq: m.seq, sender: m.sender, at: m.at, verified: m.verified, content: m.content, deleted: false };
    bySeq.set(m.seq, st);
    if (!isAction(m) || kindOf(m.content) === "senderkey") continue;
    const ref = refOf(m.content);
    if (ref < floor) continue; // not loaded yet
    const why = check(st, bySeq.get(ref));
    if (why) { invalid.set(m.seq, why); continue; }
    bySeq.get(ref).deleted ||= kindOf(m.content) === "delete";
    const s = state.get(ref) || { edited: null, deleted: false, reactions: new Map() };
    state.set(ref, s);
    if (m.content.edit) s.edited = m.content.edit.text;
    if (m.content.delete) { s.deleted = true; s.reactions.clear(); }
    if (m.content.react) {
      if (m.content.react.emoji) s.reactions.set(m.sender, m.content.react.emoji);
      else s.reactions.delete(m.sender);
    }
  }
  c.derived = { n: c.msgs.length, state, invalid, bySeq };
  return c.derived;
}

// body is what a message says now: its edit, "This message was deleted",
// or undefined for its own text.
export function body(c, m) {
  const s = derive(c).state.get(m.seq);
  if (s?.deleted) return "🚫 This message was deleted";
  return s?.edited ?? undefined;
}

// ---------------------------------------------------------------- delete for me

const hiddenKey = () => "agentchat.deletedForMe." + hooks.me();
let hiddenCache = { key: "", all: {} }; // parsed once per user, written through
function hiddenAll() {
  if (hiddenCache.key !== hiddenKey()) {
    let all = {};
    try { all = JSON.parse(localStorage.getItem(hiddenKey()) || "{}"); } catch { /* none kept */ }
    hiddenCache = { key: hiddenKey(), all };
  }
  return hiddenCache.all;
}
export const hidden = (conv, seq) => !!hooks && (hiddenAll()[conv] || []).includes(seq);
function hide(conv, seq) {
  const all = hiddenAll();
  all[conv] = [...new Set([...(all[conv] || []), seq])];
  localStorage.setItem(hiddenKey(), JSON.stringify(all));
}

// ---------------------------------------------------------------- composing

function target(mode, ref, label) {
  composing.mode = mode;
  composing.ref = ref;
  const bar = document.getElementById("compose-target");
  bar.hidden = !mode;
  bar.dataset.mode = mode;
  bar.firstChild.textContent = label || "";
  if (!mode) document.getElementById("composer").value = "";
  document.getElementById("composer").focus();
}

// compose turns the composer's text into content: a reply or an edit
// when one was picked, else a message.
export function compose(text) {
  const { mode, ref } = composing;
  composing.mode = "";
  document.getElementById("compose-target").hidden = true;
  if (mode === "edit") return { text: "", edit: { ref, text } };
  if (mode === "reply") return { text, replyTo: ref };
  return { text };
}

const snippet = (s) => (s.length > 60 ? s.slice(0, 60) + "…" : s);
function textOf(c, seq) {
  const o = derive(c).bySeq.get(seq);
  if (!o) return "(a message not loaded)";
  const now = body(c, o);
  return now ?? (o.content?.text || (o.content?.media ? "📎 " + (o.content.media.name || "file") : "🔒"));
}

// ---------------------------------------------------------------- rendering

const el = (tag, cls, text) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
};

// notice is the line shown in place of a refused action; null for an
// action that applies (it shows on its message, not by itself).
export function notice(c, m) {
  const why = derive(c).invalid.get(m.seq);
  if (!why) return null;
  const li = el("li", "msg notice invalid-action", `⚠ ${hooks.name(m.sender)}'s ${kindOf(m.content)} of a message was ignored: ${why}`);
  li.dataset.seq = m.seq;
  return li;
}

// decorate adds to a message's bubble what its replies, edits, deletes
// and reactions make of it, and the actions on it (shown on hover).
export function decorate(li, c, m) {
  const s = derive(c).state.get(m.seq);
  const text = li.querySelector(".text");
  if (m.content?.replyTo) {
    const q = el("div", "quote");
    const o = derive(c).bySeq.get(m.content.replyTo);
    q.append(el("span", "quote-from", o ? hooks.name(o.sender) : ""), el("span", "quote-text", snippet(textOf(c, m.content.replyTo))));
    q.dataset.ref = m.content.replyTo;
    q.title = "Show the message answered";
    q.onclick = () => {
      const target = document.querySelector(`#messages li.msg[data-seq="${m.content.replyTo}"]`);
      if (!target) return;
      target.scrollIntoView({ block: "center" });
      target.classList.add("flash");
      setTimeout(() => target.classList.remove("flash"), 1500);
    };
    li.querySelector(".from") ? li.querySelector(".from").after(q) : li.prepend(q);
  }
  if (s?.deleted) {
    li.classList.add("deleted");
    for (const x of li.querySelectorAll(".media, .quote")) x.remove();
    if (text) text.textContent = body(c, m);
    else li.prepend(el("div", "text", body(c, m)));
  } else if (s?.edited != null) {
    if (text) text.textContent = s.edited;
    li.querySelector(".meta")?.prepend(el("span", "edited", "edited "));
  }
  if (s?.reactions.size) {
    const row = el("div", "reactions");
    const counts = new Map();
    for (const [u, e] of s.reactions) counts.set(e, [...(counts.get(e) || []), u]);
    for (const [e, users] of counts) {
      const chip = el("span", "reaction" + (users.includes(hooks.me()) ? " own" : ""), `${e} ${users.length}`);
      chip.dataset.emoji = e;
      chip.title = users.map(hooks.name).join(", ");
      if (users.includes(hooks.me())) chip.onclick = () => hooks.send({ text: "", react: { ref: m.seq, emoji: "" } });
      row.append(chip);
    }
    li.append(row);
  }
  if (!m.content || s?.deleted) return li;
  li.append(toolbar(c, m, s));
  return li;
}

function toolbar(c, m, s) {
  const bar = el("div", "actions");
  const age = Date.now() - Date.parse(m.at);
  const mine = m.sender === hooks.me();
  const button = (cls, label, title, onclick) => {
    const b = el("button", "act " + cls, label);
    b.type = "button";
    b.title = title;
    b.onclick = (ev) => { ev.stopPropagation(); onclick(); };
    bar.append(b);
  };
  button("act-reply", "↩", "Reply", () => target("reply", m.seq, "Replying to: " + snippet(textOf(c, m.seq))));
  button("act-react", "☺", "React", () => {
    const pick = bar.querySelector(".picker") || el("span", "picker");
    pick.replaceChildren(...EMOJIS.map((e) => {
      const b = el("button", "emoji", e);
      b.type = "button";
      const mineNow = s?.reactions.get(hooks.me()) === e;
      b.onclick = (ev) => { ev.stopPropagation(); hooks.send({ text: "", react: { ref: m.seq, emoji: mineNow ? "" : e } }); pick.remove(); };
      return b;
    }));
    bar.append(pick);
  });
  if (mine && age < EDIT_WINDOW && !m.content.media) {
    button("act-edit", "✎", "Edit", () => {
      target("edit", m.seq, "Editing: " + snippet(textOf(c, m.seq)));
      document.getElementById("composer").value = textOf(c, m.seq);
    });
  }
  if (mine && age < DELETE_WINDOW) {
    button("act-delete", "🗑", "Delete for everyone", () => hooks.send({ text: "", delete: { ref: m.seq } }));
  }
  button("act-delete-me", "🙈", "Delete for me", () => { hide(c.id, m.seq); hooks.render(); });
  return bar;
}

// An agent's lifecycle receipts (docs/protocol.md, "agent" frames of kind
// "status"): where its answer stands — waking, queued, thinking, using
// tools, streaming — shown as a small status line under the messages
// until the answer's done, error or reply. Statuses may arrive out of
// order; each carries an index that grows through the answer, and only a
// later one replaces the one shown.

const texts = {
  waking: () => "is waking up…",
  queued: () => "is queued: all its model slots are busy…",
  thinking: () => "is thinking…",
  tool: (s) => `is using ${(s.tools || []).join(", ") || "a tool"}…`,
  streaming: () => "is answering…",
};

const statuses = (c) => (c.statuses ??= new Map());

// applyStatus takes one status frame of conversation c, answer key; it is
// dropped when the answer has ended or a later status is shown already.
export function applyStatus(c, key, f) {
  if (c.ended.has(key) || !texts[f.state]) return false;
  const have = statuses(c).get(key);
  const index = f.index || 0;
  if (have && have.index >= index) return false;
  statuses(c).set(key, { agent: f.agent || f.sender, replyTo: f.replyTo, index, state: f.state, tools: f.tools });
  return true;
}

// endStatus forgets the answer's status (its done, error or reply is in).
export function endStatus(c, key) { statuses(c).delete(key); }

// endAgent forgets every status of agent in c (a reply of it came that
// names no answer).
export function endAgent(c, agent) {
  for (const [k, s] of statuses(c)) if (s.agent === agent) statuses(c).delete(k);
}

// hasStatus says whether agent shows a status in c (then its typing
// "thinking" says nothing more).
export function hasStatus(c, agent) {
  for (const s of statuses(c).values()) if (s.agent === agent) return true;
  return false;
}

// render fills el with one line per answer in progress: a <div> with
// data-agent, data-reply-to and data-state.
export function render(el, c, name) {
  el.replaceChildren();
  if (!c) return;
  for (const s of statuses(c).values()) {
    const d = document.createElement("div");
    d.className = "agent-status";
    d.dataset.agent = s.agent;
    d.dataset.replyTo = s.replyTo;
    d.dataset.state = s.state;
    d.textContent = `${name(s.agent)} ${texts[s.state](s)}`;
    el.append(d);
  }
}

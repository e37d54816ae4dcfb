// Local search: the search box above the conversation list looks through
// this device's stored history (history.js), opening each record here —
// the query never leaves the browser. A result opens its conversation.
import * as history from "./history.js";

// init wires the search box; app gives {titleOf(id), openConversation(id)}.
export function init(app) {
  const box = document.getElementById("search");
  const list = document.getElementById("search-results");
  let timer, asked = 0;
  box.oninput = () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const q = box.value.trim();
      const n = ++asked;
      const hits = q ? await history.search(q) : [];
      if (n !== asked) return; // a newer query is running
      list.replaceChildren();
      list.hidden = !q;
      if (q && !hits.length) list.append(li("search-none", "No messages found on this device"));
      for (const h of hits) {
        const x = li("search-result");
        x.dataset.conv = h.conv;
        x.dataset.seq = h.seq;
        x.append(li("search-title", app.titleOf(h.conv), "span"), li("search-text", h.text, "span"));
        x.onclick = () => { box.value = ""; list.hidden = true; app.openConversation(h.conv); };
        list.append(x);
      }
    }, 150);
  };
}

function li(cls, text, tag = "li") {
  const e = document.createElement(tag);
  e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

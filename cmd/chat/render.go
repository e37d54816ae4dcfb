package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/agentchat/agentchat/sdk/client"
	"github.com/agentchat/agentchat/sdk/e2ee"
)

// view turns client events into lines on the screen, and marks what it
// showed as read.
type view struct {
	scr  *screen
	c    *client.Client
	conv string
	me   string

	// sending is held from Send until its id is noted, so that a status
	// for that id (it can come back first) waits for the text to show.
	sending sync.Mutex

	mu     sync.Mutex
	names  map[string]string // user id → shown name
	sent   map[string]string // own client message ids of this run → text
	typing map[string]string // user → last typing state shown
	// agentLines: agent → its status line shown last (lifecycle.go)
	agentLines map[string]string
	wasDown    bool

	media     map[int64]*e2ee.Media  // seq → the file of that message of conv, for /save
	presence  presences              // others' presence, as this user may see it
	members   map[string]bool        // the open conversation's members
	sentMedia map[string]*e2ee.Media // own client message ids of this run → their files

	texts map[int64]string // seq → what that message of conv says now, for quotes (actions.go)
	sess  *client.Session  // for group commands (groups.go); nil: none
	st    *deviceState     // where delete for me is kept; nil: this run only
}

func (v *view) name(user string) string {
	v.mu.Lock()
	defer v.mu.Unlock()
	if user == v.me {
		return "you"
	}
	if n, ok := v.names[user]; ok {
		return n
	}
	return user
}

func (v *view) noteSent(id, text string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.sent[id] = text
}

// sentText is the text this run sent under id; it first waits for a Send
// in flight to be noted.
func (v *view) sentText(id string) (string, bool) {
	v.sending.Lock()
	v.sending.Unlock() //nolint:staticcheck // only waits
	v.mu.Lock()
	defer v.mu.Unlock()
	t, ok := v.sent[id]
	return t, ok
}

func snippet(s string) string {
	if r := []rune(s); len(r) > 24 {
		return string(r[:24]) + "…"
	}
	return s
}

// show renders one event.
func (v *view) show(ev client.Event) {
	switch e := ev.(type) {
	case *client.Message:
		if e.Conversation == v.conv && e.Content.Kind() == e2ee.KindMessage {
			v.noteText(e.Seq, e.Content.Text)
		}
		if v.hidden(e.Conversation, e.Seq) {
			return // deleted for me
		}
		if _, mine := v.sentText(e.ID); mine && e.Own && e.Content.Kind() == e2ee.KindMessage {
			return // shown when typed; the ticks follow
		}
		prefix := ""
		if e.Conversation != v.conv {
			prefix = "(" + e.Conversation + ") "
		}
		at := ""
		if !e.StoredAt.IsZero() {
			at = " " + e.StoredAt.Local().Format("15:04")
		}
		text := e.Content.Text
		if m := e.Content.Media; m != nil {
			text = strings.TrimSpace(fmt.Sprintf("📎 %s (%s, %s) %s", fileName(m), size(m.Size), m.Type, text))
			if e.Conversation == v.conv {
				v.mu.Lock()
				v.media[e.Seq] = m
				v.mu.Unlock()
				text += fmt.Sprintf(" — /save %d", e.Seq)
			}
		}
		who := v.name(e.Sender)
		if !e.Verified {
			who += " ⚠ unverified" // not signed by the sender device's key: maybe not from them
		}
		if line, ok := v.actionLine(e, who); ok {
			v.scr.println(fmt.Sprintf("%s[#%d%s] %s", prefix, e.Seq, at, line))
			return
		}
		if e.Content.ReplyTo > 0 {
			who += fmt.Sprintf(" ↪ #%d %s", e.Content.ReplyTo, v.quote(e.Content.ReplyTo))
		}
		v.scr.println(fmt.Sprintf("%s[#%d%s] %s: %s", prefix, e.Seq, at, who, text))
		v.mu.Lock()
		delete(v.typing, e.Sender)
		delete(v.agentLines, e.Sender)
		v.mu.Unlock()
		if !e.Own && e.Conversation == v.conv && v.c != nil {
			_ = v.c.MarkRead(e.Conversation, e.Seq)
		}
	case *client.Status:
		text, _ := v.sentText(e.ID)
		switch e.State {
		case client.StateStored:
			v.mu.Lock()
			if m := v.sentMedia[e.ID]; m != nil {
				v.media[e.Seq] = m // own files can be saved again too
			}
			v.mu.Unlock()
			v.scr.println(fmt.Sprintf("   ✓  #%d %s", e.Seq, snippet(text)))
		case client.StateDelivered:
			v.scr.println(fmt.Sprintf("   ✓✓ #%d %s", e.Seq, snippet(text)))
		case client.StateRead:
			v.scr.println(fmt.Sprintf("   %s #%d %s", v.scr.blue("✓✓"), e.Seq, snippet(text)))
		case client.StateFailed:
			v.scr.println(fmt.Sprintf("   ✗ not sent: %s (%v)", snippet(text), e.Err))
		}
	case *client.Presence, *client.PresenceSnapshot:
		v.showPresence(ev, v.members)
	case *client.Typing:
		v.mu.Lock()
		changed := v.typing[e.User] != e.State
		v.typing[e.User] = e.State
		v.mu.Unlock()
		switch {
		case changed && e.State == "thinking": // an agent at work
			v.agentLine(e.Conversation, e.User, "is thinking")
		case changed && e.State != "paused" && e.Conversation == v.conv:
			v.scr.println(fmt.Sprintf("   … %s is typing", v.name(e.User)))
		}
	case *client.AgentActivity:
		switch {
		case e.Kind == client.AgentStatus:
			v.agentLine(e.Conversation, e.Agent, statusText(e))
		case e.Kind == client.AgentPartial && e.Index == 0:
			v.agentLine(e.Conversation, e.Agent, "is answering")
		case e.Kind == client.AgentError:
			v.endAgentLine(e.Agent)
			v.scr.println(fmt.Sprintf("   ! %s could not answer: %s", v.name(e.Agent), e.Text))
		case e.Kind == client.AgentDone:
			v.endAgentLine(e.Agent)
		}
	case *client.Error:
		switch e.Code {
		case client.CodeNotRecipient:
			v.scr.println(fmt.Sprintf("   ! #%d from %s was not encrypted for this device", e.Seq, v.name(e.Sender)))
		case client.CodeUndecryptable, client.CodeBadContent:
			v.scr.println(fmt.Sprintf("   ! #%d from %s could not be decrypted (tampered?)", e.Seq, v.name(e.Sender)))
		default:
			v.scr.println(fmt.Sprintf("   ! %s", strings.TrimPrefix(e.Error(), "client: ")))
		}
	case *client.ConversationChange:
		v.scr.println("   • " + v.conversationLine(e))
	case *client.MemberEntry:
		if e.Conversation == v.conv || (e.Change.User == v.me && e.Change.Op != "add") {
			v.scr.println(v.memberLine(e))
		}
	case *client.Connection:
		v.mu.Lock()
		wasDown := v.wasDown
		v.wasDown = !e.Up
		v.mu.Unlock()
		switch {
		case e.Up && wasDown:
			v.scr.println("   — reconnected")
		case !e.Up && !wasDown:
			v.scr.println(fmt.Sprintf("   — disconnected (%v); retrying in %s", e.Err, e.RetryIn.Round(time.Millisecond)))
		}
	}
}

// conversationLine says what a conversation change means to this user: a
// conversation started with them or a group they were added to (at once,
// or named in the resume answer after being away), members coming and
// going, or being taken out. Members are shown by the names known, else by
// id; a group by its title.
func (v *view) conversationLine(e *client.ConversationChange) string {
	what := e.ID
	if e.Title != "" {
		what = fmt.Sprintf("%q (%s)", e.Title, e.ID)
	}
	var others []string
	for _, m := range e.Members {
		if m != v.me {
			others = append(others, v.name(m))
		}
	}
	with := strings.Join(others, ", ")
	switch {
	case !e.Member:
		return fmt.Sprintf("you are no longer in %s", what)
	case e.Rev == 1 && e.Kind == client.KindDirect:
		return fmt.Sprintf("new conversation %s with %s — chat -conv %s", e.ID, with, e.ID)
	case e.Rev == 1:
		return fmt.Sprintf("new group %s with %s — chat -conv %s", what, with, e.ID)
	}
	return fmt.Sprintf("%s now: you, %s", what, with)
}

// search prints the stored messages that hold word (local: the platform
// never sees it).
func (v *view) search(store *localStore, word string) {
	if word == "" {
		v.scr.println("   /search WORD")
		return
	}
	hits := slices.DeleteFunc(store.search(word), func(m storedMsg) bool { return v.hidden(m.Conversation, m.Seq) })
	if len(hits) == 0 {
		v.scr.println(fmt.Sprintf("   🔎 no message on this device holds %q", word))
		return
	}
	for _, m := range hits {
		where := ""
		if m.Conversation != v.conv {
			where = "(" + m.Conversation + ") "
		}
		v.scr.println(fmt.Sprintf("   🔎 %s[#%d] %s: %s", where, m.Seq, v.name(m.Sender), m.Content.Text))
	}
}

// olderPage is how many messages /older shows.
const olderPage = 20

// older prints the messages before the oldest one shown (/older).
func (v *view) older(ctx context.Context, store *localStore, back *scrollback) {
	oldest := back.get()
	if oldest == 1 {
		v.scr.println("   — the start of the conversation —")
		return
	}
	if oldest == 0 {
		oldest = store.lastSeq(v.conv) + 1 // nothing shown: the newest stored, or the newest there is
		if oldest == 1 {
			oldest = 0
		}
	}
	ms, err := older(ctx, v.c, store, v.conv, oldest, olderPage)
	if err != nil {
		v.scr.println("   ✗ " + err.Error())
		return
	}
	if len(ms) == 0 {
		v.scr.println("   — no older messages —")
		return
	}
	v.scr.println(fmt.Sprintf("   — older: #%d to #%d —", ms[0].Seq, ms[len(ms)-1].Seq))
	for _, m := range ms {
		back.note(m.Seq)
		v.show(m)
	}
}

package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/agentchat/agentchat/sdk/client"
	"github.com/agentchat/agentchat/sdk/e2ee"
)

// Replies, edits, deletes and reactions in the terminal (sdk/client
// Reply, Edit, Delete, React): commands that name a message by its #seq,
// and the lines that show them. The screen is a log, so an edit, a
// delete or a reaction prints a line of its own that names the message
// it changes; delete for me hides a message on this device from then on
// (kept in the state file), nothing is sent.

const actionsHelp = "/reply N text answers #N; /edit N text and /del N (for everyone) change your own #N; " +
	"/delme N hides #N here only; /react N 👍 reacts to #N (/react N alone takes it back)"

// command runs an action command; false if line is none.
func (v *view) command(ctx context.Context, line string) bool {
	verb, rest, _ := strings.Cut(line, " ")
	if !slices.Contains([]string{"/reply", "/edit", "/del", "/delme", "/react"}, verb) {
		return false
	}
	num, arg, _ := strings.Cut(strings.TrimSpace(rest), " ")
	arg = strings.TrimSpace(arg)
	ref, err := strconv.ParseInt(strings.TrimPrefix(num, "#"), 10, 64)
	if err != nil || ref < 1 {
		v.scr.println("   ✗ " + verb + " needs a message number, e.g. " + verb + " 3")
		return true
	}
	var id string
	switch verb {
	case "/reply", "/edit":
		if arg == "" {
			v.scr.println("   ✗ " + verb + " N needs a text")
			return true
		}
		v.sending.Lock()
		if verb == "/reply" {
			id, err = v.c.Reply(ctx, v.conv, ref, arg)
			v.scr.println(fmt.Sprintf("you ↪ #%d %s: %s", ref, v.quote(ref), arg))
		} else {
			id, err = v.c.Edit(ctx, v.conv, ref, arg)
		}
		if err == nil {
			v.noteSent(id, arg)
		}
		v.sending.Unlock()
	case "/del":
		id, err = v.c.Delete(ctx, v.conv, ref)
	case "/react":
		id, err = v.c.React(ctx, v.conv, ref, arg)
	case "/delme":
		v.hide(ref)
		v.scr.println(fmt.Sprintf("   #%d deleted for you", ref))
		return true
	}
	if err != nil {
		v.scr.println("   ✗ " + err.Error())
	}
	_ = id
	return true
}

// quote is the start of message ref's text as this run saw it, quoted.
func (v *view) quote(ref int64) string {
	v.mu.Lock()
	t, ok := v.texts[ref]
	v.mu.Unlock()
	if !ok {
		return ""
	}
	return "“" + snippet(t) + "”"
}

// noteText keeps what message seq of the conversation says now, for
// quotes and for the lines about its edits and reactions.
func (v *view) noteText(seq int64, text string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.texts == nil {
		v.texts = map[int64]string{}
	}
	v.texts[seq] = text
}

// hide deletes message ref for this device only (and remembers it).
func (v *view) hide(ref int64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.st == nil {
		return
	}
	if slices.Contains(v.st.Hidden[v.conv], ref) {
		return
	}
	// A new map, not a change of the one the periodic save may be
	// writing out.
	hidden := maps.Clone(v.st.Hidden)
	if hidden == nil {
		hidden = map[string][]int64{}
	}
	hidden[v.conv] = append(slices.Clone(hidden[v.conv]), ref)
	v.st.Hidden = hidden
	_ = v.st.save()
}

// hidden: deleted for me on this device.
func (v *view) hidden(conv string, seq int64) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.st != nil && slices.Contains(v.st.Hidden[conv], seq)
}

// actionLine is the line that shows an edit, delete or reaction (ok false
// for a message). One the rules refuse (a forged edit, too late) says so
// and changes nothing.
func (v *view) actionLine(e *client.Message, who string) (string, bool) {
	c := e.Content
	ref := c.Ref()
	if c.Kind() == e2ee.KindMessage {
		return "", false
	}
	if e.Invalid != nil {
		return fmt.Sprintf("⚠ %s's %s of #%d ignored: %v", who, c.Kind(), ref, e.Invalid), true
	}
	q := v.quote(ref)
	switch c.Kind() {
	case e2ee.KindEdit:
		v.noteText(ref, c.Edit.Text)
		return fmt.Sprintf("%s edited #%d: %s (edited)", who, ref, c.Edit.Text), true
	case e2ee.KindDelete:
		v.noteText(ref, "This message was deleted")
		return fmt.Sprintf("%s deleted #%d %s — This message was deleted", who, ref, q), true
	case e2ee.KindReaction:
		if c.React.Emoji == "" {
			return fmt.Sprintf("%s took back their reaction to #%d %s", who, ref, q), true
		}
		return fmt.Sprintf("%s reacted %s to #%d %s", who, c.React.Emoji, ref, q), true
	}
	return "", false
}

// Command chat is a small terminal client of agentchat, built on
// sdk/client: sign up or log in (the device key and refresh token are kept
// in a state file, so the next run is the same device), pick or create a
// conversation with a person or an agent, then type lines to send them.
// Received messages print as they come, in order; your own messages get
// ticks (✓ stored, ✓✓ delivered, blue ✓✓ read); typing indicators go both
// ways when stdin is a terminal. /send PATH sends a file (encrypted here,
// uploaded to the media store); /save N [DIR] saves message #N's file.
// /reply N text, /edit N text, /del N (for everyone), /delme N (here only)
// and /react N 👍 act on message #N.
// Messages are kept on this device (history.go: sealed, beside the state
// file): a run prints the last ones from there, asks the platform only for
// what is new, /older shows the messages before the oldest shown (from
// there, else a page from the platform) and /search WORD looks through
// them here.
//
//	chat -user ann -signup -with bob
//	chat -user ann -agent echo
//	chat -user ann -list
//	echo "hello" | chat -user ann -password ... -conv <conversationId>
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/agentchat/agentchat/sdk/client"
	"github.com/agentchat/agentchat/sdk/e2ee"
)

type options struct {
	accounts, connectors      string
	user, password, display   string
	signup, list, verbose     bool
	with, agent, group, title string
	conv, stateDir, presence  string
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func main() {
	var o options
	flag.StringVar(&o.accounts, "accounts", env("AGENTCHAT_ACCOUNTS_URL", "http://127.0.0.1:8081"), "accounts API base URL (env AGENTCHAT_ACCOUNTS_URL)")
	flag.StringVar(&o.connectors, "connector", env("AGENTCHAT_CONNECTOR_URL", "ws://127.0.0.1:8080/ws"), "connector WebSocket URL(s), comma-separated (env AGENTCHAT_CONNECTOR_URL)")
	flag.StringVar(&o.user, "user", os.Getenv("AGENTCHAT_USER"), "username (env AGENTCHAT_USER)")
	flag.StringVar(&o.password, "password", os.Getenv("AGENTCHAT_PASSWORD"), "password (env AGENTCHAT_PASSWORD; prompted if empty)")
	flag.StringVar(&o.display, "display", "", "display name, with -signup")
	flag.BoolVar(&o.signup, "signup", false, "create the user first")
	flag.BoolVar(&o.list, "list", false, "list conversations and agents, then exit")
	flag.StringVar(&o.with, "with", "", "chat directly with this user (username or user id)")
	flag.StringVar(&o.agent, "agent", "", "chat directly with this agent (name or id)")
	flag.StringVar(&o.group, "group", "", "create a group with these user ids (comma-separated)")
	flag.StringVar(&o.title, "title", "", "group title, with -group")
	flag.StringVar(&o.conv, "conv", "", "open this conversation id")
	flag.StringVar(&o.stateDir, "state", defaultStateDir(), "where device keys and refresh tokens are kept")
	flag.BoolVar(&o.verbose, "v", false, "log the client's workings to stderr")
	flag.StringVar(&o.presence, "presence", "", "set who sees your online status and last seen (everyone, contacts or nobody), then exit")
	flag.Parse()
	if o.user == "" {
		fmt.Fprintln(os.Stderr, "chat: -user is required")
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, &o); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o *options) error {
	level := slog.LevelError
	if o.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	acc := client.NewAccounts(o.accounts, nil)
	st, err := loadState(statePath(o.stateDir, o.accounts, o.user))
	if err != nil {
		return err
	}
	sess, key, err := signIn(ctx, acc, st, o)
	if err != nil {
		return fmt.Errorf("chat: sign in: %w", err)
	}
	defer func() { st.remember(sess); _ = st.save() }()
	signing, err := registerSigning(ctx, sess, st, key)
	if err != nil {
		return fmt.Errorf("chat: signing key: %w", err)
	}
	fmt.Fprintf(os.Stderr, "signed in as %s (user id %s, device %s)\n", o.user, sess.UserID(), sess.DeviceID())

	names := map[string]string{}
	agents, err := sess.Agents(ctx)
	if err != nil {
		log.Warn("chat: list agents", "err", err)
	}
	for _, a := range agents {
		names[a.AgentID] = a.Name
	}
	dial := func(autoAck bool, tracked map[string]int64) (*client.Client, error) {
		return client.Dial(ctx, client.Config{
			URLs:             strings.Split(o.connectors, ","),
			Token:            sess.Token,
			User:             sess.UserID(),
			Device:           sess.DeviceID(),
			Key:              key,
			SigningKey:       signing,
			Directory:        sess,
			Logger:           log,
			AutoDeliveredAck: autoAck,
			Tracked:          tracked,
			Presence:         true,
			// Groups' sender keys beside the device key (owner only):
			// history renders from the local store and the client syncs
			// from where it was, so the keys must outlive the process.
			SenderKeys: client.FileSenderKeys(strings.TrimSuffix(statePath(o.stateDir, o.accounts, o.user), ".json") + ".senderkeys"),
		})
	}
	if o.presence != "" {
		msg, err := setPresence(ctx, sess, o.presence)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, msg)
		return nil
	}
	if o.list {
		return list(ctx, sess, agents, names, dial)
	}
	conv, err := pick(ctx, sess, o, agents)
	if err != nil {
		return err
	}
	nameMembers(ctx, sess, conv.Members, names)
	fmt.Fprintf(os.Stderr, "conversation %s (%s) with %s — type to send, /quit to leave\n",
		conv.ID, conv.Kind, strings.Join(others(conv.Members, sess.UserID(), names), ", "))

	store, err := openStore(historyPath(st.path), key.Bytes())
	if err != nil {
		return err
	}
	// From the local store: only what follows its newest message comes.
	c, err := dial(true, map[string]int64{conv.ID: store.lastSeq(conv.ID)})
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Track(conv.ID, store.lastSeq(conv.ID)); err != nil {
		return err
	}
	return chat(ctx, c, sess, st, store, conv, names)
}

// chat runs the screen until /quit, end of input or a signal.
func chat(ctx context.Context, c *client.Client, sess *client.Session, st *deviceState, store *localStore, cv client.Conversation, names map[string]string) error {
	conv := cv.ID
	scr := newScreen("> ")
	defer scr.close()
	members := map[string]bool{}
	for _, m := range cv.Members {
		members[m] = true
	}
	v := &view{scr: scr, c: c, conv: conv, me: sess.UserID(), names: names, members: members,
		sent: map[string]string{}, typing: map[string]string{},
		media: map[int64]*e2ee.Media{}, sentMedia: map[string]*e2ee.Media{}, st: st, sess: sess}
	v.checkIdentities(ctx)
	var back scrollback // the oldest message shown: /older goes on from it
	if old := store.recent(conv, historyShown); len(old) > 0 {
		scr.println(fmt.Sprintf("   — the last %d messages, from this device's history —", len(old)))
		for _, m := range old {
			back.note(m.Seq)
			v.show(m.message())
		}
	}
	go func() {
		for ev := range c.Events() {
			if m, ok := ev.(*client.Message); ok {
				store.judge(m) // an action on a message of an earlier run
				if err := store.add(m); err != nil {
					scr.println("   ✗ " + err.Error())
				}
				if m.Conversation == conv {
					back.note(m.Seq)
				}
			}
			v.show(ev)
		}
	}()
	go func() { // refresh tokens rotate: keep the latest on disk
		t := time.NewTicker(time.Minute)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				st.remember(sess)
				_ = st.save()
			}
		}
	}()

	ty := newTypist(c, conv)
	defer ty.stop()
	done := make(chan struct{})
	go func() {
		defer close(done)
		scr.read(func(line string) bool {
			line = strings.TrimSpace(line)
			switch {
			case line == "":
				return true
			case line == "/quit":
				return false
			case line == "/help":
				scr.println("   type a line to send it; /send PATH sends a file; /save N [DIR] saves message #N's file; /search WORD searches this device's history; /older shows the messages before; /presence [everyone|contacts|nobody] shows or sets who sees your online status; /usage shows the tokens agents used here (admins); /quit leaves")
				scr.println("   " + actionsHelp)
				scr.println("   " + groupsHelp)
				return true
			case line == "/search" || strings.HasPrefix(line, "/search "):
				v.search(store, strings.TrimSpace(strings.TrimPrefix(line, "/search")))
				return true
			case line == "/older":
				v.older(ctx, store, &back)
				return true
			case line == "/usage":
				scr.println(usageCommand(ctx, sess, conv))
				return true
			case line == "/presence" || strings.HasPrefix(line, "/presence "):
				scr.println(presenceCommand(ctx, sess, strings.TrimPrefix(line, "/presence")))
				return true
			case v.command(ctx, line), v.groupCommand(ctx, line):
				return true
			case strings.HasPrefix(line, "/send "):
				v.sendFile(ctx, strings.TrimSpace(strings.TrimPrefix(line, "/send ")))
				return true
			case line == "/save" || strings.HasPrefix(line, "/save "):
				v.save(ctx, strings.Fields(line)[1:])
				return true
			}
			scr.println("you: " + line)
			v.sending.Lock()
			id, err := c.Send(ctx, conv, e2ee.Content{Text: line})
			if err == nil {
				v.noteSent(id, line)
			}
			v.sending.Unlock()
			if err != nil {
				scr.println("   ✗ " + err.Error())
			}
			return true
		}, ty.key)
	}()
	select {
	case <-ctx.Done():
	case <-done:
	}
	ty.stop()
	// Give the outbox a moment to be stored (piped input ends at once).
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if n, err := c.Pending(); err != nil || n == 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // let the last ticks print
	return nil
}

// historyShown is how many stored messages a run prints first.
const historyShown = 20

// listWait bounds how long -list waits to have caught up for the unread
// counts.
const listWait = 15 * time.Second

// list prints the user's conversations, each with its title or the other
// members' names and how many messages in it are unread (the same count
// every device of the user shows: from the member's read cursor), then
// the agents. The counts need the messages: it connects, as this device,
// and takes what it missed (without acking anything); if that takes
// longer than listWait the counts are left out.
func list(ctx context.Context, sess *client.Session, agents []client.Agent, names map[string]string,
	dial func(autoAck bool, tracked map[string]int64) (*client.Client, error)) error {
	convs, err := sess.Conversations(ctx)
	if err != nil {
		return err
	}
	c, err := dial(false, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	var ps presences
	gotPresence := make(chan struct{})
	go func() { // the events are not shown: only the counts and presence
		var once sync.Once
		for ev := range c.Events() {
			ps.apply(ev)
			if _, ok := ev.(*client.PresenceSnapshot); ok {
				once.Do(func() { close(gotPresence) })
			}
		}
	}()
	caught := false
	for deadline := time.Now().Add(listWait); !caught && time.Now().Before(deadline) && ctx.Err() == nil; {
		if caught, _ = c.CaughtUp(); !caught {
			time.Sleep(50 * time.Millisecond)
		}
	}
	select { // the presence snapshot answers the connect; wait a moment for it
	case <-gotPresence:
	case <-time.After(2 * time.Second):
	}
	fmt.Fprintln(stdout, "conversations:")
	for _, cv := range convs {
		nameMembers(ctx, sess, cv.Members, names)
		title := cv.Title
		if title == "" {
			title = strings.Join(others(cv.Members, sess.UserID(), names), ", ")
		}
		unread := ""
		if n, err := c.Unread(cv.ID); caught && err == nil && n > 0 {
			unread = fmt.Sprintf("  [%d unread]", n)
		}
		seen := ""
		if cv.Kind == client.KindDirect {
			for _, m := range cv.Members {
				if line := presenceLine(ps.get(m), time.Now()); m != sess.UserID() && line != "" {
					seen = "  (" + line + ")"
				}
			}
		}
		fmt.Fprintf(stdout, "  %s  %-6s %s%s%s\n", cv.ID, cv.Kind, title, seen, unread)
	}
	if !caught {
		fmt.Fprintln(stdout, "  (unread counts left out: not caught up with the server in time)")
	}
	fmt.Fprintln(stdout, "agents:")
	for _, a := range agents {
		fmt.Fprintf(stdout, "  %s  %s (%s)\n", a.AgentID, a.Name, a.AgentKind)
	}
	return nil
}

// pick finds or creates the conversation the flags name, or asks.
func pick(ctx context.Context, sess *client.Session, o *options, agents []client.Agent) (client.Conversation, error) {
	switch {
	case o.conv != "":
		return sess.Conversation(ctx, o.conv)
	case o.with != "":
		return direct(ctx, sess, o.with)
	case o.agent != "":
		for _, a := range agents {
			if a.Name == o.agent || a.AgentID == o.agent {
				return sess.CreateConversation(ctx, client.KindDirect, []string{a.AgentID}, "")
			}
		}
		return client.Conversation{}, fmt.Errorf("chat: no agent named %q", o.agent)
	case o.group != "":
		return sess.CreateConversation(ctx, client.KindGroup, strings.Split(o.group, ","), o.title)
	}
	convs, err := sess.Conversations(ctx)
	if err != nil {
		return client.Conversation{}, err
	}
	for i, c := range convs {
		fmt.Fprintf(os.Stderr, "  %d) %s %s %s\n", i+1, c.Kind, strings.Join(c.Members, ","), c.Title)
	}
	fmt.Fprint(os.Stderr, "pick a number, or type a username or user id to chat with: ")
	line, err := stdin.ReadString('\n')
	line = strings.TrimSpace(line)
	if line == "" {
		return client.Conversation{}, errors.Join(errors.New("chat: no conversation picked"), err)
	}
	if n, err := strconv.Atoi(line); err == nil && n >= 1 && n <= len(convs) {
		return convs[n-1], nil
	}
	return direct(ctx, sess, line)
}

// direct opens the direct conversation with who: a username, or else a
// user id.
func direct(ctx context.Context, sess *client.Session, who string) (client.Conversation, error) {
	if u, err := sess.FindUser(ctx, who); err == nil {
		who = u.UserID
	}
	return sess.CreateConversation(ctx, client.KindDirect, []string{who}, "")
}

// nameMembers fills in display names of the conversation's members.
func nameMembers(ctx context.Context, sess *client.Session, members []string, names map[string]string) {
	for _, m := range members {
		if _, ok := names[m]; ok {
			continue
		}
		if u, err := sess.User(ctx, m); err == nil && u.Name != "" {
			names[m] = u.Name
		} else if err == nil && u.Username != "" {
			names[m] = u.Username
		}
	}
}

func others(members []string, me string, names map[string]string) []string {
	var out []string
	for _, m := range members {
		if m == me {
			continue
		}
		if n, ok := names[m]; ok {
			m = n + " (" + m + ")"
		}
		out = append(out, m)
	}
	return out
}

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentchat/agentchat/sdk/client"
	"github.com/agentchat/agentchat/sdk/e2ee"
)

// The store keeps what it is given across opens, sealed: the file (0600)
// holds no content, another device key reads nothing of it, search is
// case-insensitive and local.
func TestLocalStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ann@host.history")
	key, _ := e2ee.GenerateKey()
	s, err := openStore(path, key.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for i, text := range []string{"the Zebracanary speaks", "second", "third"} {
		if err := s.add(&client.Message{Conversation: "c1", Seq: int64(i + 1), ID: "m" + text, Sender: "u-bob",
			SenderDevice: "d-bob", StoredAt: at, Content: e2ee.Content{Text: text}, Verified: true}); err != nil {
			t.Fatal(err)
		}
	}
	s.add(&client.Message{Conversation: "c1", Seq: 2, Content: e2ee.Content{Text: "a duplicate"}})
	s.add(&client.Message{Conversation: "c2", Seq: 7, Content: e2ee.Content{Text: "elsewhere ZEBRACANARY"}, Invalid: errors.New("too late")})

	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("file mode %v (%v), want 0600", fi.Mode(), err)
	}
	raw, _ := os.ReadFile(path)
	if bytes.Contains(bytes.ToLower(raw), []byte("zebracanary")) || bytes.Contains(raw, []byte("second")) || bytes.Contains(raw, []byte("u-bob")) {
		t.Errorf("plaintext in the history file:\n%s", raw)
	}
	if n := bytes.Count(raw, []byte("\n")); n != 4 {
		t.Errorf("%d lines, want 4 (the duplicate skipped)", n)
	}

	again, err := openStore(path, key.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if got := again.lastSeq("c1"); got != 3 {
		t.Errorf("lastSeq %d, want 3", got)
	}
	r := again.recent("c1", 2)
	if len(r) != 2 || r[0].Seq != 2 || r[1].Content.Text != "third" || r[1].Sender != "u-bob" || !r[1].Verified || !r[1].StoredAt.Equal(at) {
		t.Errorf("recent %+v", r)
	}
	if r := again.recent("c2", 5); len(r) != 1 || r[0].message().Invalid == nil || r[0].message().Invalid.Error() != "too late" {
		t.Errorf("c2: %+v, want seq 7 still marked invalid", r)
	}
	hits := again.search("zebraCanary")
	if len(hits) != 2 || hits[0].Seq != 1 || hits[1].Conversation != "c2" {
		t.Errorf("search hits %+v, want c1 #1 and c2 #7", hits)
	}

	other, _ := e2ee.GenerateKey()
	s3, err := openStore(path, other.Bytes())
	if err != nil || s3.lastSeq("c1") != 0 || len(s3.search("zebracanary")) != 0 {
		t.Errorf("another device key read the store: %v, last %d", err, s3.lastSeq("c1"))
	}
	// A torn last line (a crash mid-append) costs only that line.
	os.WriteFile(path, append(raw, []byte(`{"c":"c1","s":4,"n":"AAAA`)...), 0o600)
	s4, err := openStore(path, key.Bytes())
	if err != nil || s4.lastSeq("c1") != 3 {
		t.Fatalf("with a torn line: %v, last %d", err, s4.lastSeq("c1"))
	}
	// The next message goes on a line of its own, not onto the torn one.
	if err := s4.add(&client.Message{Conversation: "c1", Seq: 4, Content: e2ee.Content{Text: "after the crash"}}); err != nil {
		t.Fatal(err)
	}
	if s5, err := openStore(path, key.Bytes()); err != nil || s5.lastSeq("c1") != 4 {
		t.Errorf("after a torn line and an add: %v, last %d; want 4 kept", err, s5.lastSeq("c1"))
	}
}

// An action the client could not judge (e2ee.ErrUnknownRef: its message
// came in an earlier run) is judged against the store: bob's edit of his
// stored message applies, eve's forged one does not, nothing applies after
// a stored delete; an action on a message the store lacks stays unknown.
// Search finds a message by its edited text, and a deleted one not at all.
func TestStoreJudgesActionsOnEarlierRuns(t *testing.T) {
	key, _ := e2ee.GenerateKey()
	s, err := openStore(filepath.Join(t.TempDir(), "h"), key.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	msg := func(seq int64, sender string, after time.Duration, c e2ee.Content) *client.Message {
		m := &client.Message{Conversation: "c1", Seq: seq, Sender: sender, StoredAt: at.Add(after), Content: c, Verified: true}
		if c.Kind() != e2ee.KindMessage {
			m.Invalid = e2ee.ErrUnknownRef // what the client says of a message it does not remember
		}
		return m
	}
	s.add(msg(1, "u-bob", 0, e2ee.Content{Text: "lunch at noon"}))
	s.add(msg(2, "u-bob", 0, e2ee.Content{Text: "the secret plan"}))
	// A later run.
	tests := []struct {
		m    *client.Message
		want error
	}{
		{msg(3, "u-bob", time.Minute, e2ee.Content{Edit: &e2ee.Edit{Ref: 1, Text: "lunch at one"}}), nil},
		{msg(4, "u-eve", time.Minute, e2ee.Content{Edit: &e2ee.Edit{Ref: 1, Text: "lunch cancelled"}}), e2ee.ErrNotSender},
		{msg(5, "u-bob", time.Hour, e2ee.Content{Edit: &e2ee.Edit{Ref: 1, Text: "too late"}}), e2ee.ErrTooLate},
		{msg(6, "u-bob", time.Minute, e2ee.Content{Delete: &e2ee.Delete{Ref: 2}}), nil},
		{msg(7, "u-eve", time.Minute, e2ee.Content{React: &e2ee.Reaction{Ref: 2, Emoji: "👍"}}), e2ee.ErrDeleted},
		{msg(8, "u-eve", time.Minute, e2ee.Content{React: &e2ee.Reaction{Ref: 1, Emoji: "👍"}}), nil},
		{msg(9, "u-eve", time.Minute, e2ee.Content{React: &e2ee.Reaction{Ref: 100, Emoji: "👍"}}), e2ee.ErrUnknownRef},
	}
	for _, tt := range tests {
		s.judge(tt.m)
		if !errors.Is(tt.m.Invalid, tt.want) || (tt.want == nil) != (tt.m.Invalid == nil) {
			t.Errorf("#%d %s by %s: Invalid %v, want %v", tt.m.Seq, tt.m.Content.Kind(), tt.m.Sender, tt.m.Invalid, tt.want)
		}
		s.add(tt.m)
	}
	if hits := s.search("lunch at"); len(hits) != 1 || hits[0].Seq != 1 || hits[0].Content.Text != "lunch at one" {
		t.Errorf("search %q: %+v, want #1 as edited", "lunch at", hits)
	}
	if hits := s.search("cancelled"); len(hits) != 0 {
		t.Errorf("search finds a forged edit's text: %+v", hits)
	}
	if hits := s.search("secret"); len(hits) != 0 {
		t.Errorf("search finds a message deleted for everyone: %+v", hits)
	}
}

// The next run starts from the local store: it prints the stored messages,
// resumes from the highest stored seq (not 0), and /search finds a word
// of an old message there.
func TestChatResumesFromItsLocalStore(t *testing.T) {
	p := newFakePlatform(t)
	out := &syncBuffer{}
	stdout = out
	stdin = bufio.NewReader(strings.NewReader("hello bob\n"))
	o := &options{
		accounts:   p.accounts.URL,
		connectors: "ws" + strings.TrimPrefix(p.conn.URL, "http"),
		user:       "ann", password: "secret-pw", signup: true, with: "bob",
		stateDir: t.TempDir(),
	}
	if err := run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	first := p.resumes
	p.resumes = nil
	p.mu.Unlock()
	if len(first) == 0 || len(first[0].Positions) != 1 || first[0].Positions[0].Seq != 0 {
		t.Fatalf("first run resumed with %+v, want c-ann-bob from 0 (an empty store)", first)
	}

	out2 := &syncBuffer{}
	stdout = out2
	stdin = bufio.NewReader(strings.NewReader("/search HI ANN\n/older\n"))
	o.signup = false
	if err := run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	got := out2.String()
	for _, want := range []string{"the last 2 messages, from this device's history", "[#1", "bob: hi ann", "you: hello bob", "🔎 [#1] bob: hi ann", "— the start of the conversation —"} {
		if !strings.Contains(got, want) {
			t.Errorf("second run's output lacks %q:\n%s", want, got)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.resumes) == 0 || len(p.resumes[0].Positions) != 1 || p.resumes[0].Positions[0].Seq != 2 {
		t.Errorf("second run resumed with %+v, want c-ann-bob from 2 (the highest stored seq)", p.resumes)
	}
}

// stubPager answers History with messages from seq `from` up to below
// before, recording what it was asked.
type stubPager struct {
	asked []int64
	from  int64
}

func (p *stubPager) History(_ context.Context, conv string, before int64, limit int) (client.Page, error) {
	p.asked = append(p.asked, before)
	var pg client.Page
	for seq := max(p.from, before-int64(limit)); seq < before; seq++ {
		pg.Messages = append(pg.Messages, &client.Message{Conversation: conv, Seq: seq, Sender: "u-bob",
			Content: e2ee.Content{Text: fmt.Sprintf("old %d", seq)}})
	}
	return pg, nil
}

// /older reads the store when it holds the run right below the oldest
// shown, and pages from the platform otherwise — storing that page, so
// the next time it is local.
func TestOlderFromTheStoreThenThePlatform(t *testing.T) {
	key, _ := e2ee.GenerateKey()
	s, err := openStore(filepath.Join(t.TempDir(), "h"), key.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	for seq := int64(40); seq <= 60; seq++ {
		s.add(&client.Message{Conversation: "c1", Seq: seq, Content: e2ee.Content{Text: "kept"}})
	}
	p := &stubPager{from: 1}
	seqs := func(ms []*client.Message) []int64 {
		var out []int64
		for _, m := range ms {
			out = append(out, m.Seq)
		}
		return out
	}
	ms, err := older(context.Background(), p, s, "c1", 50, 5)
	if err != nil || !slices.Equal(seqs(ms), []int64{45, 46, 47, 48, 49}) || len(p.asked) != 0 {
		t.Fatalf("below 50: %v (%v), platform asked %v; want 45..49 from the store", seqs(ms), err, p.asked)
	}
	ms, err = older(context.Background(), p, s, "c1", 40, 5)
	if err != nil || !slices.Equal(seqs(ms), []int64{35, 36, 37, 38, 39}) || !slices.Equal(p.asked, []int64{40}) {
		t.Fatalf("below 40: %v (%v), platform asked %v; want 35..39 from the platform", seqs(ms), err, p.asked)
	}
	ms, err = older(context.Background(), p, s, "c1", 40, 5)
	if err != nil || len(ms) != 5 || ms[0].Content.Text != "old 35" || len(p.asked) != 1 {
		t.Errorf("below 40 again: %v (%v), platform asked %v; want it from the store now", seqs(ms), err, p.asked)
	}
}

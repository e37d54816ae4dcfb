package main

import (
	"bufio"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/agentchat/agentchat/sdk/client"
	"github.com/agentchat/agentchat/sdk/e2ee"
)

// localStore is this device's history on disk: every message it showed,
// so that the next run prints the conversation from it, asks the platform
// only for what follows (Track from the highest stored seq) and searches
// it (/search) without the platform ever seeing a query.
//
// One file per account beside the device state (<state>.history, mode
// 0600), one JSON line per message: conversation and seq in the clear (the
// platform knows them too), the rest — content, sender, time — sealed with
// AES-256-GCM under a key derived (HKDF-SHA256) from the device's X25519
// private key, with "conversation/seq" as associated data so that lines
// cannot be swapped. The key is never written anywhere: the history file
// alone (a backup, a synced folder) reads as nothing; whoever holds the
// state file holds the device key anyway. Lines are appended as messages
// come, in order; a torn last line (a crash mid-write) is skipped.
type localStore struct {
	path string
	aead cipher.AEAD

	mu   sync.Mutex
	torn bool                      // the file ends in a torn line: the next one starts on a line of its own
	msgs []storedMsg               // in the order stored
	last map[string]int64          // conversation → highest stored seq
	have map[string]map[int64]bool // conversation → seqs stored
}

// storedMsg is one message as the CLI keeps it.
type storedMsg struct {
	Conversation string       `json:"-"`
	Seq          int64        `json:"-"`
	ID           string       `json:"id"`
	Sender       string       `json:"sender"`
	SenderDevice string       `json:"senderDevice"`
	StoredAt     time.Time    `json:"storedAt"`
	Content      e2ee.Content `json:"content"`
	Own          bool         `json:"own,omitempty"`
	Verified     bool         `json:"verified,omitempty"`
	Invalid      string       `json:"invalid,omitempty"` // why an edit, delete or reaction was not applied
}

// line is one line of the file.
type line struct {
	Conversation string `json:"c"`
	Seq          int64  `json:"s"`
	Nonce        []byte `json:"n"`
	Sealed       []byte `json:"x"`
}

// historyPath is the store beside the device state file.
func historyPath(statePath string) string {
	return strings.TrimSuffix(statePath, ".json") + ".history"
}

// historyInfo names the key's purpose in its derivation.
const historyInfo = "agentchat chat local history v1"

// openStore reads the store at path (none yet: empty) with the key derived
// from the device's private key.
func openStore(path string, deviceKey []byte) (*localStore, error) {
	k, err := hkdf.Key(sha256.New, deviceKey, nil, historyInfo, 32)
	if err != nil {
		return nil, fmt.Errorf("chat: history key: %w", err)
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	s := &localStore{path: path, aead: aead, last: map[string]int64{}, have: map[string]map[int64]bool{}}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("chat: read history: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	bad := 0
	for sc.Scan() {
		var l line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			bad++ // a torn line
			continue
		}
		plain, err := s.aead.Open(nil, l.Nonce, l.Sealed, ad(l.Conversation, l.Seq))
		var m storedMsg
		if err != nil || json.Unmarshal(plain, &m) != nil {
			bad++ // another device key's, or tampered with
			continue
		}
		m.Conversation, m.Seq = l.Conversation, l.Seq
		s.note(m)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("chat: read history: %w", err)
	}
	if end, err := f.Seek(-1, io.SeekEnd); err == nil {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, end); err == nil {
			s.torn = last[0] != '\n'
		}
	}
	if bad > 0 {
		fmt.Fprintf(os.Stderr, "chat: %d lines of %s could not be read (not this device's, or damaged): skipped\n", bad, path)
	}
	return s, nil
}

func ad(conversation string, seq int64) []byte {
	return []byte(conversation + "/" + strconv.FormatInt(seq, 10))
}

// note takes m into memory unless its seq is stored already; it reports
// whether it was new. The caller holds mu (or owns s alone).
func (s *localStore) note(m storedMsg) bool {
	if s.have[m.Conversation][m.Seq] {
		return false
	}
	if s.have[m.Conversation] == nil {
		s.have[m.Conversation] = map[int64]bool{}
	}
	s.have[m.Conversation][m.Seq] = true
	s.last[m.Conversation] = max(s.last[m.Conversation], m.Seq)
	s.msgs = append(s.msgs, m)
	return true
}

// add stores a message the client handed over (once, in order); one it
// has already is skipped.
func (s *localStore) add(e *client.Message) error {
	m := storedMsg{Conversation: e.Conversation, Seq: e.Seq, ID: e.ID, Sender: e.Sender, SenderDevice: e.SenderDevice,
		StoredAt: e.StoredAt, Content: e.Content, Own: e.Own, Verified: e.Verified}
	if e.Invalid != nil {
		m.Invalid = e.Invalid.Error()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.note(m) {
		return nil
	}
	plain, err := json.Marshal(m)
	if err != nil {
		return err
	}
	nonce := make([]byte, s.aead.NonceSize())
	rand.Read(nonce)
	raw, err := json.Marshal(line{Conversation: m.Conversation, Seq: m.Seq, Nonce: nonce,
		Sealed: s.aead.Seal(nil, nonce, plain, ad(m.Conversation, m.Seq))})
	if err != nil {
		return err
	}
	f, err := os.OpenFile(s.path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("chat: save history: %w", err)
	}
	if s.torn {
		raw = append([]byte{'\n'}, raw...) // else this line would join the torn one, and be lost with it
	}
	_, werr := f.Write(append(raw, '\n'))
	s.torn = s.torn && werr != nil
	return errors.Join(werr, f.Close())
}

// lastSeq is the highest seq stored of conversation (0: none).
func (s *localStore) lastSeq(conversation string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last[conversation]
}

// recent returns the newest n stored messages of conversation, in seq order.
func (s *localStore) recent(conversation string, n int) []storedMsg {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []storedMsg
	for _, m := range s.msgs {
		if m.Conversation == conversation {
			out = append(out, m)
		}
	}
	slices.SortFunc(out, func(a, b storedMsg) int { return int(a.Seq - b.Seq) })
	return out[max(0, len(out)-n):]
}

// search returns the stored messages whose text or file name holds word
// (case-insensitive), in the order stored, as they read now: by the edits and
// deletes for everyone stored after them that applied (not Invalid), a
// message found by its latest text (returned in Content.Text), a deleted
// one not at all; actions are no hits of their own.
func (s *localStore) search(word string) []storedMsg {
	w := strings.ToLower(word)
	s.mu.Lock()
	defer s.mu.Unlock()
	type key struct {
		conv string
		seq  int64
	}
	type change struct {
		seq     int64 // of the latest edit applied
		text    string
		deleted bool
	}
	changes := map[key]change{}
	for _, m := range s.msgs {
		k := key{m.Conversation, m.Content.Ref()}
		ch := changes[k]
		switch {
		case m.Invalid != "":
		case m.Content.Delete != nil:
			ch.deleted = true
		case m.Content.Edit != nil && m.Seq > ch.seq:
			ch.seq, ch.text = m.Seq, m.Content.Edit.Text
		default:
			continue
		}
		changes[k] = ch
	}
	var out []storedMsg
	for _, m := range s.msgs {
		if m.Content.Kind() != e2ee.KindMessage {
			continue
		}
		ch := changes[key{m.Conversation, m.Seq}]
		if ch.deleted {
			continue
		}
		if ch.seq > 0 {
			m.Content.Text = ch.text
		}
		text := m.Content.Text
		if m.Content.Media != nil {
			text += " " + m.Content.Media.Name
		}
		if w != "" && strings.Contains(strings.ToLower(text), w) {
			out = append(out, m)
		}
	}
	return out
}

// judge takes over from the client an action it could not judge: one
// about a message it does not remember (e2ee.ErrUnknownRef) because it came
// in an earlier run, or below a page (client.Page). The store has that
// message, and the actions on it that applied: it applies e2ee.CheckAction
// with them, so that a member's edit of a message stored yesterday is not
// shown as ignored. An action on a message the store lacks too stays
// unknown.
func (s *localStore) judge(m *client.Message) {
	if !errors.Is(m.Invalid, e2ee.ErrUnknownRef) {
		return
	}
	orig, ok := s.entry(m.Conversation, m.Content.Ref(), m.Seq)
	if !ok {
		return
	}
	by := e2ee.Entry{Seq: m.Seq, Sender: m.Sender, StoredAt: m.StoredAt, Kind: m.Content.Kind(), Verified: m.Verified}
	m.Invalid = e2ee.CheckAction(m.Content, by, orig)
}

// entry is what the store knows of message seq of conversation for
// judging an action stored as `at` on it: Deleted when a delete below `at`
// applied to it. ok is false when the store lacks the message.
func (s *localStore) entry(conversation string, seq, at int64) (e2ee.Entry, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var e e2ee.Entry
	deleted := false
	for _, m := range s.msgs { // in the order stored, not by seq: a page comes after newer messages
		switch {
		case m.Conversation != conversation:
		case m.Seq == seq:
			e = e2ee.Entry{Seq: m.Seq, Sender: m.Sender, StoredAt: m.StoredAt, Kind: m.Content.Kind(), Verified: m.Verified}
		case m.Seq < at && m.Invalid == "" && m.Content.Delete != nil && m.Content.Delete.Ref == seq:
			deleted = true
		}
	}
	e.Deleted = deleted
	return e, e.Seq != 0
}

// message is a stored message as the client would hand it over.
func (m storedMsg) message() *client.Message {
	e := &client.Message{Conversation: m.Conversation, Seq: m.Seq, ID: m.ID, Sender: m.Sender, SenderDevice: m.SenderDevice,
		StoredAt: m.StoredAt, Content: m.Content, Own: m.Own, Verified: m.Verified}
	if m.Invalid != "" {
		e.Invalid = errors.New(m.Invalid)
	}
	return e
}

// before returns the newest n stored messages of conversation below seq,
// in seq order.
func (s *localStore) before(conversation string, seq int64, n int) []storedMsg {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []storedMsg
	for _, m := range s.msgs {
		if m.Conversation == conversation && m.Seq < seq {
			out = append(out, m)
		}
	}
	slices.SortFunc(out, func(a, b storedMsg) int { return int(a.Seq - b.Seq) })
	return out[max(0, len(out)-n):]
}

// pager is what scrolling back needs of the client (client.Client.History).
type pager interface {
	History(ctx context.Context, conversation string, beforeSeq int64, limit int) (client.Page, error)
}

// older is /older: the n messages before seq `before` (the oldest shown),
// from the store when it holds the run right below it, else a page from
// the platform, which is then stored too (a message that cannot be opened
// is left out, as the platform's page reports it).
func older(ctx context.Context, p pager, s *localStore, conversation string, before int64, n int) ([]*client.Message, error) {
	if ms := s.before(conversation, before, n); len(ms) > 0 && ms[len(ms)-1].Seq == before-1 {
		out := make([]*client.Message, len(ms))
		for i, m := range ms {
			out[i] = m.message()
		}
		return out, nil
	}
	page, err := p.History(ctx, conversation, before, n)
	if err != nil {
		return nil, err
	}
	for _, m := range page.Messages {
		s.judge(m)
		if err := s.add(m); err != nil {
			return nil, err
		}
	}
	return page.Messages, nil
}

// scrollback is the oldest message of the conversation shown this run.
type scrollback struct {
	mu     sync.Mutex
	oldest int64
}

func (b *scrollback) note(seq int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.oldest == 0 || seq < b.oldest {
		b.oldest = seq
	}
}

func (b *scrollback) get() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.oldest
}

package main

import (
	"sync"
	"time"

	"github.com/agentchat/agentchat/sdk/client"
)

// typist turns keystrokes into typing indicators: "typing" on the first key,
// again every few seconds while keys come (the indicator is ephemeral on the
// other side), and "paused" after a quiet spell or when the line is sent.
type typist struct {
	c    *client.Client
	conv string

	mu     sync.Mutex
	typing bool
	sentAt time.Time
	idle   *time.Timer
}

const (
	typingRefresh = 4 * time.Second
	typingIdle    = 3 * time.Second
)

func newTypist(c *client.Client, conv string) *typist {
	t := &typist{c: c, conv: conv}
	t.idle = time.AfterFunc(time.Hour, func() { t.key(false) })
	t.idle.Stop()
	return t
}

func (t *typist) key(editing bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case editing && (!t.typing || time.Since(t.sentAt) > typingRefresh):
		t.typing, t.sentAt = true, time.Now()
		_ = t.c.Typing(t.conv, "typing")
	case !editing && t.typing:
		t.typing = false
		_ = t.c.Typing(t.conv, "paused")
	}
	if editing {
		t.idle.Reset(typingIdle)
	}
}

func (t *typist) stop() { t.idle.Stop() }

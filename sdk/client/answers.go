package client

import "github.com/agentchat/agentchat/sdk/protocol"

// An agent's answer reaches a device in partials (index 0, 1, …, each the
// text since the previous one), live and — after a resume, when the device
// connects in the middle of the answer — replayed from what the platform
// kept (docs/protocol.md, "Answers in progress"). Live and replayed
// partials overlap and may pass each other, so the client hands the
// application each partial once, in index order: one ahead of a gap waits
// for it; one it handed already, or of an answer that has ended (done,
// error, or the stored reply seen), is dropped.

// answerKey names one answer in a conversation.
type answerKey struct {
	agent   string
	replyTo int64
}

// answer is the client's view of one answer.
type answer struct {
	next  int                    // the index the application gets next
	held  map[int]*AgentActivity // ahead of next; nil value: a partial that did not open (its error is out)
	ended bool                   // later partials and statuses are dropped
	// status is one more than the index of the latest status handed on
	// (0: none yet): an older one that arrives later is dropped.
	status int
}

const (
	// maxHeldPartials bounds the partials held behind a gap of one answer
	// (the platform replays at most 128 per resume).
	maxHeldPartials = 256
	// maxAnswers bounds the answers a conversation remembers; the ended
	// ones with the lowest replyTo go first.
	maxAnswers = 32
)

// answerOf returns the conversation's answer k, remembering it if new.
func (cv *conv) answerOf(k answerKey) *answer {
	if cv.answers == nil {
		cv.answers = make(map[answerKey]*answer)
	}
	a := cv.answers[k]
	if a == nil {
		a = &answer{}
		cv.answers[k] = a
		cv.forgetAnswers()
	}
	return a
}

// forgetAnswers drops ended answers, oldest first, beyond maxAnswers.
func (cv *conv) forgetAnswers() {
	for len(cv.answers) > maxAnswers {
		var oldest *answerKey
		for k, a := range cv.answers {
			if a.ended && (oldest == nil || k.replyTo < oldest.replyTo) {
				oldest = &k
			}
		}
		if oldest == nil {
			return // every one in progress
		}
		delete(cv.answers, *oldest)
	}
}

// endAnswer marks an answer ended: what it held is dropped, and so is any
// partial of it that comes later.
func (cv *conv) endAnswer(k answerKey) {
	a := cv.answerOf(k)
	a.ended, a.held = true, nil
}

// partial takes the partial at index of answer k (act nil: it did not
// open) and returns what the application gets now, in order, and whether
// the partial was new (not a duplicate, not of an ended answer).
func (cv *conv) partial(k answerKey, index int, act *AgentActivity) ([]*AgentActivity, bool) {
	a := cv.answerOf(k)
	if a.ended || index < a.next {
		return nil, false
	}
	if _, dup := a.held[index]; dup {
		return nil, false
	}
	if index > a.next {
		if len(a.held) >= maxHeldPartials {
			return nil, false
		}
		if a.held == nil {
			a.held = make(map[int]*AgentActivity)
		}
		a.held[index] = act
		return nil, true
	}
	var out []*AgentActivity
	if act != nil {
		out = append(out, act)
	}
	a.next++
	for {
		h, ok := a.held[a.next]
		if !ok {
			return out, true
		}
		delete(a.held, a.next)
		if h != nil {
			out = append(out, h)
		}
		a.next++
	}
}

// status reports whether the lifecycle status at index of answer k is
// news: not of an ended answer, and later than every status of it handed
// on so far (statuses are delivered in any order; the latest counts).
func (cv *conv) status(k answerKey, index int) bool {
	a := cv.answerOf(k)
	if a.ended || index < a.status {
		return false
	}
	a.status = index + 1
	return true
}

// agentKey is the answer an agent frame is about.
func agentKey(f protocol.Frame) answerKey {
	agent := f.Agent
	if agent == "" {
		agent = f.Sender
	}
	return answerKey{agent: agent, replyTo: f.ReplyTo}
}

package client

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/protocol"
)

// Page is one page of a conversation's older messages (History), in seq
// order. A message that cannot be opened is in Errors, not Messages (as an
// Error event would be). More: there are older messages still — ask again
// with beforeSeq = Oldest. An edit, delete or reaction is judged against
// the page's messages (Message.Invalid; one about a message older than the
// page: e2ee.ErrUnknownRef).
type Page struct {
	Messages []*Message
	Errors   []*Error
	More     bool
	Oldest   int64 // the lowest seq in the page (0: an empty page)
}

// History asks for a page of older messages of conversation (scrolling
// back): the newest limit of those below beforeSeq (beforeSeq <= 0: the
// conversation's newest page; limit 0: the protocol's default, at most
// events' 500), decrypted and verified like delivered messages. It is a
// "sync" with "before" (docs/protocol.md) whose answer goes to the caller
// only: a page never enters the conversation's order, moves no cursor and
// sends no ack — the messages are older than what the application has.
// The request is written again every ResendInterval while no answer came
// (the socket may have been replaced); it gives up when ctx ends or the
// connection ended for good. A refusal (not_member, unauthorized) is a
// *protocol.Error.
func (c *Client) History(ctx context.Context, conversation string, beforeSeq int64, limit int) (Page, error) {
	if !validID(conversation) || limit < 0 || limit > events.MaxSyncLimit {
		return Page{}, fmt.Errorf("client: history: bad conversation %q or limit %d (0..%d)", conversation, limit, events.MaxSyncLimit)
	}
	if beforeSeq <= 0 {
		beforeSeq = math.MaxInt64 // past the newest: route pages below it
	}
	ch := make(chan protocol.Frame, 1)
	var f protocol.Frame
	if err := c.do(func() {
		c.s.pageN++
		f = protocol.Frame{Type: protocol.TypeSync, ID: pageIDPrefix + strconv.Itoa(c.s.pageN), Conversation: conversation,
			Before: beforeSeq, Limit: limit}
		c.s.pages[f.ID] = ch
		c.write(f)
	}); err != nil {
		return Page{}, err
	}
	defer c.do(func() { delete(c.s.pages, f.ID) })
	t := time.NewTicker(c.cfg.ResendInterval)
	defer t.Stop()
	for {
		select {
		case a := <-ch:
			if a.Type == protocol.TypeError {
				return Page{}, &protocol.Error{Code: a.Code, Message: a.Message, Ref: a.ID}
			}
			return c.openPage(a), nil
		case <-t.C:
			fatal, err := query(c, func() bool {
				c.write(f)
				return c.s.fatal
			})
			if err != nil {
				return Page{}, err
			}
			if fatal {
				return Page{}, fmt.Errorf("client: history: the connection ended for good (replaced or revoked)")
			}
		case <-ctx.Done():
			return Page{}, fmt.Errorf("client: history: %w", ctx.Err())
		case <-c.done:
			return Page{}, ErrClosed
		}
	}
}

// pageIDPrefix starts the id of every History request.
const pageIDPrefix = "page:"

// pageAnswer hands a batch or an error frame answering a History request
// to its caller; it reports whether one was waiting for it.
func (c *Client) pageAnswer(f protocol.Frame) bool {
	ch := c.s.pages[f.ID]
	if ch == nil {
		// A late answer to a request that gave up is still no part of the
		// order: drop it.
		return strings.HasPrefix(f.ID, pageIDPrefix)
	}
	select {
	case ch <- f:
	default: // answered already (a repeated request's answer)
	}
	return true
}

// openPage decrypts and verifies a page's messages off the loop: it reads
// only the device's key and the signing-key cache, which the reader warmed
// for the batch's senders before the loop saw it.
func (c *Client) openPage(f protocol.Frame) Page {
	p := Page{More: f.More}
	keys := pageKeys{}
	for _, m := range f.Messages {
		if m.Conversation == "" {
			m.Conversation = f.Conversation
		}
		if m.Conversation != f.Conversation || m.Seq < 1 {
			continue
		}
		if p.Oldest == 0 || m.Seq < p.Oldest {
			p.Oldest = m.Seq
		}
		ad := e2ee.AssociatedData{Conversation: m.Conversation, SenderDevice: m.SenderDevice, ClientMessageID: m.ID}
		if e2ee.IsDistributionID(m.ID) {
			keys.take(c, m, ad) // a group's sender key, for this page's messages: not one itself
			continue
		}
		content, code, err := keys.open(c, m.Envelope, ad)
		if err != nil {
			p.Errors = append(p.Errors, &Error{Conversation: m.Conversation, Seq: m.Seq, ID: m.ID, Sender: m.Sender,
				SenderDevice: m.SenderDevice, Code: code, Err: err})
			continue
		}
		p.Messages = append(p.Messages, &Message{Conversation: m.Conversation, Seq: m.Seq, ID: m.ID, Sender: m.Sender,
			SenderDevice: m.SenderDevice, StoredAt: m.StoredAt, Content: content,
			Own: m.SenderDevice == c.cfg.Device, Verified: c.verified(m.Conversation, m)})
	}
	judgePage(p.Messages) // edits, deletes, reactions: Invalid (actions.go)
	return p
}

// pageKeys are the sender keys a page of older messages brings (its
// distributions): the device's own chains are past those messages (a
// key opens once), so a page's group messages open with chains started
// afresh from the page's distributions. A message whose distribution is
// older than the page opens only if the device's own state still holds
// its key (a skipped one); otherwise it is an Error (no_sender_key).
type pageKeys map[string]*e2ee.ReceiverKey

func (k pageKeys) take(c *Client, m protocol.Frame, ad e2ee.AssociatedData) {
	if m.Envelope == nil {
		return
	}
	plain, err := e2ee.Open(m.Envelope, ad, c.cfg.Device, c.cfg.Key)
	if err != nil {
		return
	}
	content, err := e2ee.UnmarshalContent(plain)
	if err != nil || content.SenderKey == nil {
		return
	}
	if rk, err := e2ee.NewReceiverKey(*content.SenderKey); err == nil {
		k[peerID(ad.Conversation, ad.SenderDevice, content.SenderKey.Epoch)] = rk
	}
}

func (k pageKeys) open(c *Client, env *e2ee.Envelope, ad e2ee.AssociatedData) (e2ee.Content, string, error) {
	if env != nil && env.V == e2ee.Version2 {
		if rk := k[peerID(ad.Conversation, ad.SenderDevice, env.Epoch)]; rk != nil {
			if plain, err := rk.Open(env, ad); err == nil {
				content, err := e2ee.UnmarshalContent(plain)
				if err != nil {
					return e2ee.Content{}, CodeBadContent, err
				}
				return content, "", nil
			}
		}
	}
	return c.open(env, ad)
}

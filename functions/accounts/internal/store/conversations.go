package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Conversation kinds.
const (
	Direct = "direct"
	Group  = "group"
)

// Conversation is a direct (two members, fixed) or group conversation.
// Rev counts membership changes; see ChangeMembers.
type Conversation struct {
	ID        string    `bson:"_id"`
	Kind      string    `bson:"kind"`
	Members   []string  `bson:"members"`
	Title     string    `bson:"title"`
	CreatedBy string    `bson:"createdBy"`
	CreatedAt time.Time `bson:"createdAt"`
	UpdatedAt time.Time `bson:"updatedAt"`
	Rev       int64     `bson:"rev"`
}

// IsMember reports whether user is a member.
func (c Conversation) IsMember(user string) bool {
	for _, m := range c.Members {
		if m == user {
			return true
		}
	}
	return false
}

// InsertConversation stores a new conversation (Rev 1); ErrDuplicate when
// the id exists, which for a direct conversation (deterministic id) means
// it was already created.
func (s *Store) InsertConversation(ctx context.Context, c Conversation) error {
	c.Rev = 1
	return insert(ctx, s.convs, c)
}

// ConversationByID finds a conversation.
func (s *Store) ConversationByID(ctx context.Context, id string) (Conversation, error) {
	var c Conversation
	return c, findOne(ctx, s.convs, bson.D{{Key: "_id", Value: id}}, &c)
}

// ConversationsOf lists the user's conversations, most recently changed first.
func (s *Store) ConversationsOf(ctx context.Context, user string, limit int64) ([]Conversation, error) {
	out := []Conversation{}
	err := findAll(ctx, s.convs, bson.D{{Key: "members", Value: user}}, &out,
		options.Find().SetSort(bson.D{{Key: "updatedAt", Value: -1}, {Key: "_id", Value: 1}}).SetLimit(limit))
	return out, err
}

// MemberChange describes one membership change for the change log.
type MemberChange struct {
	Op   string // "add" or "remove"
	User string // the member added or removed
	By   string // who did it
	At   time.Time
}

// change is one entry of the conversation_changes log: the full member list
// after revision Rev, so that anyone can apply it again.
type change struct {
	ID           string    `bson:"_id"` // conversation + "/" + rev
	Conversation string    `bson:"conversation"`
	Rev          int64     `bson:"rev"`
	Op           string    `bson:"op"`
	User         string    `bson:"user"`
	By           string    `bson:"by"`
	Members      []string  `bson:"members"`
	At           time.Time `bson:"at"`
}

func changeID(conv string, rev int64) string { return conv + "/" + strconv.FormatInt(rev, 10) }

// maxChangeAttempts bounds ChangeMembers' optimistic loop.
const maxChangeAttempts = 16

// ChangeMembers applies a membership change computed by next from the
// current conversation. next returns the new member list and whether
// anything changed (false: nothing is written and the current conversation
// is returned), or an error that is passed through.
//
// Concurrent changes must not lose each other, and updates are not atomic
// on FerretDB, so revisions are serialised by an insert: the change for
// revision Rev+1 goes into conversation_changes under the unique id
// "<conversation>/<Rev+1>", and only its winner writes the members into the
// conversation document. A loser (or a winner that died before its update)
// is caught up by rolling the logged revision forward — the log entry holds
// the whole member list, so applying it twice is harmless — and retries on
// the new state. The conversation document may briefly lag the log; it
// never loses a logged change, and the next change repairs any lag.
func (s *Store) ChangeMembers(ctx context.Context, id string, mc MemberChange, next func(Conversation) ([]string, bool, error)) (Conversation, error) {
	for range maxChangeAttempts {
		c, err := s.CurrentConversation(ctx, id)
		if err != nil {
			return c, err
		}
		members, changed, err := next(c)
		if err != nil || !changed {
			return c, err
		}
		ch := change{ID: changeID(id, c.Rev+1), Conversation: id, Rev: c.Rev + 1,
			Op: mc.Op, User: mc.User, By: mc.By, Members: members, At: mc.At}
		err = insert(ctx, s.changes, ch)
		if errors.Is(err, ErrDuplicate) {
			if err := s.rollForward(ctx, id, c.Rev); err != nil {
				return c, err
			}
			continue
		}
		if err != nil {
			return c, err
		}
		if err := s.apply(ctx, ch); err != nil {
			return c, err
		}
		c.Members, c.Rev, c.UpdatedAt = members, ch.Rev, ch.At
		return c, nil
	}
	return Conversation{}, ErrContention
}

// CurrentConversation reads a conversation and first applies any logged
// membership change its document lags behind (see ChangeMembers), so that
// accounts never answers with a member list older than the log.
func (s *Store) CurrentConversation(ctx context.Context, id string) (Conversation, error) {
	c, err := s.ConversationByID(ctx, id)
	for err == nil {
		var ch change
		err = findOne(ctx, s.changes, bson.D{{Key: "_id", Value: changeID(id, c.Rev+1)}}, &ch)
		if errors.Is(err, ErrNotFound) {
			return c, nil
		}
		if err == nil {
			if err = s.apply(ctx, ch); err == nil {
				c.Members, c.Rev, c.UpdatedAt = ch.Members, ch.Rev, ch.At
			}
		}
	}
	return c, err
}

// rollForward applies the logged change that follows rev.
func (s *Store) rollForward(ctx context.Context, id string, rev int64) error {
	var ch change
	if err := findOne(ctx, s.changes, bson.D{{Key: "_id", Value: changeID(id, rev+1)}}, &ch); err != nil {
		return fmt.Errorf("store: conversation %s: read change %d: %w", id, rev+1, err)
	}
	return s.apply(ctx, ch)
}

// apply writes a logged change into the conversation if it is still at the
// revision before it.
func (s *Store) apply(ctx context.Context, ch change) error {
	_, err := s.convs.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: ch.Conversation}, {Key: "rev", Value: ch.Rev - 1}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "members", Value: ch.Members}, {Key: "rev", Value: ch.Rev}, {Key: "updatedAt", Value: ch.At}}}})
	if err != nil {
		return fmt.Errorf("store: conversation %s: apply change %d: %w", ch.Conversation, ch.Rev, err)
	}
	return nil
}

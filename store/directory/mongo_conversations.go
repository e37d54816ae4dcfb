package directory

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/agentchat/agentchat/store"
)

// membershipDoc is one entry of the memberships collection: user is (at
// rev, or was) a member of conversation. It is an index of the members
// arrays for ConversationsOf, never an authority: a listing checks each
// conversation's own member list, so a stale entry is harmless.
type membershipDoc struct {
	ID           string `bson:"_id"` // user + "/" + conversation
	User         string `bson:"user"`
	Conversation string `bson:"conversation"`
	Rev          int64  `bson:"rev"`    // the conversation revision that wrote it
	Member       bool   `bson:"member"` // false once removed
}

func membershipID(user, conv string) string { return user + "/" + conv }

// change is one entry of the conversation_changes log: the change that
// made revision Rev, with the full member list after it, so that anyone
// can apply it again.
type change struct {
	ID           string    `bson:"_id"` // conversation + "/" + rev
	Conversation string    `bson:"conversation"`
	Rev          int64     `bson:"rev"`
	Op           string    `bson:"op"`
	User         string    `bson:"user"`
	By           string    `bson:"by"`
	Members      []string  `bson:"members"`
	Admins       []string  `bson:"admins,omitempty"`
	At           time.Time `bson:"at"`
}

// InsertConversation writes the memberships first, then the document: a
// failure in between leaves memberships of a conversation that does not
// exist (or, when the id was taken, of one they are not members of),
// which listings skip; the retry inserts the document.
func (s *Mongo) InsertConversation(ctx context.Context, c Conversation) error {
	c.Rev = 1
	docs := make([]any, 0, len(c.Members))
	for _, m := range c.Members {
		docs = append(docs, membershipDoc{ID: membershipID(m, c.ID), User: m, Conversation: c.ID, Rev: 1, Member: true})
	}
	if len(docs) > 0 {
		_, err := s.memberships.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
		if err != nil && !onlyDuplicates(err) {
			return storeErr("insert memberships", err)
		}
	}
	return insert(ctx, s.convs, c)
}

// onlyDuplicates reports whether every write error of a bulk insert is a
// duplicate key (an entry written before, by a retry or an older revision).
func onlyDuplicates(err error) bool {
	var bwe mongo.BulkWriteException
	if !errors.As(err, &bwe) || bwe.WriteConcernError != nil || len(bwe.WriteErrors) == 0 {
		return false
	}
	for _, we := range bwe.WriteErrors {
		if we.Code != 11000 {
			return false
		}
	}
	return true
}

func (s *Mongo) conversationDoc(ctx context.Context, id string) (Conversation, error) {
	var c Conversation
	return c, findOne(ctx, s.convs, bson.D{{Key: "_id", Value: id}}, &c)
}

func (s *Mongo) Conversation(ctx context.Context, id string) (Conversation, error) {
	c, err := s.conversationDoc(ctx, id)
	for err == nil {
		var ch change
		err = findOne(ctx, s.changes, bson.D{{Key: "_id", Value: changeID(id, c.Rev+1)}}, &ch)
		if errors.Is(err, store.ErrNotFound) {
			return c, nil
		}
		if err == nil {
			if err = s.apply(ctx, ch); err == nil {
				c.Members, c.Admins, c.Rev, c.UpdatedAt = ch.Members, ch.Admins, ch.Rev, ch.At
			}
		}
	}
	return c, err
}

// ConversationsOf reads the user's memberships, then those conversations,
// keeping the ones whose own member list has the user.
func (s *Mongo) ConversationsOf(ctx context.Context, user string, limit int) ([]Conversation, error) {
	var ms []membershipDoc
	if err := findAll(ctx, s.memberships, bson.D{{Key: "user", Value: user}, {Key: "member", Value: true}}, &ms,
		options.Find().SetProjection(bson.D{{Key: "conversation", Value: 1}})); err != nil {
		return nil, err
	}
	out := []Conversation{}
	if len(ms) == 0 {
		return out, nil
	}
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.Conversation
	}
	var cs []Conversation
	if err := findAll(ctx, s.convs, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}, &cs); err != nil {
		return nil, err
	}
	for _, c := range cs {
		if c.IsMember(user) {
			out = append(out, c)
		}
	}
	sortConversations(out)
	return out[:min(len(out), limit)], nil
}

// MembershipsOf pages through the user's membership entries in
// conversation order, reading each page's conversations, and skips the
// entries their conversation does not confirm (stale ones).
func (s *Mongo) MembershipsOf(ctx context.Context, user, after string, limit int) ([]Membership, error) {
	out := []Membership{}
	for len(out) < limit {
		filter := bson.D{{Key: "user", Value: user}, {Key: "member", Value: true}}
		if after != "" {
			filter = append(filter, bson.E{Key: "conversation", Value: bson.D{{Key: "$gt", Value: after}}})
		}
		want := limit - len(out)
		var ms []membershipDoc
		if err := findAll(ctx, s.memberships, filter, &ms, options.Find().
			SetSort(bson.D{{Key: "user", Value: 1}, {Key: "conversation", Value: 1}}).SetLimit(int64(want)).
			SetProjection(bson.D{{Key: "conversation", Value: 1}})); err != nil {
			return nil, err
		}
		if len(ms) == 0 {
			break
		}
		ids := make([]string, len(ms))
		for i, m := range ms {
			ids[i] = m.Conversation
		}
		var cs []Conversation
		if err := findAll(ctx, s.convs, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}, &cs,
			options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).
				SetProjection(bson.D{{Key: "kind", Value: 1}, {Key: "members", Value: 1}, {Key: "rev", Value: 1}, {Key: "title", Value: 1}})); err != nil {
			return nil, err
		}
		for _, c := range cs {
			if c.IsMember(user) {
				out = append(out, Membership{Conversation: c.ID, Kind: c.Kind, Members: c.Members, Rev: c.Rev, Title: c.Title})
			}
		}
		if len(ms) < want {
			break
		}
		after = ids[len(ids)-1]
	}
	return out, nil
}

// sortConversations orders most recently changed first, then by id.
func sortConversations(cs []Conversation) {
	slices.SortFunc(cs, func(a, b Conversation) int {
		if c := b.UpdatedAt.Compare(a.UpdatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
}

// maxChangeAttempts bounds ChangeMembers' optimistic loop.
const maxChangeAttempts = 16

// ChangeMembers serialises revisions by an insert, because updates are
// not atomic on FerretDB: the change for revision Rev+1 goes into
// conversation_changes under the unique id "<conversation>/<Rev+1>", and
// only its winner goes on to apply it. A loser (or a winner that died
// before applying) rolls the logged revision forward — the entry holds
// the whole member list, so applying it twice is harmless — and retries
// on the new state. The document may briefly lag the log; it never loses
// a logged change, and the next read or change repairs any lag.
func (s *Mongo) ChangeMembers(ctx context.Context, id string, mc MemberChange, next func(Conversation) (Roster, bool, error)) (Conversation, bool, error) {
	for range maxChangeAttempts {
		c, err := s.Conversation(ctx, id)
		if err != nil {
			return c, false, err
		}
		r, changed, err := next(c)
		if err != nil || !changed {
			return c, false, err
		}
		ch := change{ID: changeID(id, c.Rev+1), Conversation: id, Rev: c.Rev + 1,
			Op: mc.Op, User: mc.User, By: mc.By, Members: r.Members, Admins: r.Admins, At: storedTime(mc.At)}
		err = insert(ctx, s.changes, ch)
		if errors.Is(err, store.ErrDuplicate) {
			if err := s.rollForward(ctx, id, c.Rev); err != nil {
				return c, false, err
			}
			continue
		}
		if err != nil {
			return c, false, err
		}
		if err := s.apply(ctx, ch); err != nil {
			return c, false, err
		}
		c.Members, c.Admins, c.Rev, c.UpdatedAt = r.Members, r.Admins, ch.Rev, ch.At
		return c, true, nil
	}
	return Conversation{}, false, ErrContention
}

// rollForward applies the logged change that follows rev.
func (s *Mongo) rollForward(ctx context.Context, id string, rev int64) error {
	var ch change
	if err := findOne(ctx, s.changes, bson.D{{Key: "_id", Value: changeID(id, rev+1)}}, &ch); err != nil {
		return fmt.Errorf("directory: conversation %s: read change %d: %w", id, rev+1, err)
	}
	return s.apply(ctx, ch)
}

// apply writes a logged change: first the changed user's membership
// entry (only over an older revision's), then the conversation document
// (only if it is still at the revision before). A failure in between
// leaves the document behind its log, which the next read repairs by
// applying the change again.
func (s *Mongo) apply(ctx context.Context, ch change) error {
	if ch.User != "" {
		mid := membershipID(ch.User, ch.Conversation)
		_, err := s.memberships.UpdateOne(ctx,
			bson.D{{Key: "_id", Value: mid}, {Key: "rev", Value: bson.D{{Key: "$lt", Value: ch.Rev}}}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "user", Value: ch.User}, {Key: "conversation", Value: ch.Conversation},
				{Key: "rev", Value: ch.Rev}, {Key: "member", Value: slices.Contains(ch.Members, ch.User)}}}},
			options.UpdateOne().SetUpsert(true))
		// a duplicate: the entry is already at this revision or a newer one
		if err != nil && !mongo.IsDuplicateKeyError(err) {
			return fmt.Errorf("directory: conversation %s: apply change %d to memberships: %w", ch.Conversation, ch.Rev, err)
		}
	}
	_, err := s.convs.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: ch.Conversation}, {Key: "rev", Value: ch.Rev - 1}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "members", Value: ch.Members}, {Key: "admins", Value: ch.Admins}, {Key: "rev", Value: ch.Rev}, {Key: "updatedAt", Value: ch.At}}}})
	if err != nil {
		return fmt.Errorf("directory: conversation %s: apply change %d: %w", ch.Conversation, ch.Rev, err)
	}
	return nil
}

func storeErr(what string, err error) error { return fmt.Errorf("directory: %s: %w", what, err) }

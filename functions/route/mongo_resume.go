package function

import (
	"context"
)

var _ memberships = (*mongoDirectory)(nil)

// ConversationsOf reads the user's conversations through store/directory's
// memberships index (a page of entries, then those conversations by _id),
// in _id order.
func (d *mongoDirectory) ConversationsOf(ctx context.Context, user, after string, limit int) ([]conversationMembers, error) {
	ms, err := d.people.MembershipsOf(ctx, user, after, limit)
	if err != nil {
		return nil, err
	}
	out := make([]conversationMembers, len(ms))
	for i, m := range ms {
		out[i] = conversationMembers{ID: m.Conversation, Members: m.Members, Kind: m.Kind, Rev: m.Rev, Title: m.Title}
	}
	return out, nil
}

package function

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

var _ memberships = (*mongoDirectory)(nil)

// ConversationsOf reads the conversation documents that list user as a
// member, in _id order (one query; where members is not indexed, a scan:
// store/directory's memberships collection is the index for it).
func (d *mongoDirectory) ConversationsOf(ctx context.Context, user, after string, limit int) ([]conversationMembers, error) {
	filter := bson.D{{Key: "members", Value: user}}
	if after != "" {
		filter = append(filter, bson.E{Key: "_id", Value: bson.D{{Key: "$gt", Value: after}}})
	}
	cur, err := d.conversations.Find(ctx, filter, options.Find().
		SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(int64(limit)).
		SetProjection(bson.D{{Key: "_id", Value: 1}, {Key: "members", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("route: read conversations of a user: %w", err)
	}
	var docs []struct {
		ID      string   `bson:"_id"`
		Members []string `bson:"members"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("route: read conversations of a user: %w", err)
	}
	out := make([]conversationMembers, len(docs))
	for i, doc := range docs {
		out[i] = conversationMembers{ID: doc.ID, Members: doc.Members}
	}
	return out, nil
}

package directory

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/agentchat/agentchat/store"
)

// droppedIndexes were created by earlier versions and must go: the
// members array as one btree key exceeds PostgreSQL's key size for
// groups of about 100 members (FerretDB-on-PostgreSQL refuses the insert).
var droppedIndexes = map[string][]string{
	CollConversations: {"members_updatedAt"},
	CollMemberships:   {"user"}, // replaced by user_conversation
}

// EnsureIndexes creates the indexes correctness depends on and drops the
// ones that must go (idempotent; accounts calls it at start). Sparse
// rather than partial unique indexes: FerretDB has no partial ones, and
// sparse gives the same meaning for "unique when present".
func (s *Mongo) EnsureIndexes(ctx context.Context) error {
	for _, w := range []struct {
		coll *mongo.Collection
		want []mongo.IndexModel
	}{
		{s.users, []mongo.IndexModel{
			// usernames are unique among users that have one (agents have none)
			{Keys: bson.D{{Key: "username", Value: 1}}, Options: options.Index().SetName("username_unique").SetUnique(true).SetSparse(true)},
			{Keys: bson.D{{Key: "kind", Value: 1}}, Options: options.Index().SetName("kind")},
		}},
		// one device per (user, public key): a retried login reuses its device
		{s.devices, []mongo.IndexModel{{Keys: bson.D{{Key: "user", Value: 1}, {Key: "publicKey", Value: 1}}, Options: options.Index().SetName("user_publicKey_unique").SetUnique(true)}}},
		// the conversations of a user
		{s.memberships, []mongo.IndexModel{{Keys: bson.D{{Key: "user", Value: 1}, {Key: "conversation", Value: 1}}, Options: options.Index().SetName("user_conversation")}}},
	} {
		if err := store.EnsureIndexes(ctx, w.coll, w.want); err != nil {
			return fmt.Errorf("directory: %w", err)
		}
	}
	for coll, names := range droppedIndexes {
		c := s.users.Database().Collection(coll)
		have, err := indexNames(ctx, c)
		if err != nil {
			return err
		}
		for _, n := range names {
			if have[n] {
				if err := c.Indexes().DropOne(ctx, n); err != nil {
					return fmt.Errorf("directory: drop index %s.%s: %w", coll, n, err)
				}
			}
		}
	}
	return nil
}

// indexNames lists a collection's index names (none for a collection that
// does not exist yet).
func indexNames(ctx context.Context, c *mongo.Collection) (map[string]bool, error) {
	specs, err := c.Indexes().ListSpecifications(ctx)
	var ce mongo.CommandError
	if errors.As(err, &ce) && ce.Code == 26 { // NamespaceNotFound
		return map[string]bool{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("directory: list indexes of %s: %w", c.Name(), err)
	}
	have := make(map[string]bool, len(specs))
	for _, sp := range specs {
		have[sp.Name] = true
	}
	return have, nil
}

package directory

import (
	"context"
	"errors"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/store"
)

// visibilityOf is u's presence setting, its default filled in.
func visibilityOf(u User) string {
	if u.Visibility == "" {
		return events.DefaultVisibility
	}
	return u.Visibility
}

// SetVisibility: one update (the last writer wins: a user's own setting),
// then the user read back.
func (s *Mongo) SetVisibility(ctx context.Context, id, visibility string) (User, error) {
	if _, err := s.users.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "visibility", Value: visibility}}}}); err != nil {
		return User{}, storeErr("set visibility", err)
	}
	return s.UserByID(ctx, id)
}

// visibilitiesByEquality is the most users Visibilities reads one _id
// equality at a time: FerretDB on PostgreSQL serves an _id equality from
// its primary key but scans the whole collection for $in (measured on
// push_subscriptions: 4 ids among 3,000 documents, 190 ms as one $in,
// 10 ms as 4 equalities), and route reads a few settings (the user's and
// their online watchers') at every connect and leave.
const visibilitiesByEquality = 8

// Visibilities: one _id equality per user for a few, one find for more.
func (s *Mongo) Visibilities(ctx context.Context, users []string) (map[string]string, error) {
	out := make(map[string]string, len(users))
	if len(users) == 0 {
		return out, nil
	}
	proj := bson.D{{Key: "_id", Value: 1}, {Key: "visibility", Value: 1}}
	var found []User
	if len(users) <= visibilitiesByEquality {
		for _, id := range users {
			var u User
			switch err := findOne(ctx, s.users, bson.D{{Key: "_id", Value: id}}, &u, options.FindOne().SetProjection(proj)); {
			case errors.Is(err, store.ErrNotFound):
			case err != nil:
				return nil, err
			default:
				found = append(found, u)
			}
		}
	} else if err := findAll(ctx, s.users, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: users}}}}, &found,
		options.Find().SetProjection(proj)); err != nil {
		return nil, err
	}
	for _, u := range found {
		out[u.ID] = visibilityOf(u)
	}
	return out, nil
}

func (m *Memory) SetVisibility(_ context.Context, id, visibility string) (User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.users[id]
	if !ok {
		return User{}, store.ErrNotFound
	}
	u.Visibility = visibility
	m.users[id] = u
	return u, nil
}

func (m *Memory) Visibilities(_ context.Context, users []string) (map[string]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]string, len(users))
	for _, id := range users {
		if u, ok := m.users[id]; ok {
			out[id] = visibilityOf(u)
		}
	}
	return out, nil
}

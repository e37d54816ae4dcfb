package directory

import (
	"context"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/agentchat/agentchat/store"
)

func (s *Mongo) InsertUser(ctx context.Context, u User) error { return insert(ctx, s.users, u) }

func (s *Mongo) UserByID(ctx context.Context, id string) (User, error) {
	var u User
	return u, findOne(ctx, s.users, bson.D{{Key: "_id", Value: id}}, &u)
}

func (s *Mongo) UserByUsername(ctx context.Context, username string) (User, error) {
	var u User
	return u, findOne(ctx, s.users, bson.D{{Key: "username", Value: username}}, &u)
}

func (s *Mongo) ExistingUsers(ctx context.Context, ids []string) (map[string]bool, error) {
	out := map[string]bool{}
	if len(ids) == 0 {
		return out, nil
	}
	var found []struct {
		ID string `bson:"_id"`
	}
	err := findAll(ctx, s.users, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}, &found,
		options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, err
	}
	for _, f := range found {
		out[f.ID] = true
	}
	return out, nil
}

func (s *Mongo) Users(ctx context.Context, after string, limit int) ([]User, error) {
	out := []User{}
	err := findAll(ctx, s.users, bson.D{{Key: "_id", Value: bson.D{{Key: "$gt", Value: after}}}}, &out,
		options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(int64(max(1, limit))))
	return out, err
}

// SetSuspended sets suspendedAt only where it is null (the first time
// stays), or unsets it; then reads the user back.
func (s *Mongo) SetSuspended(ctx context.Context, id string, at *time.Time) (User, error) {
	var err error
	if at != nil {
		_, err = s.users.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "suspendedAt", Value: nil}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "suspendedAt", Value: storedTime(*at)}}}})
	} else {
		_, err = s.users.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}},
			bson.D{{Key: "$unset", Value: bson.D{{Key: "suspendedAt", Value: ""}}}})
	}
	if err != nil {
		return User{}, storeErr("suspend user", err)
	}
	return s.UserByID(ctx, id)
}

// MarkDeleted: three updates, each keeping a time already set, so a
// retry after a failure between them finishes the job.
func (s *Mongo) MarkDeleted(ctx context.Context, id string, at time.Time) (User, error) {
	t := storedTime(at)
	for _, f := range []string{"suspendedAt", "deletedAt"} {
		if _, err := s.users.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: f, Value: nil}},
			bson.D{{Key: "$set", Value: bson.D{{Key: f, Value: t}}}}); err != nil {
			return User{}, storeErr("delete user", err)
		}
	}
	if _, err := s.users.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}},
		bson.D{{Key: "$unset", Value: bson.D{{Key: "passwordHash", Value: ""}}}}); err != nil {
		return User{}, storeErr("delete user", err)
	}
	return s.UserByID(ctx, id)
}

func (s *Mongo) AllAgents(ctx context.Context, limit int) ([]User, error) {
	out := []User{}
	err := findAll(ctx, s.users, bson.D{{Key: "kind", Value: KindAgent}}, &out,
		options.Find().SetSort(bson.D{{Key: "createdAt", Value: 1}, {Key: "_id", Value: 1}}).SetLimit(int64(limit)))
	return out, err
}

func (s *Mongo) InsertDevice(ctx context.Context, d Device) error { return insert(ctx, s.devices, d) }

func (s *Mongo) DeviceByID(ctx context.Context, id string) (Device, error) {
	var d Device
	return d, findOne(ctx, s.devices, bson.D{{Key: "_id", Value: id}}, &d)
}

func (s *Mongo) DeviceByKey(ctx context.Context, user, publicKey string) (Device, error) {
	var d Device
	return d, findOne(ctx, s.devices, bson.D{{Key: "user", Value: user}, {Key: "publicKey", Value: publicKey}}, &d)
}

// RevokeDevice sets revokedAt only where it is still null, so concurrent
// revocations agree on the first time (or, on FerretDB, on one of them).
func (s *Mongo) RevokeDevice(ctx context.Context, user, id string, at time.Time) (Device, error) {
	d, err := s.DeviceByID(ctx, id)
	if err != nil {
		return d, err
	}
	if d.User != user {
		return Device{}, store.ErrNotFound
	}
	if d.Revoked() {
		return d, nil
	}
	at = storedTime(at)
	if _, err := s.devices.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "revokedAt", Value: nil}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "revokedAt", Value: at}}}}); err != nil {
		return d, storeErr("revoke device", err)
	}
	d.RevokedAt = &at
	return d, nil
}

func (s *Mongo) SetSigningKey(ctx context.Context, user, id, signingKey, binding string) (Device, error) {
	// The filter makes the update a no-op once a key is set; what is read
	// after it says whose key stands.
	if _, err := s.devices.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: id}, {Key: "user", Value: user}, {Key: "revokedAt", Value: nil},
			{Key: "signingKey", Value: bson.D{{Key: "$exists", Value: false}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "signingKey", Value: signingKey}, {Key: "binding", Value: binding}}}}); err != nil {
		return Device{}, storeErr("set signing key", err)
	}
	d, err := s.DeviceByID(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound) || err == nil && (d.User != user || d.Revoked()):
		return Device{}, store.ErrNotFound
	case err != nil:
		return Device{}, err
	case d.SigningKey != signingKey:
		return Device{}, store.ErrDuplicate
	}
	return d, nil
}

// RotateKey writes the device first: it is what key directories read; the
// user's copy of the key is written after (a retry repeats both).
func (s *Mongo) RotateKey(ctx context.Context, user, id, publicKey string) (Device, error) {
	res, err := s.devices.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: id}, {Key: "user", Value: user}, {Key: "revokedAt", Value: nil}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "publicKey", Value: publicKey}}},
			{Key: "$unset", Value: bson.D{{Key: "signingKey", Value: ""}, {Key: "binding", Value: ""}}}})
	switch {
	case mongo.IsDuplicateKeyError(err):
		return Device{}, store.ErrDuplicate
	case err != nil:
		return Device{}, storeErr("rotate key", err)
	case res.MatchedCount == 0:
		return Device{}, store.ErrNotFound
	}
	if _, err := s.users.UpdateOne(ctx, bson.D{{Key: "_id", Value: user}, {Key: "deviceId", Value: id}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "publicKey", Value: publicKey}}}}); err != nil {
		return Device{}, storeErr("rotate key", err)
	}
	return s.DeviceByID(ctx, id)
}

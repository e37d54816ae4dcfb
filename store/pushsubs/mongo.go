package pushsubs

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Mongo is the Store on MongoDB (the _id index is all it needs).
type Mongo struct{ c *mongo.Collection }

var _ Store = (*Mongo)(nil)

// NewMongo uses db's push_subscriptions.
func NewMongo(db *mongo.Database) *Mongo { return &Mongo{c: db.Collection(Collection)} }

type doc struct {
	Device    string    `bson:"_id"`
	User      string    `bson:"user"`
	Endpoint  string    `bson:"endpoint"`
	P256dh    string    `bson:"p256dh"`
	Auth      string    `bson:"auth"`
	UpdatedAt time.Time `bson:"updatedAt"`
}

// Put replaces the device's document (upsert).
func (m *Mongo) Put(ctx context.Context, s Subscription) error {
	d := doc{Device: s.Device, User: s.User, Endpoint: s.Endpoint, P256dh: s.P256dh, Auth: s.Auth, UpdatedAt: s.UpdatedAt.UTC()}
	if _, err := m.c.ReplaceOne(ctx, bson.D{{Key: "_id", Value: s.Device}}, d, options.Replace().SetUpsert(true)); err != nil {
		return fmt.Errorf("pushsubs: put: %w", err)
	}
	return nil
}

// Delete removes the device's document.
func (m *Mongo) Delete(ctx context.Context, device string) error {
	if _, err := m.c.DeleteOne(ctx, bson.D{{Key: "_id", Value: device}}); err != nil {
		return fmt.Errorf("pushsubs: delete: %w", err)
	}
	return nil
}

// DeleteEndpoint removes the device's document if it names endpoint.
func (m *Mongo) DeleteEndpoint(ctx context.Context, device, endpoint string) error {
	if _, err := m.c.DeleteOne(ctx, bson.D{{Key: "_id", Value: device}, {Key: "endpoint", Value: endpoint}}); err != nil {
		return fmt.Errorf("pushsubs: delete: %w", err)
	}
	return nil
}

// Get finds the devices' documents in one query.
func (m *Mongo) Get(ctx context.Context, devices []string) ([]Subscription, error) {
	if len(devices) == 0 {
		return nil, nil
	}
	cur, err := m.c.Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: devices}}}})
	if err != nil {
		return nil, fmt.Errorf("pushsubs: get: %w", err)
	}
	var docs []doc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("pushsubs: get: %w", err)
	}
	out := make([]Subscription, len(docs))
	for i, d := range docs {
		out[i] = Subscription{User: d.User, Device: d.Device, Endpoint: d.Endpoint, P256dh: d.P256dh, Auth: d.Auth, UpdatedAt: d.UpdatedAt}
	}
	return out, nil
}

package store

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Device is one key-holding endpoint of a user or agent. Its public key
// (base64 std of a 32-byte X25519 key) is what senders wrap message keys for.
type Device struct {
	ID        string     `bson:"_id"`
	User      string     `bson:"user"`
	Name      string     `bson:"name,omitempty"`
	PublicKey string     `bson:"publicKey"`
	CreatedAt time.Time  `bson:"createdAt"`
	RevokedAt *time.Time `bson:"revokedAt,omitempty"`
}

// Revoked reports whether the device was revoked.
func (d Device) Revoked() bool { return d.RevokedAt != nil }

// InsertDevice stores a new device; ErrDuplicate when the id is taken or the
// user already has a device with this public key.
func (s *Store) InsertDevice(ctx context.Context, d Device) error {
	return insert(ctx, s.devices, d)
}

// DeviceByID finds a device, revoked or not.
func (s *Store) DeviceByID(ctx context.Context, id string) (Device, error) {
	var d Device
	return d, findOne(ctx, s.devices, bson.D{{Key: "_id", Value: id}}, &d)
}

// DeviceByKey finds the user's device holding publicKey, revoked or not.
func (s *Store) DeviceByKey(ctx context.Context, user, publicKey string) (Device, error) {
	var d Device
	return d, findOne(ctx, s.devices, bson.D{{Key: "user", Value: user}, {Key: "publicKey", Value: publicKey}}, &d)
}

// ActiveDevices lists the non-revoked devices of users, by user then age.
func (s *Store) ActiveDevices(ctx context.Context, users ...string) ([]Device, error) {
	out := []Device{}
	filter := bson.D{{Key: "user", Value: bson.D{{Key: "$in", Value: users}}}, {Key: "revokedAt", Value: nil}}
	err := findAll(ctx, s.devices, filter, &out,
		options.Find().SetSort(bson.D{{Key: "user", Value: 1}, {Key: "createdAt", Value: 1}, {Key: "_id", Value: 1}}))
	return out, err
}

// RevokeDevice marks the user's device revoked, then revokes its refresh
// tokens. The device is the authority (refresh and authentication check
// it), so a failure between the two writes leaves no usable token behind;
// repeating the call finishes the job. ErrNotFound if the user has no such
// device; revoking a revoked device succeeds.
func (s *Store) RevokeDevice(ctx context.Context, user, id string, at time.Time) error {
	d, err := s.DeviceByID(ctx, id)
	if err != nil {
		return err
	}
	if d.User != user {
		return ErrNotFound
	}
	if !d.Revoked() {
		_, err := s.devices.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "revokedAt", Value: nil}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "revokedAt", Value: at}}}})
		if err != nil {
			return fmt.Errorf("store: revoke device: %w", err)
		}
	}
	return s.RevokeDeviceTokens(ctx, id, at)
}

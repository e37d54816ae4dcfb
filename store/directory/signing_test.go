package directory_test

import (
	"context"
	"errors"
	"testing"

	"github.com/agentchat/agentchat/store"
	"github.com/agentchat/agentchat/store/directory"
)

// TestSigningKey is SetSigningKey's contract, on both implementations (a
// part of the shared suite kept in its own file).
func TestSigningKey(t *testing.T) {
	for name, open := range map[string]func(*testing.T) directory.Directory{
		"Mongo":  func(t *testing.T) directory.Directory { d, _ := openMongo(t); return d },
		"Memory": func(*testing.T) directory.Directory { return directory.NewMemory() },
	} {
		t.Run(name, func(t *testing.T) { testSigningKey(t, open(t)) })
	}
}

func testSigningKey(t *testing.T, d directory.Directory) {
	ctx := context.Background()
	must(t, d.InsertDevice(ctx, directory.Device{ID: "d1", User: "u1", PublicKey: "k1", CreatedAt: t0}))
	must(t, d.InsertDevice(ctx, directory.Device{ID: "d2", User: "u1", PublicKey: "k2", CreatedAt: t0}))
	if dv, err := d.DeviceByID(ctx, "d1"); err != nil || dv.SigningKey != "" || dv.Binding != "" {
		t.Fatalf("a new device = %+v, %v; want no signing key", dv, err)
	}
	dv, err := d.SetSigningKey(ctx, "u1", "d1", "s1", "b1")
	if err != nil || dv.SigningKey != "s1" || dv.Binding != "b1" || dv.PublicKey != "k1" {
		t.Fatalf("SetSigningKey = %+v, %v", dv, err)
	}
	if dv, err := d.SetSigningKey(ctx, "u1", "d1", "s1", "b1-again"); err != nil || dv.Binding != "b1" {
		t.Errorf("the same key again = %+v, %v; want success, the first binding kept", dv, err)
	}
	if _, err := d.SetSigningKey(ctx, "u1", "d1", "s2", "b2"); !errors.Is(err, store.ErrDuplicate) {
		t.Errorf("another key: err = %v, want ErrDuplicate", err)
	}
	for _, c := range []struct{ user, id string }{{"u2", "d2"}, {"u1", "nope"}} {
		if _, err := d.SetSigningKey(ctx, c.user, c.id, "s3", "b3"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("SetSigningKey(%s, %s): err = %v, want ErrNotFound", c.user, c.id, err)
		}
	}
	if _, err := d.RevokeDevice(ctx, "u1", "d2", t0); err != nil {
		t.Fatal(err)
	}
	if _, err := d.SetSigningKey(ctx, "u1", "d2", "s3", "b3"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a revoked device: err = %v, want ErrNotFound", err)
	}
	cur, err := d.CurrentDevices(ctx, []string{"u1"})
	if err != nil || len(cur) != 1 || cur[0].SigningKey != "s1" || cur[0].Binding != "b1" {
		t.Errorf("CurrentDevices(u1) = %+v, %v; want d1 with its signing key", cur, err)
	}
	if dv, err := d.DeviceByID(ctx, "d2"); err != nil || dv.SigningKey != "" {
		t.Errorf("the revoked device = %+v, %v; want no signing key", dv, err)
	}
}

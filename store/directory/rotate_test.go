package directory_test

import (
	"context"
	"errors"
	"testing"

	"github.com/agentchat/agentchat/store"
	"github.com/agentchat/agentchat/store/directory"
)

// TestRotateKey is RotateKey's contract, on both implementations.
func TestRotateKey(t *testing.T) {
	for name, open := range map[string]func(*testing.T) directory.Directory{
		"Mongo":  func(t *testing.T) directory.Directory { d, _ := openMongo(t); return d },
		"Memory": func(*testing.T) directory.Directory { return directory.NewMemory() },
	} {
		t.Run(name, func(t *testing.T) { testRotateKey(t, open(t)) })
	}
}

func testRotateKey(t *testing.T, d directory.Directory) {
	ctx := context.Background()
	must(t, d.InsertDevice(ctx, directory.Device{ID: "dv-a", User: "a1", PublicKey: "k1", CreatedAt: t0}))
	must(t, d.InsertUser(ctx, directory.User{ID: "a1", Kind: directory.KindAgent, Name: "A", OwnerID: "u1", DeviceID: "dv-a", PublicKey: "k1", CreatedAt: t0}))
	if _, err := d.SetSigningKey(ctx, "a1", "dv-a", "s1", "b1"); err != nil {
		t.Fatal(err)
	}
	dv, err := d.RotateKey(ctx, "a1", "dv-a", "k2")
	if err != nil || dv.PublicKey != "k2" || dv.SigningKey != "" || dv.Binding != "" || dv.ID != "dv-a" {
		t.Fatalf("RotateKey = %+v, %v; want k2 and no signing key", dv, err)
	}
	if u, err := d.UserByID(ctx, "a1"); err != nil || u.PublicKey != "k2" {
		t.Errorf("the agent after rotation = %+v, %v; want its copy of the key k2", u, err)
	}
	if cur, err := d.CurrentDevices(ctx, []string{"a1"}); err != nil || len(cur) != 1 || cur[0].PublicKey != "k2" || cur[0].SigningKey != "" {
		t.Errorf("CurrentDevices(a1) = %+v, %v", cur, err)
	}
	// A signing key can be set again: the old one was cleared.
	if dv, err := d.SetSigningKey(ctx, "a1", "dv-a", "s2", "b2"); err != nil || dv.SigningKey != "s2" {
		t.Errorf("SetSigningKey after rotation = %+v, %v", dv, err)
	}
	for _, c := range []struct{ user, id string }{{"u2", "dv-a"}, {"a1", "nope"}} {
		if _, err := d.RotateKey(ctx, c.user, c.id, "k3"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("RotateKey(%s, %s): err = %v, want ErrNotFound", c.user, c.id, err)
		}
	}
	if _, err := d.RevokeDevice(ctx, "a1", "dv-a", t0); err != nil {
		t.Fatal(err)
	}
	if _, err := d.RotateKey(ctx, "a1", "dv-a", "k3"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a revoked device: err = %v, want ErrNotFound", err)
	}
}

package directory_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/agentchat/agentchat/store"
	"github.com/agentchat/agentchat/store/directory"
)

// TestMarkDeleted is MarkDeleted's contract, on both implementations.
func TestMarkDeleted(t *testing.T) {
	for name, open := range map[string]func(*testing.T) directory.Directory{
		"Mongo":  func(t *testing.T) directory.Directory { d, _ := openMongo(t); return d },
		"Memory": func(*testing.T) directory.Directory { return directory.NewMemory() },
	} {
		t.Run(name, func(t *testing.T) { testMarkDeleted(t, open(t)) })
	}
}

func testMarkDeleted(t *testing.T, d directory.Directory) {
	ctx := context.Background()
	must(t, d.InsertUser(ctx, directory.User{ID: "u1", Kind: directory.KindUser, Username: "ann", Name: "Ann", PasswordHash: "h", CreatedAt: t0}))
	t1, t2 := t0.Add(time.Hour), t0.Add(2*time.Hour)
	u, err := d.MarkDeleted(ctx, "u1", t1)
	if err != nil || u.DeletedAt == nil || !u.DeletedAt.Equal(t1) || u.SuspendedAt == nil || !u.SuspendedAt.Equal(t1) ||
		u.PasswordHash != "" || u.Username != "ann" || u.Name != "Ann" {
		t.Fatalf("MarkDeleted = %+v, %v; want deleted and suspended at t1, no password, the rest kept", u, err)
	}
	if u, err := d.MarkDeleted(ctx, "u1", t2); err != nil || !u.DeletedAt.Equal(t1) || !u.SuspendedAt.Equal(t1) {
		t.Errorf("again = %+v, %v; want the first times kept", u, err)
	}
	if u, err := d.UserByUsername(ctx, "ann"); err != nil || u.ID != "u1" || u.DeletedAt == nil {
		t.Errorf("by username = %+v, %v; want the deleted record (the name stays taken)", u, err)
	}
	if _, err := d.MarkDeleted(ctx, "nope", t1); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown user: err = %v, want ErrNotFound", err)
	}
}

package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// testStore opens a fresh database on the test MongoDB and drops it after.
func testStore(t *testing.T) *Store {
	t.Helper()
	uri := need(t, "AGENTCHAT_TEST_MONGODB_URI")
	s, err := Open(uri, fmt.Sprintf("acct_store_%d", time.Now().UnixNano()))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.EnsureIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.db.Drop(ctx); s.Close(ctx) })
	return s
}

func TestUsernameUniqueAgentsWithout(t *testing.T) {
	s, ctx := testStore(t), context.Background()
	now := time.Now()
	if err := s.InsertUser(ctx, User{ID: "u1", Kind: KindUser, Username: "alice", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := s.InsertUser(ctx, User{ID: "u2", Kind: KindUser, Username: "alice", CreatedAt: now}); !errors.Is(err, ErrDuplicate) {
		t.Errorf("second alice: err = %v, want ErrDuplicate", err)
	}
	for _, id := range []string{"a1", "a2"} {
		if err := s.InsertUser(ctx, User{ID: id, Kind: KindAgent, Name: id, CreatedAt: now}); err != nil {
			t.Errorf("agent %s without username: %v", id, err)
		}
	}
}

// TestConcurrentMemberChanges adds 8 members to one group at once: with
// non-atomic updates underneath, none may be lost.
func TestConcurrentMemberChanges(t *testing.T) {
	s, ctx := testStore(t), context.Background()
	if err := s.InsertConversation(ctx, Conversation{ID: "g1", Kind: Group, Members: []string{"owner"}, CreatedBy: "owner"}); err != nil {
		t.Fatal(err)
	}
	add := func(user string) error {
		_, err := s.ChangeMembers(ctx, "g1", MemberChange{Op: "add", User: user, By: "owner", At: time.Now()},
			func(c Conversation) ([]string, bool, error) {
				if c.IsMember(user) {
					return c.Members, false, nil
				}
				return append(slices.Clone(c.Members), user), true, nil
			})
		return err
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	var want []string
	for i := range 8 {
		user := fmt.Sprintf("m%02d", i)
		want = append(want, user)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				err := add(user)
				if !errors.Is(err, ErrContention) {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// A read catches the document up with the change log.
	c, err := s.CurrentConversation(ctx, "g1")
	if err != nil {
		t.Fatal(err)
	}
	got := slices.Sorted(slices.Values(c.Members))
	want = append(want, "owner")
	if !slices.Equal(got, want) {
		t.Errorf("members = %v, want %v", got, want)
	}
	if c.Rev != 9 {
		t.Errorf("rev = %d, want 9", c.Rev)
	}
}

package directory_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/store"
	"github.com/agentchat/agentchat/store/directory"
	"github.com/agentchat/agentchat/store/storetest"
)

// openMongo returns a directory in a fresh database of the test MongoDB
// stand-in, dropped after the test.
func openMongo(t *testing.T) (*directory.Mongo, *store.Mongo) {
	t.Helper()
	uri := storetest.Need(t, storetest.EnvMongoURI)
	ctx := context.Background()
	m, err := store.OpenMongo(uri, fmt.Sprintf("directory_%d", time.Now().UnixNano()), "directory-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.DB.Drop(ctx); m.Close(ctx) })
	d := directory.NewMongo(m)
	if err := d.EnsureIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	return d, m
}

func TestMongo(t *testing.T) {
	runSuite(t, func(t *testing.T) directory.Directory { d, _ := openMongo(t); return d })
}

func TestMemory(t *testing.T) {
	runSuite(t, func(*testing.T) directory.Directory { return directory.NewMemory() })
}

// runSuite is the directory's contract, run against every implementation.
func runSuite(t *testing.T, open func(*testing.T) directory.Directory) {
	for _, tc := range []struct {
		name string
		run  func(*testing.T, directory.Directory)
	}{
		{"Users", testUsers},
		{"ListAndSuspend", testListAndSuspend},
		{"Devices", testDevices},
		{"Conversations", testConversations},
		{"ChangeMembers", testChangeMembers},
		{"ConcurrentChanges", testConcurrentChanges},
		{"LargeGroup", testLargeGroup},
		{"Visibility", testVisibility},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, open(t)) })
	}
}

var t0 = time.Date(2025, 1, 2, 3, 4, 5, 6_000_000, time.UTC)

func testUsers(t *testing.T, d directory.Directory) {
	ctx := context.Background()
	must(t, d.InsertUser(ctx, directory.User{ID: "u1", Kind: directory.KindUser, Username: "alice", Name: "Alice", CreatedAt: t0}))
	if err := d.InsertUser(ctx, directory.User{ID: "u2", Kind: directory.KindUser, Username: "alice", CreatedAt: t0}); !errors.Is(err, store.ErrDuplicate) {
		t.Errorf("second alice: err = %v, want ErrDuplicate", err)
	}
	if err := d.InsertUser(ctx, directory.User{ID: "u1", Kind: directory.KindUser, Username: "bob", CreatedAt: t0}); !errors.Is(err, store.ErrDuplicate) {
		t.Errorf("id u1 again: err = %v, want ErrDuplicate", err)
	}
	for i, id := range []string{"a2", "a1"} { // agents have no username
		must(t, d.InsertUser(ctx, directory.User{ID: id, Kind: directory.KindAgent, Name: id, AgentKind: "model",
			OwnerID: "u1", DeviceID: "dv-" + id, PublicKey: "k-" + id, CreatedAt: t0.Add(time.Duration(i) * time.Second)}))
	}
	u, err := d.UserByUsername(ctx, "alice")
	if err != nil || u.ID != "u1" || u.Name != "Alice" || !u.CreatedAt.Equal(t0) {
		t.Errorf("UserByUsername(alice) = %+v, %v", u, err)
	}
	if _, err := d.UserByUsername(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UserByUsername(nobody): err = %v, want ErrNotFound", err)
	}
	if u, err := d.UserByID(ctx, "a1"); err != nil || u.Kind != directory.KindAgent || u.PublicKey != "k-a1" {
		t.Errorf("UserByID(a1) = %+v, %v", u, err)
	}
	if _, err := d.UserByID(ctx, "zz"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UserByID(zz): err = %v, want ErrNotFound", err)
	}
	found, err := d.ExistingUsers(ctx, []string{"u1", "zz", "a1"})
	if err != nil || !found["u1"] || !found["a1"] || found["zz"] || len(found) != 2 {
		t.Errorf("ExistingUsers = %v, %v", found, err)
	}
	all, err := d.AllAgents(ctx, 10)
	if got := ids(all, func(u directory.User) string { return u.ID }); err != nil || !slices.Equal(got, []string{"a2", "a1"}) {
		t.Errorf("AllAgents = %v, %v; want oldest first [a2 a1]", got, err)
	}
	if one, _ := d.AllAgents(ctx, 1); len(one) != 1 {
		t.Errorf("AllAgents(limit 1) = %d agents", len(one))
	}
	agents, err := d.Agents(ctx, []string{"u1", "a1", "zz"})
	if err != nil || len(agents) != 1 || agents[0].ID != "a1" || agents[0].AgentKind != "model" {
		t.Errorf("Agents(u1 a1 zz) = %+v, %v; want a1 only", agents, err)
	}
}

func testListAndSuspend(t *testing.T, d directory.Directory) {
	ctx := context.Background()
	for _, id := range []string{"u3", "u1", "u2"} {
		must(t, d.InsertUser(ctx, directory.User{ID: id, Kind: directory.KindUser, Username: "n" + id, CreatedAt: t0}))
	}
	page1, err := d.Users(ctx, "", 2)
	must(t, err)
	page2, err := d.Users(ctx, page1[len(page1)-1].ID, 2)
	must(t, err)
	if got, want := append(ids(page1, userID2), ids(page2, userID2)...), []string{"u1", "u2", "u3"}; !slices.Equal(got, want) {
		t.Errorf("Users pages = %v, want %v", got, want)
	}
	at := t0.Add(time.Hour)
	u, err := d.SetSuspended(ctx, "u2", &at)
	if err != nil || !u.Suspended() || !u.SuspendedAt.Equal(at) {
		t.Fatalf("SetSuspended = %+v, %v", u, err)
	}
	later := at.Add(time.Hour)
	if u, err := d.SetSuspended(ctx, "u2", &later); err != nil || !u.SuspendedAt.Equal(at) {
		t.Errorf("suspending again = %+v, %v; want the first time kept", u, err)
	}
	if u, err := d.UserByUsername(ctx, "nu2"); err != nil || !u.Suspended() {
		t.Errorf("UserByUsername after suspend = %+v, %v", u, err)
	}
	if u, err := d.UserByID(ctx, "u1"); err != nil || u.Suspended() {
		t.Errorf("another user: %+v, %v; want not suspended", u, err)
	}
	if u, err := d.SetSuspended(ctx, "u2", nil); err != nil || u.Suspended() {
		t.Errorf("lifting = %+v, %v", u, err)
	}
	if u, err := d.UserByID(ctx, "u2"); err != nil || u.Suspended() {
		t.Errorf("after lifting: %+v, %v", u, err)
	}
	if _, err := d.SetSuspended(ctx, "nobody", &at); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetSuspended(absent) = %v, want ErrNotFound", err)
	}
}

func userID2(u directory.User) string { return u.ID }

func testDevices(t *testing.T, d directory.Directory) {
	ctx := context.Background()
	for i, dv := range []directory.Device{
		{ID: "d2", User: "u1", PublicKey: "k2", CreatedAt: t0.Add(time.Second)},
		{ID: "d1", User: "u1", PublicKey: "k1", Name: "phone", CreatedAt: t0},
		{ID: "d3", User: "u2", PublicKey: "k1", CreatedAt: t0}, // another user may hold the same key
	} {
		if err := d.InsertDevice(ctx, dv); err != nil {
			t.Fatalf("device %d: %v", i, err)
		}
	}
	if err := d.InsertDevice(ctx, directory.Device{ID: "d9", User: "u1", PublicKey: "k1", CreatedAt: t0}); !errors.Is(err, store.ErrDuplicate) {
		t.Errorf("same user, same key: err = %v, want ErrDuplicate", err)
	}
	if err := d.InsertDevice(ctx, directory.Device{ID: "d1", User: "u3", PublicKey: "k9", CreatedAt: t0}); !errors.Is(err, store.ErrDuplicate) {
		t.Errorf("same id: err = %v, want ErrDuplicate", err)
	}
	if dv, err := d.DeviceByKey(ctx, "u1", "k1"); err != nil || dv.ID != "d1" || dv.Name != "phone" {
		t.Errorf("DeviceByKey(u1, k1) = %+v, %v", dv, err)
	}
	if _, err := d.DeviceByKey(ctx, "u3", "k1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeviceByKey(u3, k1): err = %v, want ErrNotFound", err)
	}
	cur, err := d.CurrentDevices(ctx, []string{"u2", "u1", "nobody"})
	if got := ids(cur, func(d directory.Device) string { return d.ID }); err != nil || !slices.Equal(got, []string{"d1", "d2", "d3"}) {
		t.Errorf("CurrentDevices = %v, %v; want [d1 d2 d3] (by user, then age)", got, err)
	}
	if _, err := d.RevokeDevice(ctx, "u2", "d1", t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("revoke another user's device: err = %v, want ErrNotFound", err)
	}
	if _, err := d.RevokeDevice(ctx, "u1", "nope", t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("revoke a missing device: err = %v, want ErrNotFound", err)
	}
	first := t0.Add(time.Hour)
	dv, err := d.RevokeDevice(ctx, "u1", "d1", first)
	if err != nil || !dv.Revoked() || !dv.RevokedAt.Equal(first) {
		t.Fatalf("RevokeDevice = %+v, %v", dv, err)
	}
	dv, err = d.RevokeDevice(ctx, "u1", "d1", first.Add(time.Hour))
	if err != nil || !dv.RevokedAt.Equal(first) {
		t.Errorf("second RevokeDevice = %+v, %v; want the first revocation time kept", dv, err)
	}
	if dv, err := d.DeviceByID(ctx, "d1"); err != nil || !dv.Revoked() {
		t.Errorf("DeviceByID(d1) after revoke = %+v, %v", dv, err)
	}
	cur, err = d.CurrentDevices(ctx, []string{"u1"})
	if got := ids(cur, func(d directory.Device) string { return d.ID }); err != nil || !slices.Equal(got, []string{"d2"}) {
		t.Errorf("CurrentDevices(u1) after revoke = %v, %v; want [d2]", got, err)
	}
	if cur, err := d.CurrentDevices(ctx, nil); err != nil || len(cur) != 0 {
		t.Errorf("CurrentDevices(nobody) = %v, %v", cur, err)
	}
}

func testConversations(t *testing.T, d directory.Directory) {
	ctx := context.Background()
	must(t, d.InsertConversation(ctx, directory.Conversation{ID: "c1", Kind: directory.Direct, Members: []string{"u1", "u2"},
		CreatedBy: "u1", CreatedAt: t0, UpdatedAt: t0, Rev: 7}))
	must(t, d.InsertConversation(ctx, directory.Conversation{ID: "g1", Kind: directory.Group, Title: "G", Members: []string{"u1", "u3"},
		CreatedBy: "u1", CreatedAt: t0, UpdatedAt: t0.Add(time.Minute)}))
	if err := d.InsertConversation(ctx, directory.Conversation{ID: "c1", Kind: directory.Direct, Members: []string{"u1", "u9"}}); !errors.Is(err, store.ErrDuplicate) {
		t.Errorf("c1 again: err = %v, want ErrDuplicate", err)
	}
	c, err := d.Conversation(ctx, "g1")
	if err != nil || c.Rev != 1 || c.Title != "G" || c.Kind != directory.Group || !slices.Equal(c.Members, []string{"u1", "u3"}) || !c.UpdatedAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("Conversation(g1) = %+v, %v", c, err)
	}
	if _, err := d.Conversation(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Conversation(nope): err = %v, want ErrNotFound", err)
	}
	m, err := d.Members(ctx, "c1")
	if err != nil || m.Rev != 1 || m.Kind != directory.Direct || m.Conversation != "c1" || !slices.Equal(m.Members, []string{"u1", "u2"}) {
		t.Errorf("Members(c1) = %+v, %v; want rev 1 (an insert starts at 1)", m, err)
	}
	if _, err := d.Members(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Members(nope): err = %v, want ErrNotFound", err)
	}
	for user, want := range map[string][]string{"u1": {"g1", "c1"}, "u2": {"c1"}, "u3": {"g1"}, "u9": {}} {
		cs, err := d.ConversationsOf(ctx, user, 10)
		if got := ids(cs, func(c directory.Conversation) string { return c.ID }); err != nil || !slices.Equal(got, want) {
			t.Errorf("ConversationsOf(%s) = %v, %v; want %v (newest change first)", user, got, err, want)
		}
	}
	if cs, _ := d.ConversationsOf(ctx, "u1", 1); len(cs) != 1 || cs[0].ID != "g1" {
		t.Errorf("ConversationsOf(u1, limit 1) = %v", cs)
	}
	// in id order, paged
	must(t, d.InsertConversation(ctx, directory.Conversation{ID: "a0", Kind: directory.Group, Members: []string{"u1"}}))
	page := func(after string, limit int) []string {
		ms, err := d.MembershipsOf(ctx, "u1", after, limit)
		if err != nil {
			t.Fatal(err)
		}
		return ids(ms, func(m directory.Membership) string { return m.Conversation })
	}
	for _, tc := range []struct {
		after string
		limit int
		want  []string
	}{{"", 10, []string{"a0", "c1", "g1"}}, {"", 2, []string{"a0", "c1"}}, {"c1", 2, []string{"g1"}}, {"g1", 2, []string{}}} {
		if got := page(tc.after, tc.limit); !slices.Equal(got, tc.want) {
			t.Errorf("MembershipsOf(u1, after %q, limit %d) = %v, want %v", tc.after, tc.limit, got, tc.want)
		}
	}
	if ms, _ := d.MembershipsOf(ctx, "u3", "", 10); len(ms) != 1 || ms[0].Rev != 1 || ms[0].Kind != directory.Group || !slices.Equal(ms[0].Members, []string{"u1", "u3"}) || ms[0].Title != "G" {
		t.Errorf("MembershipsOf(u3) = %+v, want g1 at rev 1 with its kind, members and title", ms)
	}
}

// add and remove are the next functions accounts passes to ChangeMembers.
func add(user string) func(directory.Conversation) (directory.Roster, bool, error) {
	return func(c directory.Conversation) (directory.Roster, bool, error) {
		if c.IsMember(user) {
			return directory.Roster{}, false, nil
		}
		r := c.Roster()
		r.Members = append(r.Members, user)
		return r, true, nil
	}
}

func remove(user string) func(directory.Conversation) (directory.Roster, bool, error) {
	return func(c directory.Conversation) (directory.Roster, bool, error) {
		if !c.IsMember(user) {
			return directory.Roster{}, false, nil
		}
		r := c.Roster()
		r.Members = slices.DeleteFunc(r.Members, func(m string) bool { return m == user })
		return r, true, nil
	}
}

// promote makes user an admin.
func promote(user string) func(directory.Conversation) (directory.Roster, bool, error) {
	return func(c directory.Conversation) (directory.Roster, bool, error) {
		r := c.Roster()
		r.Admins = append(r.Admins, user)
		return r, true, nil
	}
}

func change(op, user string, at time.Time) directory.MemberChange {
	return directory.MemberChange{Op: op, User: user, By: "u1", At: at}
}

func testChangeMembers(t *testing.T, d directory.Directory) {
	ctx := context.Background()
	must(t, d.InsertConversation(ctx, directory.Conversation{ID: "g1", Kind: directory.Group, Members: []string{"u1", "u2"}, CreatedAt: t0, UpdatedAt: t0}))
	must(t, d.InsertConversation(ctx, directory.Conversation{ID: "g2", Kind: directory.Group, Members: []string{"u3"}, CreatedAt: t0, UpdatedAt: t0.Add(time.Hour)}))
	at := t0.Add(2 * time.Hour)
	c, changed, err := d.ChangeMembers(ctx, "g1", change(directory.OpAdd, "u3", at), add("u3"))
	if err != nil || !changed || c.Rev != 2 || !slices.Equal(c.Members, []string{"u1", "u2", "u3"}) || !c.UpdatedAt.Equal(at) {
		t.Fatalf("add u3 = %+v, %v, %v", c, changed, err)
	}
	if c, changed, err := d.ChangeMembers(ctx, "g1", change(directory.OpAdd, "u3", at), add("u3")); err != nil || changed || c.Rev != 2 {
		t.Errorf("add u3 again = rev %d, changed %v, %v; want no change at rev 2", c.Rev, changed, err)
	}
	if cs, _ := d.ConversationsOf(ctx, "u3", 10); !slices.Equal(ids(cs, convID), []string{"g1", "g2"}) {
		t.Errorf("ConversationsOf(u3) after add = %v, want [g1 g2] (g1 changed last)", ids(cs, convID))
	}
	if _, _, err := d.ChangeMembers(ctx, "g1", change(directory.OpRemove, "u2", at), remove("u2")); err != nil {
		t.Fatal(err)
	}
	m, err := d.Members(ctx, "g1")
	if err != nil || m.Rev != 3 || !slices.Equal(m.Members, []string{"u1", "u3"}) {
		t.Errorf("Members(g1) after remove = %+v, %v", m, err)
	}
	if cs, _ := d.ConversationsOf(ctx, "u2", 10); len(cs) != 0 {
		t.Errorf("ConversationsOf(u2) after removal = %v, want none", ids(cs, convID))
	}
	if ms, _ := d.MembershipsOf(ctx, "u2", "", 10); len(ms) != 0 {
		t.Errorf("MembershipsOf(u2) after removal = %v, want none", ms)
	}
	// removed, then added back: listed again
	if _, _, err := d.ChangeMembers(ctx, "g1", change(directory.OpAdd, "u2", at), add("u2")); err != nil {
		t.Fatal(err)
	}
	if cs, _ := d.ConversationsOf(ctx, "u2", 10); !slices.Equal(ids(cs, convID), []string{"g1"}) {
		t.Errorf("ConversationsOf(u2) after re-adding = %v, want [g1]", ids(cs, convID))
	}
	boom := errors.New("boom")
	if _, _, err := d.ChangeMembers(ctx, "g1", change(directory.OpAdd, "u9", at), func(directory.Conversation) (directory.Roster, bool, error) {
		return directory.Roster{}, false, boom
	}); !errors.Is(err, boom) {
		t.Errorf("next's error: got %v", err)
	}
	if _, _, err := d.ChangeMembers(ctx, "nope", change(directory.OpAdd, "u9", at), add("u9")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ChangeMembers(nope): err = %v, want ErrNotFound", err)
	}
	if c, _ := d.Conversation(ctx, "g1"); c.Rev != 4 {
		t.Errorf("rev after three changes = %d, want 4", c.Rev)
	}
	// admins: kept with the members, changed by a change of their own
	c, _, err = d.ChangeMembers(ctx, "g1", change(directory.OpAdmin, "u3", at), promote("u3"))
	if err != nil || c.Rev != 5 || !slices.Equal(c.Admins, []string{"u3"}) {
		t.Fatalf("promote u3 = %+v, %v", c, err)
	}
	if c, _ := d.Conversation(ctx, "g1"); !slices.Equal(c.Admins, []string{"u3"}) || !c.IsAdmin("u3") || c.IsAdmin("u1") {
		t.Errorf("read after promote: admins %v, want [u3]", c.Admins)
	}
	if c, _ := d.Conversation(ctx, "g2"); len(c.Admins) != 0 || !c.IsAdmin("u3") {
		t.Errorf("a group without admins: admins %v; every member may manage it", c.Admins)
	}
}

// testConcurrentChanges adds 8 members to one group at once: with
// non-atomic updates underneath, none may be lost.
func testConcurrentChanges(t *testing.T, d directory.Directory) {
	ctx := context.Background()
	must(t, d.InsertConversation(ctx, directory.Conversation{ID: "g1", Kind: directory.Group, Members: []string{"owner"}, CreatedBy: "owner"}))
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	want := []string{"owner"}
	for i := range 8 {
		user := fmt.Sprintf("m%02d", i)
		want = append(want, user)
		wg.Go(func() {
			for {
				_, _, err := d.ChangeMembers(ctx, "g1", change(directory.OpAdd, user, time.Now()), add(user))
				if !errors.Is(err, directory.ErrContention) {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	c, err := d.Conversation(ctx, "g1")
	if err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(slices.Values(c.Members)); !slices.Equal(got, slices.Sorted(slices.Values(want))) {
		t.Errorf("members = %v, want %v", got, want)
	}
	if c.Rev != 9 {
		t.Errorf("rev = %d, want 9", c.Rev)
	}
	for _, u := range want {
		if cs, err := d.ConversationsOf(ctx, u, 10); err != nil || len(cs) != 1 {
			t.Errorf("ConversationsOf(%s) = %v, %v; want [g1]", u, ids(cs, convID), err)
		}
	}
}

// testLargeGroup: a group of 1,024 members (the most e2ee can address) is
// created, changed and listed; no backend may index the member list as
// one key (FerretDB on PostgreSQL refused about 100 members that way).
func testLargeGroup(t *testing.T, d directory.Directory) {
	ctx := context.Background()
	members := make([]string, 1024)
	for i := range members {
		members[i] = userID(i)
	}
	must(t, d.InsertConversation(ctx, directory.Conversation{ID: "big", Kind: directory.Group, Members: members, CreatedAt: t0, UpdatedAt: t0}))
	if _, _, err := d.ChangeMembers(ctx, "big", change(directory.OpRemove, members[7], t0), remove(members[7])); err != nil {
		t.Fatal(err)
	}
	extra := userID(5000)
	if _, _, err := d.ChangeMembers(ctx, "big", change(directory.OpAdd, extra, t0), add(extra)); err != nil {
		t.Fatal(err)
	}
	m, err := d.Members(ctx, "big")
	if err != nil || m.Rev != 3 || len(m.Members) != 1024 || m.IsMember(members[7]) || !m.IsMember(extra) {
		t.Fatalf("Members(big) = rev %d, %d members, %v", m.Rev, len(m.Members), err)
	}
	for _, u := range []string{members[0], members[1023], extra} {
		if cs, err := d.ConversationsOf(ctx, u, 10); err != nil || !slices.Equal(ids(cs, convID), []string{"big"}) {
			t.Errorf("ConversationsOf(%s) = %v, %v", u, ids(cs, convID), err)
		}
	}
	if cs, _ := d.ConversationsOf(ctx, members[7], 10); len(cs) != 0 {
		t.Errorf("ConversationsOf(removed) = %v, want none", ids(cs, convID))
	}
}

func convID(c directory.Conversation) string { return c.ID }

// userID is like accounts' ids (u- and 24 hex digits): incompressible, so
// that an index over the member list would exceed PostgreSQL's btree key
// limit (2,704 bytes) at about 100 members.
func userID(i int) string {
	return fmt.Sprintf("u-%x", sha256.Sum256([]byte(strconv.Itoa(i))))[:26]
}

func ids[T any](xs []T, id func(T) string) []string {
	out := []string{}
	for _, x := range xs {
		out = append(out, id(x))
	}
	return out
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func testVisibility(t *testing.T, d directory.Directory) {
	ctx := context.Background()
	for _, id := range []string{"u1", "u2"} {
		must(t, d.InsertUser(ctx, directory.User{ID: id, Kind: directory.KindUser, Username: "name-" + id, CreatedAt: t0}))
	}
	got, err := d.Visibilities(ctx, []string{"u1", "u2", "zz"})
	want := map[string]string{"u1": events.DefaultVisibility, "u2": events.DefaultVisibility}
	if err != nil || !maps.Equal(got, want) {
		t.Errorf("Visibilities before any setting = %v, %v; want %v (defaults, nothing for zz)", got, err, want)
	}
	u, err := d.SetVisibility(ctx, "u2", events.VisibleNobody)
	if err != nil || u.Visibility != events.VisibleNobody {
		t.Errorf("SetVisibility(u2, nobody) = %+v, %v", u, err)
	}
	must(t, func() error { _, err := d.SetVisibility(ctx, "u1", events.VisibleEveryone); return err }())
	got, err = d.Visibilities(ctx, []string{"u1", "u2"})
	want = map[string]string{"u1": events.VisibleEveryone, "u2": events.VisibleNobody}
	if err != nil || !maps.Equal(got, want) {
		t.Errorf("Visibilities = %v, %v; want %v", got, err, want)
	}
	many := []string{"u2"} // more users than Mongo reads one by one
	for i := range 20 {
		many = append(many, fmt.Sprintf("zz%d", i))
	}
	got, err = d.Visibilities(ctx, append(many, "u1"))
	if err != nil || !maps.Equal(got, want) {
		t.Errorf("Visibilities of %d users = %v, %v; want %v", len(many)+1, got, err, want)
	}
	if u, err := d.UserByID(ctx, "u2"); err != nil || u.Visibility != events.VisibleNobody || u.Username != "name-u2" {
		t.Errorf("UserByID(u2) after the setting = %+v, %v", u, err)
	}
	if _, err := d.SetVisibility(ctx, "zz", events.VisibleNobody); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetVisibility(absent) = %v, want ErrNotFound", err)
	}
}

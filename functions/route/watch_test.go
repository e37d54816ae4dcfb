package function

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/store/deliveries"
	storedir "github.com/agentchat/agentchat/store/directory"
	"github.com/agentchat/agentchat/store/seen"
)

// allOnOne is a Locator that puts every device on connector "c".
type allOnOne struct{}

func (allOnOne) Locate(_ context.Context, devs []events.DeviceRef) (map[string][]events.DeviceRef, error) {
	return map[string][]events.DeviceRef{"c": slices.Clone(devs)}, nil
}

// recorder is a Publisher that keeps what it was given.
type recorder struct{ got []deliveries.Delivery }

func (r *recorder) Publish(_ context.Context, by map[string]deliveries.Delivery) error {
	for _, d := range by {
		r.got = append(r.got, d)
	}
	return nil
}

// frames renders what was published since the last call as
// "target: user online|last seen|hidden" lines (a snapshot: "target:
// snapshot user=...,user=..."), sorted.
func (r *recorder) frames(t *testing.T) string {
	t.Helper()
	var lines []string
	for _, d := range r.got {
		if d.Type != events.TypePresenceState {
			t.Fatalf("delivery of %s", d.Type)
		}
		var ps events.PresenceState
		if err := json.Unmarshal(d.Data, &ps); err != nil {
			t.Fatal(err)
		}
		var parts []string
		for _, u := range ps.Users {
			switch {
			case u.Online:
				parts = append(parts, u.User+"=online")
			case u.LastSeen != nil:
				parts = append(parts, u.User+"=seen")
			default:
				parts = append(parts, u.User+"=hidden")
			}
		}
		what := strings.Join(parts, ",")
		if ps.Snapshot {
			what = "snapshot " + what
		}
		for _, tg := range d.Targets {
			lines = append(lines, tg.User+"/"+tg.Device+": "+what)
		}
	}
	r.got = nil
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// TestPresenceFollowsTheSetting: who is told what, by the rule — contacts
// by default, everyone who shares a conversation, nobody (and a frame
// that takes it away at once), nobody reciprocally; never a stranger, and
// never an offline watcher.
func TestPresenceFollowsTheSetting(t *testing.T) {
	ctx := context.Background()
	dir := storedir.NewMemory()
	st := seen.NewMemory()
	pub := &recorder{}
	f := New()
	f.deps.Store(&deps{presence: allOnOne{}, publisher: pub, watch: dir, seen: st})
	for _, u := range []string{"alice", "bob", "carol", "dan", "eve"} {
		if err := dir.InsertUser(ctx, storedir.User{ID: u, Kind: storedir.KindUser, Username: u}); err != nil {
			t.Fatal(err)
		}
	}
	conv := func(id, kind string, members ...string) {
		if err := dir.InsertConversation(ctx, storedir.Conversation{ID: id, Kind: kind, Members: members}); err != nil {
			t.Fatal(err)
		}
	}
	conv("d-ab", storedir.Direct, "alice", "bob")
	conv("g-1", storedir.Group, "alice", "carol", "dan") // carol and dan: not alice's contacts
	stamp := uint64(0)
	connect := func(user string) seen.Socket {
		stamp++
		s := seen.Socket{Dev: events.DeviceRef{User: user, Device: user + "-d"}, Stamp: stamp}
		if _, err := st.Connected(ctx, s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	for _, u := range []string{"bob", "carol", "eve"} { // dan is offline
		connect(u)
	}
	changed := func(user, cause string) {
		t.Helper()
		e, err := events.NewPresenceChanged(events.SourceConnectorPrefix+"c", user, user+"-d", cause, stamp)
		if err != nil {
			t.Fatal(err)
		}
		handle(t, f, e)
	}
	set := func(user, vis string) {
		t.Helper()
		if _, err := dir.SetVisibility(ctx, user, vis); err != nil {
			t.Fatal(err)
		}
		changed(user, events.PresenceVisibility)
	}
	check := func(step, want string) {
		t.Helper()
		if got := pub.frames(t); got != want {
			t.Errorf("%s:\n%s\nwant:\n%s", step, got, want)
		}
	}

	a := connect("alice")
	changed("alice", events.PresenceOnline)
	check("alice online, setting contacts (the default)", "bob/bob-d: alice=online")

	set("alice", events.VisibleEveryone)
	check("alice shows everyone", "alice/alice-d: snapshot bob=online\nbob/bob-d: alice=online\ncarol/carol-d: alice=online")

	set("alice", events.VisibleNobody)
	check("alice shows nobody (and so sees nobody)", "alice/alice-d: snapshot \nbob/bob-d: alice=hidden\ncarol/carol-d: alice=hidden")

	set("alice", events.VisibleContacts)
	check("alice back to contacts", "alice/alice-d: snapshot bob=online\nbob/bob-d: alice=online\ncarol/carol-d: alice=hidden")

	// bob hides his own: he sees nobody's, and his snapshot says so.
	set("bob", events.VisibleNobody)
	check("bob shows nobody", "alice/alice-d: bob=hidden\nbob/bob-d: snapshot ")
	changed("alice", events.PresenceOnline)
	check("alice online again, bob hides his own", "")
	set("bob", events.VisibleContacts)
	check("bob shows contacts", "alice/alice-d: bob=online\nbob/bob-d: snapshot alice=online")

	if _, err := st.Disconnected(ctx, a, time.Now()); err != nil {
		t.Fatal(err)
	}
	changed("alice", events.PresenceOffline)
	check("alice offline", "bob/bob-d: alice=seen")

	// A snapshot on request: carol may not see alice (contacts only), eve
	// shares nothing with anyone.
	for _, u := range []string{"carol", "eve", "bob"} {
		e, err := events.NewPresenceRequested(events.SourceConnectorPrefix+"c", u, u+"-d", "p-"+u)
		if err != nil {
			t.Fatal(err)
		}
		handle(t, f, e)
	}
	check("snapshots", "bob/bob-d: snapshot alice=seen\ncarol/carol-d: snapshot \neve/eve-d: snapshot ")
}

// TestWatchersLeaveOutLargeGroups: members of a group over maxWatchGroup
// are not watchers; a direct conversation makes a contact whatever else.
func TestWatchersLeaveOutLargeGroups(t *testing.T) {
	ctx := context.Background()
	dir := storedir.NewMemory()
	big := []string{"alice", "bob"}
	for i := range maxWatchGroup {
		big = append(big, fmt.Sprintf("m%03d", i))
	}
	for _, c := range []storedir.Conversation{
		{ID: "g-big", Kind: storedir.Group, Members: big},
		{ID: "g-small", Kind: storedir.Group, Members: []string{"alice", "carol"}},
		{ID: "d-ab", Kind: storedir.Direct, Members: []string{"alice", "bob"}},
	} {
		if err := dir.InsertConversation(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	got, err := watchersOf(ctx, dir, "alice")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"bob": true, "carol": false}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("watchersOf(alice) = %v, want %v", got, want)
	}
}

// countingDirectory records whose settings Visibilities was asked for.
type countingDirectory struct {
	watchDirectory
	asked []string
}

func (c *countingDirectory) Visibilities(ctx context.Context, users []string) (map[string]string, error) {
	c.asked = append(c.asked, users...)
	return c.watchDirectory.Visibilities(ctx, users)
}

// TestPresenceReadsTheSettingsOfOnlineWatchers: a user coming online with
// many contacts, one of them online, reads two users' settings, not every
// contact's (a read of the users collection per connect and leave).
func TestPresenceReadsTheSettingsOfOnlineWatchers(t *testing.T) {
	ctx := context.Background()
	mem := storedir.NewMemory()
	dir := &countingDirectory{watchDirectory: mem}
	st := seen.NewMemory()
	pub := &recorder{}
	f := New()
	f.deps.Store(&deps{presence: allOnOne{}, publisher: pub, watch: dir, seen: st})
	users := []string{"alice", "bob"}
	for i := range 50 {
		users = append(users, fmt.Sprintf("c%02d", i))
	}
	for i, u := range users {
		if err := mem.InsertUser(ctx, storedir.User{ID: u, Kind: storedir.KindUser, Username: u}); err != nil {
			t.Fatal(err)
		}
		if u != "alice" {
			if err := mem.InsertConversation(ctx, storedir.Conversation{ID: fmt.Sprintf("d-%d", i), Kind: storedir.Direct, Members: []string{"alice", u}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i, u := range []string{"alice", "bob"} {
		if _, err := st.Connected(ctx, seen.Socket{Dev: events.DeviceRef{User: u, Device: u + "-d"}, Stamp: uint64(i + 1)}); err != nil {
			t.Fatal(err)
		}
	}
	e, err := events.NewPresenceChanged(events.SourceConnectorPrefix+"c", "alice", "alice-d", events.PresenceOnline, 1)
	if err != nil {
		t.Fatal(err)
	}
	handle(t, f, e)
	if got := pub.frames(t); got != "bob/bob-d: alice=online" {
		t.Errorf("frames: %q", got)
	}
	slices.Sort(dir.asked)
	if want := []string{"alice", "bob"}; !slices.Equal(dir.asked, want) {
		t.Errorf("settings read for %d users %v, want %v", len(dir.asked), dir.asked, want)
	}
}

package events

import (
	"fmt"
	"strconv"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
)

// Presence: who is online and when they were last seen (docs/protocol.md,
// "Presence"). A user's state lives in Redis (store/seen), written by the
// connectors; these events only say that it changed, or ask for it, or
// carry it to the devices allowed to see it.
const (
	// A user came online (their first device connected), went offline
	// (their last device left, after the connector's grace period), or
	// changed who may see it (accounts). About the user: no conversation;
	// route (Trigger route-presence) tells the user's online watchers.
	TypePresenceChanged = "io.agentchat.presence.changed"
	// A device asks for the presence of everyone it may watch (the
	// client's presence frame, once per connect); route answers with one
	// presence.state for that device.
	TypePresenceRequested = "io.agentchat.presence.requested"
	// route → devices (in a delivery only, never on the broker): the
	// presence of users as the receiving device may see it.
	TypePresenceState = "io.agentchat.presence.state"
)

// Causes of a presence change.
const (
	PresenceOnline     = "online"
	PresenceOffline    = "offline"
	PresenceVisibility = "visibility"
)

// Visibility settings: who may see a user's online state and last seen.
const (
	VisibleEveryone = "everyone" // everyone who shares a conversation with them
	VisibleContacts = "contacts" // those who share a direct conversation with them (the default)
	VisibleNobody   = "nobody"
)

// DefaultVisibility is a user's setting until they choose one.
const DefaultVisibility = VisibleContacts

// ValidVisibility reports whether v is a visibility setting.
func ValidVisibility(v string) bool {
	return v == VisibleEveryone || v == VisibleContacts || v == VisibleNobody
}

// PresenceChanged is the data of TypePresenceChanged. It says what
// happened, not what the state is: route reads the user's state and
// setting afresh when it handles it, so events that arrive late, twice or
// out of order still end with every watcher holding the current state.
type PresenceChanged struct {
	Cause string `json:"cause"` // PresenceOnline, PresenceOffline or PresenceVisibility
}

// PresenceRequested is the data of TypePresenceRequested.
type PresenceRequested struct {
	RequestID string `json:"requestId,omitempty"` // the presence frame's id, echoed in the answer
}

// MaxPresenceUsers caps the users of one presence.state (a snapshot): the
// watched users beyond it are left out.
const MaxPresenceUsers = 2000

// UserPresence is one user's presence as one watcher may see it. Online
// false with no LastSeen means "nothing to show": the user hides it, or
// the watcher hides their own.
type UserPresence struct {
	User     string     `json:"user"`
	Online   bool       `json:"online,omitempty"`
	LastSeen *time.Time `json:"lastSeen,omitempty"`
}

// PresenceState is the data of TypePresenceState: a change (one user), or
// the answer to a request (every watched user, RequestID set, Snapshot
// true: users not listed have nothing to show).
type PresenceState struct {
	RequestID string         `json:"requestId,omitempty"`
	Snapshot  bool           `json:"snapshot,omitempty"`
	Users     []UserPresence `json:"users"`
}

func (d *PresenceChanged) check() error {
	switch d.Cause {
	case PresenceOnline, PresenceOffline, PresenceVisibility:
		return nil
	}
	return fmt.Errorf("cause %q, want %s, %s or %s", d.Cause, PresenceOnline, PresenceOffline, PresenceVisibility)
}

func (d *PresenceRequested) check() error {
	if d.RequestID != "" && !ValidID(d.RequestID) {
		return fmt.Errorf("bad request id %q", d.RequestID)
	}
	return nil
}

func (d *PresenceState) check() error {
	if len(d.Users) > MaxPresenceUsers {
		return fmt.Errorf("at most %d users", MaxPresenceUsers)
	}
	if d.RequestID != "" && !ValidID(d.RequestID) {
		return fmt.Errorf("bad request id %q", d.RequestID)
	}
	for _, u := range d.Users {
		if !ValidID(u.User) {
			return fmt.Errorf("bad user %q", u.User)
		}
	}
	return nil
}

// NewPresenceChanged announces a change of user's presence caused by
// device (the socket that connected or left; the device that changed the
// setting). stamp tells one change from another (the socket's stamp; the
// setting's time): the same change announced again is the same event.
func NewPresenceChanged(source, user, device, cause string, stamp uint64) (event.Event, error) {
	return New(TypePresenceChanged, DeriveID("presence.changed", user, device, cause, strconv.FormatUint(stamp, 10)),
		Meta{Source: source, Sender: user, Device: device}, PresenceChanged{Cause: cause})
}

// NewPresenceRequested is a device asking for its watched users' presence.
func NewPresenceRequested(source, user, device, requestID string) (event.Event, error) {
	return New(TypePresenceRequested, RandomID(), Meta{Source: source, Sender: user, Device: device},
		PresenceRequested{RequestID: requestID})
}

// NewPresenceState is route's delivery of d; user and device are who
// caused it (the user whose presence changed, or the requesting device).
func NewPresenceState(user, device string, d PresenceState) (event.Event, error) {
	return New(TypePresenceState, RandomID(), Meta{Source: SourceRoute, Sender: user, Device: device}, d)
}

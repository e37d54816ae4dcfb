package directory

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/agentchat/agentchat/store"
)

// Memory is the directory's in-memory twin, for unit tests. It keeps the
// same contract as Mongo (the shared suite checks both), including the
// storage's millisecond UTC times. Everything it returns is a copy.
type Memory struct {
	mu      sync.Mutex
	users   map[string]User
	devices map[string]Device
	convs   map[string]Conversation
}

var (
	_ Reader    = (*Memory)(nil)
	_ Directory = (*Memory)(nil)
)

// NewMemory returns an empty directory.
func NewMemory() *Memory {
	return &Memory{users: map[string]User{}, devices: map[string]Device{}, convs: map[string]Conversation{}}
}

func (m *Memory) Members(_ context.Context, conversation string) (Membership, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.convs[conversation]
	if !ok {
		return Membership{}, store.ErrNotFound
	}
	return Membership{Conversation: c.ID, Kind: c.Kind, Members: slices.Clone(c.Members), Rev: c.Rev}, nil
}

func (m *Memory) CurrentDevices(_ context.Context, users []string) ([]Device, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []Device{}
	for _, d := range m.devices {
		if !d.Revoked() && slices.Contains(users, d.User) {
			out = append(out, d)
		}
	}
	sortDevices(out)
	return out, nil
}

// sortDevices orders by user, then creation, then id.
func sortDevices(ds []Device) {
	slices.SortFunc(ds, func(a, b Device) int {
		return cmp.Or(cmp.Compare(a.User, b.User), a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
}

func (m *Memory) MembershipsOf(_ context.Context, user, after string, limit int) ([]Membership, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []Membership{}
	for _, c := range m.convs {
		if c.ID > after && c.IsMember(user) {
			out = append(out, Membership{Conversation: c.ID, Kind: c.Kind, Members: slices.Clone(c.Members), Rev: c.Rev, Title: c.Title})
		}
	}
	slices.SortFunc(out, func(a, b Membership) int { return cmp.Compare(a.Conversation, b.Conversation) })
	return out[:min(len(out), limit)], nil
}

func (m *Memory) Agents(_ context.Context, users []string) ([]User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []User{}
	for _, id := range users {
		if u, ok := m.users[id]; ok && u.Kind == KindAgent && !slices.ContainsFunc(out, func(o User) bool { return o.ID == id }) {
			out = append(out, u)
		}
	}
	return out, nil
}

func (m *Memory) InsertUser(_ context.Context, u User) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.users[u.ID]; ok {
		return store.ErrDuplicate
	}
	if u.Username != "" {
		for _, o := range m.users {
			if o.Username == u.Username {
				return store.ErrDuplicate
			}
		}
	}
	u.CreatedAt = storedTime(u.CreatedAt)
	m.users[u.ID] = u
	return nil
}

func (m *Memory) UserByID(_ context.Context, id string) (User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.users[id]
	if !ok {
		return User{}, store.ErrNotFound
	}
	return u, nil
}

func (m *Memory) UserByUsername(_ context.Context, username string) (User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, u := range m.users {
		if u.Username == username && username != "" {
			return u, nil
		}
	}
	return User{}, store.ErrNotFound
}

func (m *Memory) ExistingUsers(_ context.Context, ids []string) (map[string]bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]bool{}
	for _, id := range ids {
		if _, ok := m.users[id]; ok {
			out[id] = true
		}
	}
	return out, nil
}

func (m *Memory) Users(_ context.Context, after string, limit int) ([]User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []User{}
	for _, u := range m.users {
		if u.ID > after {
			out = append(out, u)
		}
	}
	slices.SortFunc(out, func(a, b User) int { return cmp.Compare(a.ID, b.ID) })
	return out[:min(len(out), max(1, limit))], nil
}

func (m *Memory) SetSuspended(_ context.Context, id string, at *time.Time) (User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.users[id]
	if !ok {
		return User{}, store.ErrNotFound
	}
	switch {
	case at == nil:
		u.SuspendedAt = nil
	case u.SuspendedAt == nil:
		t := storedTime(*at)
		u.SuspendedAt = &t
	}
	m.users[id] = u
	return u, nil
}

func (m *Memory) MarkDeleted(_ context.Context, id string, at time.Time) (User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.users[id]
	if !ok {
		return User{}, store.ErrNotFound
	}
	t := storedTime(at)
	if u.DeletedAt == nil {
		u.DeletedAt = &t
	}
	if u.SuspendedAt == nil {
		u.SuspendedAt = &t
	}
	u.PasswordHash = ""
	m.users[id] = u
	return u, nil
}

func (m *Memory) AllAgents(_ context.Context, limit int) ([]User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []User{}
	for _, u := range m.users {
		if u.Kind == KindAgent {
			out = append(out, u)
		}
	}
	slices.SortFunc(out, func(a, b User) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return out[:min(len(out), limit)], nil
}

func (m *Memory) InsertDevice(_ context.Context, d Device) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.devices[d.ID]; ok {
		return store.ErrDuplicate
	}
	for _, o := range m.devices {
		if o.User == d.User && o.PublicKey == d.PublicKey {
			return store.ErrDuplicate
		}
	}
	d.CreatedAt = storedTime(d.CreatedAt)
	if d.RevokedAt != nil {
		at := storedTime(*d.RevokedAt)
		d.RevokedAt = &at
	}
	m.devices[d.ID] = d
	return nil
}

func (m *Memory) DeviceByID(_ context.Context, id string) (Device, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.devices[id]
	if !ok {
		return Device{}, store.ErrNotFound
	}
	return d, nil
}

func (m *Memory) DeviceByKey(_ context.Context, user, publicKey string) (Device, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, d := range m.devices {
		if d.User == user && d.PublicKey == publicKey {
			return d, nil
		}
	}
	return Device{}, store.ErrNotFound
}

func (m *Memory) RevokeDevice(_ context.Context, user, id string, at time.Time) (Device, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.devices[id]
	if !ok || d.User != user {
		return Device{}, store.ErrNotFound
	}
	if !d.Revoked() {
		at = storedTime(at)
		d.RevokedAt = &at
		m.devices[id] = d
	}
	return d, nil
}

func (m *Memory) SetSigningKey(_ context.Context, user, id, signingKey, binding string) (Device, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.devices[id]
	switch {
	case !ok || d.User != user || d.Revoked():
		return Device{}, store.ErrNotFound
	case d.SigningKey == signingKey:
		return d, nil
	case d.SigningKey != "":
		return Device{}, store.ErrDuplicate
	}
	d.SigningKey, d.Binding = signingKey, binding
	m.devices[id] = d
	return d, nil
}

func (m *Memory) RotateKey(_ context.Context, user, id, publicKey string) (Device, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.devices[id]
	if !ok || d.User != user || d.Revoked() {
		return Device{}, store.ErrNotFound
	}
	d.PublicKey, d.SigningKey, d.Binding = publicKey, "", ""
	m.devices[id] = d
	if u, ok := m.users[user]; ok && u.DeviceID == id {
		u.PublicKey = publicKey
		m.users[user] = u
	}
	return d, nil
}

func (m *Memory) InsertConversation(_ context.Context, c Conversation) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.convs[c.ID]; ok {
		return store.ErrDuplicate
	}
	c.Rev, c.Members = 1, slices.Clone(c.Members)
	c.CreatedAt, c.UpdatedAt = storedTime(c.CreatedAt), storedTime(c.UpdatedAt)
	m.convs[c.ID] = c
	return nil
}

func (m *Memory) Conversation(_ context.Context, id string) (Conversation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.convs[id]
	if !ok {
		return Conversation{}, store.ErrNotFound
	}
	c.Members = slices.Clone(c.Members)
	return c, nil
}

func (m *Memory) ConversationsOf(_ context.Context, user string, limit int) ([]Conversation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []Conversation{}
	for _, c := range m.convs {
		if c.IsMember(user) {
			c.Members = slices.Clone(c.Members)
			out = append(out, c)
		}
	}
	sortConversations(out)
	return out[:min(len(out), limit)], nil
}

// ChangeMembers calls next outside the lock and applies its result only if
// no other change came in between, like Mongo's optimistic loop.
func (m *Memory) ChangeMembers(ctx context.Context, id string, mc MemberChange, next func(Conversation) (Roster, bool, error)) (Conversation, bool, error) {
	for range maxChangeAttempts {
		c, err := m.Conversation(ctx, id)
		if err != nil {
			return c, false, err
		}
		r, changed, err := next(c)
		if err != nil || !changed {
			return c, false, err
		}
		m.mu.Lock()
		if cur := m.convs[id]; cur.Rev == c.Rev {
			c.Members, c.Admins, c.Rev, c.UpdatedAt = slices.Clone(r.Members), slices.Clone(r.Admins), c.Rev+1, storedTime(mc.At)
			m.convs[id] = c
			m.mu.Unlock()
			c.Members, c.Admins = slices.Clone(c.Members), slices.Clone(c.Admins)
			return c, true, nil
		}
		m.mu.Unlock()
	}
	return Conversation{}, false, ErrContention
}

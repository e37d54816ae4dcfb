package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/protocol"
)

// Sender keys in the client (docs/e2ee.md, "Sender keys"). A group — a
// conversation whose devices belong to more than two users — gets one
// ciphertext per message: this device keeps a sender key per group (its
// own chain), sends it to every member device once as a distribution (a
// v1 message whose content is the key, client message id
// e2ee.DistributionID), and seals each message with the chain's next key
// (e2ee.SealGroup). A new sender key (a new epoch) is made whenever the
// devices it was given to are not exactly the conversation's devices any
// more — a member or device added or removed, seen in a conversation
// frame or in the key directory — so that a removed member's devices hold
// nothing that opens what is sent after the removal. A direct
// conversation (two users) stays pairwise (v1): a distribution would
// cost what a v1 message costs, and state on top.
//
// The distribution is sequenced before the messages of its epoch: they
// are not sent until it is stored (entry.after), so every member device
// reads it first, live or by sync, in seq order.

// SenderKeyStore keeps a device's sender-key state across restarts, as the
// application keeps the device's private key: without it, a restarted
// client reads its groups only by syncing from before the distributions
// (they are in the history, sealed for the device's long-term key).
// Save gets the whole state after every change; it is secret (chain
// keys): keep it where the device key is kept.
type SenderKeyStore interface {
	Load() ([]byte, error) // nil, nil: nothing saved yet
	Save(state []byte) error
}

// FileSenderKeys is a SenderKeyStore in one file (written whole, owner
// only, through a temporary file and a rename).
type FileSenderKeys string

// Load reads the file; a missing file is an empty state.
func (f FileSenderKeys) Load() ([]byte, error) {
	b, err := os.ReadFile(string(f))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

// Save replaces the file.
func (f FileSenderKeys) Save(state []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(string(f)), ".senderkeys-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(state); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), string(f))
}

// groupKeys is the device's sender-key state. Send seals off the loop and
// the loop opens, so it has a lock of its own; nothing else is called
// while it is held.
type groupKeys struct {
	store SenderKeyStore
	mu    sync.Mutex
	st    groupState
}

// groupState is what is saved.
type groupState struct {
	Own   map[string]*ownKey  `json:"own"`   // by conversation
	Peers map[string]*peerKey `json:"peers"` // by peerID
	Revs  map[string]int64    `json:"revs"`  // newest membership revision seen, by conversation
	Added uint64              `json:"added"` // peer keys received so far: their age order
}

// ownKey is this device's sender key for one conversation.
type ownKey struct {
	Key *e2ee.SenderKey `json:"key"`
	// Devices are whom the distribution was sealed for (sorted).
	Devices []string `json:"devices"`
	// Distributed: the distribution is stored, so members can read the
	// epoch. A key loaded without it is dropped (the outbox that held its
	// distribution did not survive the restart).
	Distributed bool `json:"distributed"`
	dist        *entry
}

// peerKey is a sender key received from another device (or this one's
// own, read back from the history).
type peerKey struct {
	Conversation string            `json:"conversation"`
	Device       string            `json:"device"`
	Key          *e2ee.ReceiverKey `json:"key"`
	Added        uint64            `json:"added"` // groupState.Added when received
}

// maxPeerEpochs bounds the sender keys kept per sender device and
// conversation: a message of an epoch older than the last few is
// unreadable, as a skipped key too old is.
const maxPeerEpochs = 4

func peerID(conversation, device string, epoch uint32) string {
	return fmt.Sprintf("%s\x00%s\x00%08x", conversation, device, epoch)
}

func newGroupKeys(store SenderKeyStore) (*groupKeys, error) {
	g := &groupKeys{store: store, st: groupState{Own: map[string]*ownKey{}, Peers: map[string]*peerKey{}, Revs: map[string]int64{}}}
	if store == nil {
		return g, nil
	}
	b, err := store.Load()
	if err != nil {
		return nil, fmt.Errorf("client: sender keys: load: %w", err)
	}
	if len(b) == 0 {
		return g, nil
	}
	var st groupState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("client: sender keys: load: %w", err)
	}
	for conv, k := range st.Own {
		if k == nil || k.Key == nil || !k.Distributed {
			continue
		}
		g.st.Own[conv] = k
	}
	for id, p := range st.Peers {
		if p != nil && p.Key != nil {
			g.st.Peers[id] = p
		}
	}
	for conv, r := range st.Revs {
		g.st.Revs[conv] = r
	}
	return g, nil
}

// save writes the state; the caller holds mu. An error is returned for
// logging: the state in memory stays right.
func (g *groupKeys) save() error {
	if g.store == nil {
		return nil
	}
	b, err := json.Marshal(g.st)
	if err != nil {
		return err
	}
	return g.store.Save(b)
}

// isGroup says whether a conversation with these devices uses sender
// keys: devices of more than two users.
func isGroup(rs []e2ee.Recipient) bool {
	var users []string
	for _, r := range rs {
		if r.User != "" && !slices.Contains(users, r.User) {
			if users = append(users, r.User); len(users) > 2 {
				return true
			}
		}
	}
	return false
}

func deviceIDs(rs []e2ee.Recipient) []string {
	ids := make([]string, len(rs))
	for i, r := range rs {
		ids[i] = r.Device
	}
	slices.Sort(ids)
	return ids
}

// current returns the sender key to seal the next message of conversation
// with, made afresh (fresh true) when there is none or its devices are
// not rs's. The caller seals with it under mu (sealGroup).
func (g *groupKeys) current(conversation string, rs []e2ee.Recipient) (k *ownKey, fresh bool, err error) {
	ids := deviceIDs(rs)
	if k := g.st.Own[conversation]; k != nil && slices.Equal(k.Devices, ids) {
		return k, false, nil
	}
	sk, err := e2ee.NewSenderKey()
	if err != nil {
		return nil, false, err
	}
	k = &ownKey{Key: sk, Devices: ids}
	g.st.Own[conversation] = k
	return k, true, nil
}

// rotate drops the own sender key of conversation, so that the next
// message starts a new epoch; rev is the membership revision that asks
// for it (0: any). It reports whether anything changed.
func (g *groupKeys) rotate(conversation string, rev int64) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if rev > 0 {
		if rev <= g.st.Revs[conversation] {
			return false
		}
		g.st.Revs[conversation] = rev
	}
	delete(g.st.Own, conversation)
	_ = g.save()
	return true
}

// distributed marks the distribution of k as stored.
func (g *groupKeys) distributed(conversation string, dist *entry) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if k := g.st.Own[conversation]; k != nil && k.dist == dist {
		k.Distributed = true
		_ = g.save()
	}
}

// forgetDist drops the own key whose distribution failed: the next
// message starts another epoch.
func (g *groupKeys) forgetDist(conversation string, dist *entry) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if k := g.st.Own[conversation]; k != nil && k.dist == dist {
		delete(g.st.Own, conversation)
		_ = g.save()
	}
}

// resealed records that a distribution was sealed again for rs (persist
// named a device it missed).
func (g *groupKeys) resealed(conversation string, dist *entry, rs []e2ee.Recipient) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if k := g.st.Own[conversation]; k != nil && k.dist == dist {
		k.Devices = deviceIDs(rs)
		_ = g.save()
	}
}

// receive takes a sender key from a distribution of device's.
func (g *groupKeys) receive(conversation, device string, d e2ee.SenderKeyDistribution) error {
	rk, err := e2ee.NewReceiverKey(d)
	if err != nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	id := peerID(conversation, device, d.Epoch)
	if _, ok := g.st.Peers[id]; ok {
		return nil // the same distribution again (a resync): keep how far the chain is
	}
	g.st.Added++
	g.st.Peers[id] = &peerKey{Conversation: conversation, Device: device, Key: rk, Added: g.st.Added}
	// Keep the newest few epochs of this sender: distributions arrive in
	// seq order, so the order they were received in is their age.
	for {
		oldest, n := "", 0
		for pid, p := range g.st.Peers {
			if p.Conversation == conversation && p.Device == device {
				n++
				if oldest == "" || p.Added < g.st.Peers[oldest].Added {
					oldest = pid
				}
			}
		}
		if n <= maxPeerEpochs {
			break
		}
		delete(g.st.Peers, oldest)
	}
	return g.save()
}

// errNoSenderKey: a v2 message of an epoch this device never got.
var errNoSenderKey = errors.New("client: no sender key for this message's epoch")

// open decrypts a v2 envelope with the sender key it names.
func (g *groupKeys) open(env *e2ee.Envelope, ad e2ee.AssociatedData) ([]byte, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	p := g.st.Peers[peerID(ad.Conversation, ad.SenderDevice, env.Epoch)]
	if p == nil {
		return nil, errNoSenderKey
	}
	plain, err := p.Key.Open(env, ad)
	if err == nil {
		_ = g.save()
	}
	return plain, err
}

// sealed is a message sealed for sending: its envelope, the distribution
// it waits for (after), and that distribution's new entry (dist) when the
// seal started a new epoch — to be put in the outbox first.
type sealed struct {
	env         *e2ee.Envelope
	dist, after *entry
}

// waiting reports whether e waits for its distribution to be stored.
func (e *entry) waiting() bool { return e.after != nil && !e.after.done }

// seal encrypts plain as message id of conversation: pairwise (v1) in a
// direct conversation, with this device's sender key (v2) in a group,
// making and distributing a new one when the conversation's devices are
// not those of the current one. refresh asks the key directory afresh.
func (c *Client) seal(ctx context.Context, conversation, id string, plain []byte, refresh bool) (sealed, error) {
	rs, err := c.recipients(ctx, conversation, refresh)
	if err != nil {
		return sealed{}, err
	}
	if c.cfg.PairwiseGroups || !isGroup(rs) {
		env, err := c.sealPairwise(conversation, id, plain, rs)
		return sealed{env: env}, err
	}
	g := c.gk
	g.mu.Lock()
	defer g.mu.Unlock()
	k, fresh, err := g.current(conversation, rs)
	if err != nil {
		return sealed{}, fmt.Errorf("client: send: %w", err)
	}
	var sl sealed
	if fresh {
		d := k.Key.Distribution()
		content := e2ee.Content{SenderKey: &d}
		dplain, err := content.Marshal()
		if err != nil {
			delete(g.st.Own, conversation)
			return sealed{}, fmt.Errorf("client: send: %w", err)
		}
		did := e2ee.DistributionID(d.Epoch)
		denv, err := c.sealPairwise(conversation, did, dplain, rs)
		if err != nil {
			delete(g.st.Own, conversation)
			return sealed{}, err
		}
		k.dist = &entry{id: did, conv: conversation, content: content, plain: dplain, env: denv, internal: true}
		sl.dist = k.dist
		c.log.Info("client: new sender key", "conversation", conversation, "epoch", d.Epoch, "devices", len(rs))
	}
	var agents []e2ee.Recipient
	for _, r := range rs {
		if r.Agent {
			agents = append(agents, r)
		}
	}
	sl.env, err = e2ee.SealGroup(k.Key, plain, e2ee.AssociatedData{
		Conversation: conversation, SenderDevice: c.cfg.Device, ClientMessageID: id}, agents)
	if err != nil {
		return sealed{}, fmt.Errorf("client: send: %w", err)
	}
	if c.cfg.SigningKey != nil {
		e2ee.SignEnvelope(sl.env, conversation, c.cfg.Device, c.cfg.SigningKey)
	}
	if !k.Distributed {
		sl.after = k.dist
	}
	if err := g.save(); err != nil {
		c.log.Warn("client: sender keys: save", "err", err)
	}
	return sl, nil
}

// resealDistribution seals a distribution again for a fresh key directory
// (persist named a device it missed): the same key, for whoever is a
// device of the conversation now.
func (c *Client) resealDistribution(ctx context.Context, e *entry) (*e2ee.Envelope, error) {
	rs, err := c.recipients(ctx, e.conv, true)
	if err != nil {
		return nil, err
	}
	env, err := c.sealPairwise(e.conv, e.id, e.plain, rs)
	if err == nil {
		c.gk.resealed(e.conv, e, rs)
	}
	return env, err
}

// distributionStored: the members can read the epoch now; the messages
// that waited for it go out, and its seq takes its place in the order.
func (c *Client) distributionStored(cv *conv, e *entry, seq int64, storedAt, now time.Time) {
	e.done = true
	c.gk.distributed(e.conv, e)
	for _, w := range slices.Clone(c.s.outbox) {
		if w.after == e {
			c.sendEntry(w, now)
		}
	}
	content := e.content
	c.offer(cv, pendingMsg{f: protocol.Frame{
		Type: protocol.TypeMessage, ID: e.id, Conversation: cv.id, Seq: seq,
		Sender: c.s.user, SenderDevice: c.cfg.Device, StoredAt: storedAt,
	}, content: &content}, now)
}

// distributionFailed: nobody can read the messages that waited for it;
// they fail too, and the next message starts another epoch.
func (c *Client) distributionFailed(e *entry, err error) {
	c.log.Warn("client: sender key distribution refused", "conversation", e.conv, "id", e.id, "err", err)
	c.gk.forgetDist(e.conv, e)
	for _, w := range slices.Clone(c.s.outbox) {
		if w.after == e {
			c.fail(w, fmt.Errorf("client: the sender key distribution failed: %w", err))
		}
	}
}

// takeDistribution reads another device's (or, from the history, this
// device's own) sender key distribution. It shows nothing: the
// application gets a KeyDistribution event.
func (c *Client) takeDistribution(cv *conv, p pendingMsg) {
	f := p.f
	ev := &KeyDistribution{Conversation: cv.id, Seq: f.Seq, SenderDevice: f.SenderDevice}
	defer c.emit(ev)
	if p.content != nil || f.Envelope == nil {
		return // this device's own, from its outbox: it holds the key
	}
	plain, err := e2ee.Open(f.Envelope, e2ee.AssociatedData{Conversation: cv.id, SenderDevice: f.SenderDevice, ClientMessageID: f.ID}, c.cfg.Device, c.cfg.Key)
	if err != nil {
		c.log.Warn("client: sender key distribution not readable", "conversation", cv.id, "seq", f.Seq, "err", err)
		return
	}
	content, err := e2ee.UnmarshalContent(plain)
	if err != nil || content.SenderKey == nil {
		c.log.Warn("client: a distribution without a sender key", "conversation", cv.id, "seq", f.Seq, "err", err)
		return
	}
	if !c.verified(cv.id, f) {
		// Its messages are checked one by one (each is signed); a key
		// that did not come signed only ever opens messages that show as
		// unverified unless the sender device signed them.
		c.log.Info("client: sender key distribution not verified", "conversation", cv.id, "seq", f.Seq, "senderDevice", f.SenderDevice)
	}
	if err := c.gk.receive(cv.id, f.SenderDevice, *content.SenderKey); err != nil {
		c.log.Warn("client: sender key", "conversation", cv.id, "seq", f.Seq, "err", err)
		return
	}
	ev.Taken = true
}

// membershipChanged starts a new epoch at the next message of a group
// whose membership revision moved, with a fresh key directory, so that a
// removed member's devices get nothing sent from now on.
func (c *Client) membershipChanged(conversation string, rev int64) {
	if c.gk.rotate(conversation, rev) && c.keys != nil {
		c.keys.forget(conversation)
	}
}

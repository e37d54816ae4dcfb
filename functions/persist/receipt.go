package function

import (
	"context"
	"slices"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/agentchat/agentchat/sdk/events"
)

// moveCursor is the rule for a receipt: a member's delivered (or read)
// cursor moves forward to the acked seq, never back. A receipt from a
// non-member is ignored with a log line (nobody waits for an answer); a
// malformed one is refused with 400. Membership may come from a read at
// most MEMBERSHIP_CACHE_TTL (≤ 1 s) old. Round trips: members (2, none when
// cached) + 1–3 (see mongoStore.AdvanceCursor).
func (f *Function) moveCursor(ctx context.Context, s store, e event.Event) error {
	r, err := events.Decode[events.Receipt](e)
	if err != nil {
		return f.refuse(e, err)
	}
	a, _ := actorOf(e) // valid: Decode checked the extensions
	mb, err := f.members.get(ctx, a.conversation, func(ctx context.Context) (membership, error) {
		members, found, err := s.Members(ctx, a.conversation)
		return membership{found: found, members: members}, err
	})
	if err != nil {
		return err
	}
	if !mb.found || !slices.Contains(mb.members, a.user) {
		f.log.Info("persist: ignoring receipt from a non-member", "conversation", a.conversation, "user", a.user)
		return nil
	}
	return s.AdvanceCursor(ctx, a.conversation, a.user, r.Seq, e.Type() == events.TypeReceiptRead)
}

package function

import (
	"testing"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/protocol"
)

// TestPagesBackward: a sync with before answers the newest limit messages
// below it, in seq order, with more while older ones remain — with both
// message read strategies.
func TestPagesBackward(t *testing.T) {
	for _, ferret := range []bool{true, false} {
		name := map[bool]string{true: "ferretdb", false: "mongodb"}[ferret]
		t.Run(name, func(t *testing.T) {
			fx := newFixture(t)
			seedGroup(fx)
			fx.messages("c1", 120, 32)
			w := fx.watch()
			f := fx.start(nil)
			f.deps.Load().dir.(*mongoDirectory).ferret = ferret

			// Scrolling back from the newest message, 50 at a time.
			before := int64(121)
			var sizes []int
			var mores []bool
			for before > 1 {
				b := syncReq(t, f, w, "c1", events.SyncRequested{Before: before, Limit: 50, RequestID: "page:1"})
				if len(b.Messages) == 0 {
					t.Fatalf("before %d: empty page", before)
				}
				for i, m := range b.Messages {
					if want := before - int64(len(b.Messages)) + int64(i); m.Seq != want {
						t.Fatalf("before %d: messages[%d].seq = %d, want %d", before, i, m.Seq, want)
					}
				}
				if b.RequestID != "page:1" || !b.End || len(b.Cursors) != 0 {
					t.Errorf("before %d: id %q end %v cursors %d", before, b.RequestID, b.End, len(b.Cursors))
				}
				sizes, mores = append(sizes, len(b.Messages)), append(mores, b.More)
				before = b.Messages[0].Seq
			}
			if got, want := sizes, []int{50, 50, 20}; !equal(got, want) {
				t.Errorf("page sizes %v, want %v", got, want)
			}
			if got, want := mores, []bool{true, true, false}; !equal(got, want) {
				t.Errorf("more %v, want %v", got, want)
			}

			tests := []struct {
				after, before int64
				limit         int
				wantFirst     int64
				wantN         int
				wantMore      bool
			}{
				{0, 1, 50, 0, 0, false},        // nothing before the first
				{0, 500, 10, 111, 10, true},    // past the end: the newest 10
				{0, 11, 0, 1, 10, false},       // the default limit, more than there is
				{100, 111, 50, 101, 10, false}, // after bounds the page from below
				{0, 61, 500, 1, 60, false},     // the maximum limit
			}
			for _, tt := range tests {
				b := syncReq(t, f, w, "c1", events.SyncRequested{After: tt.after, Before: tt.before, Limit: tt.limit})
				if len(b.Messages) != tt.wantN || b.More != tt.wantMore {
					t.Errorf("after %d before %d limit %d: %d messages, more %v; want %d, %v",
						tt.after, tt.before, tt.limit, len(b.Messages), b.More, tt.wantN, tt.wantMore)
				}
				if tt.wantN > 0 && b.Messages[0].Seq != tt.wantFirst {
					t.Errorf("after %d before %d: first seq %d, want %d", tt.after, tt.before, b.Messages[0].Seq, tt.wantFirst)
				}
			}
		})
	}
}

// A page of large messages is cut from its oldest end: it still ends right
// below before, and the client pages on from its first seq.
func TestPagesStayUnderTheEventSizeLimit(t *testing.T) {
	fx := newFixture(t)
	seedGroup(fx)
	fx.messages("c1", 10, 60<<10)
	w := fx.watch()
	f := fx.start(nil)
	before, pages := int64(11), 0
	for before > 1 {
		b := syncReq(t, f, w, "c1", events.SyncRequested{Before: before})
		if len(b.Messages) == 0 || b.Messages[len(b.Messages)-1].Seq != before-1 {
			t.Fatalf("before %d: %d messages, not ending at %d", before, len(b.Messages), before-1)
		}
		before, pages = b.Messages[0].Seq, pages+1
		if b.More != (before > 1) {
			t.Errorf("page from %d: more %v", before, b.More)
		}
	}
	if pages < 3 {
		t.Errorf("%d pages: want the 800 KiB split in 3 or more", pages)
	}
}

// A page is authorized as a sync is: a non-member gets not_member with the
// request's id.
func TestPagesByANonMemberAreRefused(t *testing.T) {
	fx := newFixture(t)
	seedGroup(fx)
	fx.messages("c1", 3, 16)
	w := fx.watch()
	f := fx.start(nil)
	handle(t, f, must(events.NewSyncRequested(events.SourceConnectorPrefix+"A", "c1", "eve", "e1",
		events.SyncRequested{Before: 3, RequestID: "page:2"})))
	got := w.drain()
	if summary(got) != "A: eve/e1" {
		t.Fatalf("deliveries %q, want one for eve/e1", summary(got))
	}
	rej, err := events.Decode[events.MessageRejected](got[0].inner)
	if err != nil || rej.Code != protocol.CodeNotMember || rej.ClientMessageID != "page:2" {
		t.Errorf("got %+v (%v), want not_member for page:2", rej, err)
	}
}

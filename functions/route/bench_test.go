package function

import (
	"fmt"
	"testing"

	"github.com/agentchat/agentchat/sdk/events"
)

// BenchmarkSync compares the two message read strategies (FerretDB's and
// MongoDB's) on the test MongoDB, with 250 messages in the synced conversation among 5,000 in
// the collection: an up-to-date device (idle) and one a page behind.
func BenchmarkSync(b *testing.B) {
	fx := newFixture(b)
	seedGroup(fx)
	fx.messages("c1", 250, 64)
	for i := range 10 {
		fx.messages(fmt.Sprintf("other%d", i), 475, 64)
	}
	f := fx.start(nil)
	dir := f.deps.Load().dir.(*mongoDirectory)
	for _, ferret := range []bool{true, false} {
		for _, after := range []int64{250, 100} {
			name := fmt.Sprintf("%s/after=%d", map[bool]string{true: "ferretdb", false: "mongodb"}[ferret], after)
			b.Run(name, func(b *testing.B) {
				dir.ferret = ferret
				e := must(events.NewSyncRequested(events.SourceConnectorPrefix+"A", "c1", "alice", "a1", events.SyncRequested{After: after}))
				for b.Loop() {
					handle(b, f, e)
				}
			})
		}
	}
}

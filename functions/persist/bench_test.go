package function

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/agentchat/agentchat/sdk/events"
)

// BenchmarkStore measures stored messages per second on the test MongoDB:
// one writer; 8 writers on one conversation (a hot group chat: what
// queues while an insert is under way is stored by the next one, see
// batches); 8 writers on 8 conversations.
func BenchmarkStore(b *testing.B) {
	for _, bc := range []struct{ writers, conversations int }{{1, 1}, {8, 1}, {8, 8}} {
		b.Run(fmt.Sprintf("writers=%d/conversations=%d", bc.writers, bc.conversations), func(b *testing.B) {
			fx := newFixture(b)
			all := seedTrio(fx)
			for c := 1; c < bc.conversations; c++ {
				fx.conversation(fmt.Sprintf("c%d", c+1), "alice", "bob", "carol")
			}
			f := fx.start()
			var n atomic.Int64
			store := func() {
				i := n.Add(1)
				conv := fmt.Sprintf("c%d", i%int64(bc.conversations)+1)
				handleOK(b, f, sent(b, conv, "alice", "a1", fmt.Sprintf("m%d", i), envelope(all...)))
			}
			start := time.Now()
			if bc.writers == 1 {
				for b.Loop() {
					store()
				}
			} else {
				b.SetParallelism(bc.writers / 2) // GOMAXPROCS is 2 here
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						store()
					}
				})
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "stores/s")
			b.ReportMetric(float64(f.stats.conflicts.Load())/float64(b.N), "conflicts/op")
			b.ReportMetric(float64(f.stats.probes.Load())/float64(b.N), "probes/op")
			b.ReportMetric(float64(f.stats.stored.Load())/float64(max(1, f.stats.batches.Load())), "msgs/insert")
		})
	}
}

func handleOK(b *testing.B, f *Function, e event.Event) {
	reply, err := tryHandle(f, e)
	if err != nil || reply == nil || reply.Type() != events.TypeMessageStored {
		b.Errorf("reply %v, err %v", reply, err)
	}
}

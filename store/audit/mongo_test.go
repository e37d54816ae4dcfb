package audit

import (
	"context"
	"testing"
	"time"

	"github.com/agentchat/agentchat/store/storetest"
)

// TestMongo runs the suite on the test MongoDB (FerretDB in the test
// command), a database of its own per subtest.
func TestMongo(t *testing.T) {
	storetest.Need(t, storetest.EnvMongoURI)
	runSuite(t, func(t *testing.T) Log {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		l := NewMongo(storetest.Mongo(t, "audit"))
		if err := l.EnsureIndexes(ctx); err != nil {
			t.Fatal(err)
		}
		return l
	})
}

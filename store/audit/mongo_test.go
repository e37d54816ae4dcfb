package audit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/agentchat/agentchat/store"
	"github.com/agentchat/agentchat/store/storetest"
)

// TestMongo runs the suite on the test MongoDB (FerretDB in the test
// command), a database of its own per subtest.
func TestMongo(t *testing.T) {
	uri := storetest.Need(t, storetest.EnvMongoURI)
	runSuite(t, func(t *testing.T) Log {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		db, err := store.OpenMongo(uri, "audit_"+hex.EncodeToString(b), "audit-test")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			db.DB.Drop(ctx)
			db.Close(ctx)
		})
		l := NewMongo(db)
		if err := l.EnsureIndexes(ctx); err != nil {
			t.Fatal(err)
		}
		return l
	})
}

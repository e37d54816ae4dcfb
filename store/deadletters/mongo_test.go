package deadletters

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
	runSuite(t, func(t *testing.T) Store {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		db, err := store.OpenMongo(uri, "deadletters_"+hex.EncodeToString(b), "deadletters-test")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			db.DB.Drop(ctx)
			db.Close(ctx)
		})
		s := NewMongo(db)
		if err := s.EnsureIndexes(ctx); err != nil {
			t.Fatal(err)
		}
		return s
	})
}

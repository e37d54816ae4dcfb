package messages

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/agentchat/agentchat/store"
	"github.com/agentchat/agentchat/store/storetest"
)

// TestMongo runs the suite on the test MongoDB (FerretDB on PostgreSQL in
// the test command) in both read modes: by _id (what FerretDB gets) and
// with queries on the (conversation, seq) index (what MongoDB gets).
func TestMongo(t *testing.T) {
	uri := storetest.Need(t, storetest.EnvMongoURI)
	for _, byID := range []bool{true, false} {
		t.Run(map[bool]string{true: "by id", false: "by query"}[byID], func(t *testing.T) {
			runSuite(t, func(t *testing.T) backend {
				s := openMongo(t, uri)
				s.byID = byID
				return s
			})
		})
	}
}

// openMongo gives the test its own database, with the indexes, dropped at
// the end.
func openMongo(t testing.TB, uri string) *Mongo {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	db, err := store.OpenMongo(uri, "messages_"+hex.EncodeToString(b), "messages-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = db.DB.Drop(ctx)
		_ = db.Close(ctx)
	})
	s, err := NewMongo(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.EnsureIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

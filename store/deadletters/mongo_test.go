package deadletters

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
	runSuite(t, func(t *testing.T) Store {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		s := NewMongo(storetest.Mongo(t, "deadletters"))
		if err := s.EnsureIndexes(ctx); err != nil {
			t.Fatal(err)
		}
		return s
	})
}

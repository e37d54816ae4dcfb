package store

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// EnsureIndexes creates those of want that coll lacks, by name (every
// model must set one). It lists first and creates only what is absent
// because FerretDB 1.24 (SQLite) drops the connection when asked to create
// an index that exists; processes starting together may still race, so a
// failed create is retried after listing again.
func EnsureIndexes(ctx context.Context, coll *mongo.Collection, want []mongo.IndexModel) error {
	var err error
	for attempt := range 5 {
		if err = createMissing(ctx, coll, want); err == nil {
			return nil
		}
		t := time.NewTimer(time.Duration(attempt+1) * 50 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("store: create indexes on %s: %w", coll.Name(), err)
		case <-t.C:
		}
	}
	return fmt.Errorf("store: create indexes on %s: %w", coll.Name(), err)
}

func createMissing(ctx context.Context, coll *mongo.Collection, want []mongo.IndexModel) error {
	specs, err := coll.Indexes().ListSpecifications(ctx)
	if err != nil {
		return err
	}
	have := make(map[string]bool, len(specs))
	for _, sp := range specs {
		have[sp.Name] = true
	}
	for _, m := range want {
		var o options.IndexOptions
		if m.Options != nil {
			for _, set := range m.Options.List() {
				_ = set(&o)
			}
		}
		if o.Name != nil && have[*o.Name] {
			continue
		}
		if _, err := coll.Indexes().CreateOne(ctx, m); err != nil {
			if o.ExpireAfterSeconds != nil && notImplemented(err) {
				continue // FerretDB: no TTL indexes; Expiry sweeps instead
			}
			return err
		}
	}
	return nil
}

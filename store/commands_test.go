package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/agentchat/agentchat/store"
	"github.com/agentchat/agentchat/store/storetest"
)

// TestCommandReports: with STORE_COMMAND_COUNTS_DIR set, a client opened
// with OpenMongo and one opened with CountCommands each report their own
// counts into the directory; OpenMongo's Close writes the last report
// before it returns.
func TestCommandReports(t *testing.T) {
	uri := storetest.Need(t, storetest.EnvMongoURI)
	dir := t.TempDir()
	t.Setenv(store.CommandCountsDirEnv, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db := fmt.Sprintf("store_reports_%d", time.Now().UnixNano())

	m, err := store.OpenMongo(uri, db, "report-test/a")
	if err != nil {
		t.Fatal(err)
	}
	defer m.DB.Drop(context.WithoutCancel(ctx))
	raw, err := mongo.Connect(options.Client().ApplyURI(uri), store.CountCommands("report-test-b"))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Disconnect(context.WithoutCancel(ctx))

	for i := range 2 {
		if _, err := m.DB.Collection("things").InsertOne(ctx, bson.D{{Key: "_id", Value: i}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := raw.Database(db).Collection("things").FindOne(ctx, bson.D{{Key: "_id", Value: 1}}).Err(); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(ctx); err != nil {
		t.Fatal(err)
	}
	reports, err := store.ReadCommandReports(dir)
	if err != nil {
		t.Fatal(err)
	}
	a := byApp(t, reports, "report-test/a")
	if a.Commands["insert"] != 2 || a.Commands["find"] != 0 {
		t.Fatalf("OpenMongo's report after Close = %v, want insert 2, no find", a.Commands)
	}
	// The other client reports on its period: wait for a report that has
	// its find (a liveness bound, not a speed requirement).
	deadline := time.Now().Add(20 * time.Second)
	for {
		reports, err := store.ReadCommandReports(dir)
		if err != nil {
			t.Fatal(err)
		}
		b := byApp(t, reports, "report-test-b")
		if b.Commands["find"] == 1 {
			if b.Commands["insert"] != 0 {
				t.Fatalf("CountCommands' report = %v, want only its own find", b.Commands)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("CountCommands' report never showed its find: %v", b.Commands)
		}
		time.Sleep(store.CommandReportPeriod / 2)
	}
}

func byApp(t *testing.T, reports map[string]store.CommandReport, app string) store.CommandReport {
	t.Helper()
	var found []store.CommandReport
	for _, r := range reports {
		if r.App == app {
			found = append(found, r)
		}
	}
	if len(found) != 1 {
		t.Fatalf("reports of %s: %d, want 1 (all: %v)", app, len(found), reports)
	}
	return found[0]
}

// TestNoCommandReportsWhenUnset: without the variable nothing is written
// (and the client still counts).
func TestNoCommandReportsWhenUnset(t *testing.T) {
	uri := storetest.Need(t, storetest.EnvMongoURI)
	dir := t.TempDir()
	t.Setenv(store.CommandCountsDirEnv, "")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, err := store.OpenMongo(uri, fmt.Sprintf("store_noreports_%d", time.Now().UnixNano()), "report-test")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.DB.Collection("things").FindOne(ctx, bson.D{}).Err(); err != nil && err != mongo.ErrNoDocuments {
		t.Fatal(err)
	}
	if err := m.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got := m.Commands()["find"]; got != 1 {
		t.Fatalf("find counted %d times, want 1", got)
	}
	reports, err := store.ReadCommandReports(dir)
	if err != nil || len(reports) != 0 {
		t.Fatalf("reports = %v, %v; want none", reports, err)
	}
}

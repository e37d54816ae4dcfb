package backing

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// startMongo runs FerretDB in this process on SQLite files in dir, on a
// free loopback port. Only its errors are logged: it logs every connection
// at Info, and at Warn every driver's endSessions, which it does not know.
func startMongo(dir string, log *slog.Logger) (uri string, stop func() error, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, fmt.Errorf("backing: ferretdb dir: %w", err)
	}
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: "127.0.0.1:0"},
		Handler:   "sqlite",
		SQLiteURL: "file:" + dir + "/",
		Logger:    slog.New(minLevel{log.Handler(), slog.LevelError}).With("component", "ferretdb"),
	})
	if err != nil {
		return "", nil, fmt.Errorf("backing: start ferretdb: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.Run(ctx)
	}()
	stop = func() error {
		cancel()
		select {
		case <-done:
			return nil
		case <-time.After(10 * time.Second):
			return fmt.Errorf("backing: ferretdb did not stop within 10s")
		}
	}
	// The listener is bound by New, so this does not wait.
	return f.MongoDBURI(), stop, nil
}

// minLevel drops records below min: a quiet view of another handler.
type minLevel struct {
	slog.Handler
	min slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(as), h.min}
}

func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{h.Handler.WithGroup(name), h.min}
}

// Command ferretdb runs the MongoDB wire-protocol stand-in (FerretDB, on
// SQLite files or PostgreSQL) as its own process, for tests and for the dev
// runner when no MONGODB_URI is given. It wraps FerretDB's embeddable
// package because its own binary panics without build metadata.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:27017", "TCP address to listen on")
	dir := flag.String("sqlite-dir", "", "directory for SQLite files (the default handler)")
	pg := flag.String("postgresql-url", "", "use PostgreSQL at this URL instead of SQLite")
	noGIN := flag.Bool("no-gin-indexes", false, "on PostgreSQL, do not add the GIN indexes that let queries use an index (see ginindex.go)")
	flag.Parse()

	cfg := &ferretdb.Config{Listener: ferretdb.ListenerConfig{TCP: *listen}, Handler: "sqlite", SQLiteURL: "file:" + *dir + "/"}
	if *pg != "" {
		cfg.Handler, cfg.PostgreSQLURL, cfg.SQLiteURL = "postgresql", *pg, ""
	} else if *dir == "" {
		fmt.Fprintln(os.Stderr, "ferretdb: -sqlite-dir or -postgresql-url is required")
		os.Exit(2)
	}
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *pg != "" && !*noGIN {
		if err := installGINTwins(ctx, *pg); err != nil {
			// Correct without it, only slow: say so and go on.
			cfg.Logger.Warn("ferretdb: queries will scan whole tables", "err", err)
		}
	}
	f, err := ferretdb.New(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ferretdb:", err)
		os.Exit(1)
	}
	fmt.Println(f.MongoDBURI())
	f.Run(ctx)
}

package main

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// FerretDB 1.x on PostgreSQL creates each MongoDB index as a btree on
// expressions like (_jsonb -> 'field'), but filters with
// `_jsonb -> 'field' @> value`, an operator btree cannot serve: every
// query, even a lookup by _id, scans the whole table and decodes each row's
// JSONB (FerretDB issue 4646; measured here: an _id lookup in a 3,000
// message collection took seconds under load). A GIN index on the same
// expression serves @>. ginTwinsSQL installs an event trigger that gives
// every btree index FerretDB creates a GIN twin per indexed field, gives
// the indexes that exist already theirs, and makes the planner plan each
// query for its own parameters (a generic plan of `_jsonb -> $1` matches no
// index). It needs a superuser, which owns a private test or dev database;
// a production deployment runs MongoDB, which needs none of this.
const ginTwinsSQL = `
CREATE OR REPLACE FUNCTION agentchat_gin_twin(idx oid) RETURNS void LANGUAGE plpgsql AS $f$
DECLARE
	def text;
	tbl regclass;
	field text;
BEGIN
	SELECT pg_get_indexdef(i.indexrelid), i.indrelid INTO def, tbl FROM pg_index i WHERE i.indexrelid = idx;
	IF def IS NULL OR def NOT LIKE '% USING btree %' THEN
		RETURN;
	END IF;
	FOR field IN SELECT (regexp_matches(def, '_jsonb -> ''([^'']+)''::text', 'g'))[1] LOOP
		EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %s USING gin ((_jsonb -> %L))',
			'gin_' || left(md5(tbl::text || '/' || field), 24), tbl, field);
	END LOOP;
END
$f$;

CREATE OR REPLACE FUNCTION agentchat_gin_twins() RETURNS event_trigger LANGUAGE plpgsql AS $f$
DECLARE
	cmd record;
BEGIN
	FOR cmd IN SELECT objid FROM pg_event_trigger_ddl_commands() WHERE object_type = 'index' LOOP
		PERFORM agentchat_gin_twin(cmd.objid);
	END LOOP;
END
$f$;

DROP EVENT TRIGGER IF EXISTS agentchat_gin_twins;
CREATE EVENT TRIGGER agentchat_gin_twins ON ddl_command_end WHEN TAG IN ('CREATE INDEX')
	EXECUTE FUNCTION agentchat_gin_twins();

DO $d$
DECLARE
	i oid;
BEGIN
	FOR i IN SELECT indexrelid FROM pg_index JOIN pg_class c ON c.oid = indexrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') LOOP
		PERFORM agentchat_gin_twin(i);
	END LOOP;
END
$d$;
`

// installGINTwins runs ginTwinsSQL in the database at url.
func installGINTwins(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, ginTwinsSQL); err != nil {
		return fmt.Errorf("install the GIN index trigger: %w", err)
	}
	// Takes effect for sessions that start after it: FerretDB's pool
	// connects after this returns.
	if _, err := conn.Exec(ctx, "ALTER DATABASE "+pgx.Identifier{conn.Config().Database}.Sanitize()+
		" SET plan_cache_mode = force_custom_plan"); err != nil {
		return fmt.Errorf("set plan_cache_mode: %w", err)
	}
	return nil
}

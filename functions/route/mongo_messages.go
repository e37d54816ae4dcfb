package function

import (
	"context"

	"github.com/agentchat/agentchat/sdk/events"
)

// Messages and cursors are store/messages' (persist writes them): route
// reads pages and the last seq for sync and resume, and cursors for ticks.
// On FerretDB, where only a lookup by _id uses an index, pages and the
// last seq are read by _id (messages.Mongo).

func (d *mongoDirectory) MessagesAfter(ctx context.Context, conversation string, after int64, limit int, device string) ([]events.Message, error) {
	return d.msgs.After(ctx, conversation, after, limit, device)
}

func (d *mongoDirectory) LastSeq(ctx context.Context, conversation string, guess, missing int64) (int64, error) {
	return d.msgs.LastSeq(ctx, conversation, guess, missing)
}

func (d *mongoDirectory) Cursors(ctx context.Context, conversation string, members []string) ([]events.Cursor, error) {
	return d.msgs.Get(ctx, conversation, members)
}

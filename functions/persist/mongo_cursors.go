package function

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// cursorDoc is one document of the cursors collection: how far one member
// of one conversation has received (delivered) and shown (read) messages.
type cursorDoc struct {
	ID           string `bson:"_id"` // conversation + "/" + user
	Conversation string `bson:"conversation"`
	User         string `bson:"user"`
	Delivered    int64  `bson:"delivered"`
	Read         int64  `bson:"read"`
}

// AdvanceCursor raises the cursor with $max, filtered by _id alone, and
// inserts it when it does not exist yet.
//
// Why this shape: $max never lowers a value and is atomic per document on
// MongoDB. A filter on _id alone is the one FerretDB answers without
// scanning the collection (a conditional filter such as {delivered: {$lt:
// seq}} would scan every cursor). An upsert is avoided because FerretDB
// does not report a duplicate key raised by an update as E11000, while a
// plain insert guarded by _id does. On FerretDB, $max is read-modify-write:
// two concurrent acks may both read the old value and the lower one may be
// written last. That is harmless: a cursor is a hint for unread counts and
// resume points, never the source of a message, and the member's next ack
// raises it again. Round trips: 1, or 2–3 for a member's first ack.
func (s *mongoStore) AdvanceCursor(ctx context.Context, conversation, user string, seq int64, read bool) error {
	id := conversation + "/" + user
	raise := bson.D{{Key: "delivered", Value: seq}}
	if read { // what was shown was received
		raise = append(raise, bson.E{Key: "read", Value: seq})
	}
	for range 2 {
		res, err := s.cursors.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{{Key: "$max", Value: raise}})
		if err != nil {
			return fmt.Errorf("persist: update cursor: %w", err)
		}
		if res.MatchedCount > 0 {
			return nil
		}
		doc := cursorDoc{ID: id, Conversation: conversation, User: user, Delivered: seq}
		if read {
			doc.Read = seq
		}
		_, err = s.cursors.InsertOne(ctx, doc)
		switch {
		case err == nil:
			return nil
		case !mongo.IsDuplicateKeyError(err):
			return fmt.Errorf("persist: insert cursor: %w", err)
		}
		// Another ack created it meanwhile, maybe with a lower seq: raise it.
	}
	return nil
}

// Package client is agentchat's Go client: one device's connection to the
// platform, with everything a messaging client must get right — end-to-end
// encryption, an outbox, ordered and deduplicated delivery, acks and ticks,
// and resuming after any disconnect. The load generator, the end-to-end
// tests, the CLI (cmd/chat) and agent runtimes use it.
//
// # Getting a token and a key directory
//
// Accounts is the accounts HTTP API: Signup, Login (registering the device's
// public key) and Refresh. Login returns a Session, which keeps the access
// token fresh (Session.Token) and is also the key directory
// (Session.ConversationDevices) and the way to create and list
// conversations. Errors of the API are *ProblemError with the HTTP status.
//
//	acc := client.NewAccounts("http://127.0.0.1:8081", nil)
//	key, _ := e2ee.GenerateKey()
//	sess, _ := acc.Login(ctx, client.LoginRequest{Username: "ann", Password: pw, PublicKey: key.PublicKey()})
//	c, _ := client.Dial(ctx, client.Config{
//		URLs: []string{"ws://127.0.0.1:8080/ws"}, Token: sess.Token,
//		User: sess.UserID(), Device: sess.DeviceID(), Key: key, Directory: sess,
//		AutoDeliveredAck: true,
//	})
//	defer c.Close()
//	id, _ := c.Send(ctx, conversation, e2ee.Content{Text: "hi"})
//	for ev := range c.Events() {
//		switch e := ev.(type) {
//		case *client.Message: // decrypted, in seq order, once
//		case *client.Status: // e.ID moved to Sent, Stored (✓), Delivered (✓✓), Read, or Failed
//		case *client.Error: // e.g. a message that could not be decrypted
//		}
//	}
//
// # Sending: the outbox
//
// Send seals the content (e2ee.Seal) for every device the Directory lists
// for the conversation, plus this device, bound to (conversation, this
// device, a fresh random client message id), and puts it in the outbox. The
// outbox sends it and sends it again — same id, so persist stores it once —
// after ResendInterval (backing off, up to ten times it) and after every reconnect until a "stored" frame (or
// the message echoed back) gives it a seq. Error frames about it: missing_keys
// or bad_envelope refresh the cached directory and seal again under the same
// id (at most 5 times); unavailable, rate_limited and internal back off (a
// rate_limited with afterMs — the user's send rate — for at least afterMs);
// anything else (not_member, bad_frame, ...) fails it: Status StateFailed.
//
// # Receiving: order, dedupe, gaps
//
// Per conversation the client keeps lastSeq, the highest seq handed to the
// application with nothing missing below it. A message at lastSeq+1 is
// delivered with whatever buffered messages follow it; one at or below
// lastSeq, or already buffered, is a duplicate and dropped; one further ahead
// is buffered and the gap is filled by "sync {after: lastSeq}", applying
// "batch" frames and asking again while more is true. One sync per
// conversation is out at a time, with an id ("sync:n"): the last batch
// answering that id (end) or its refusal ends it; a batch of an earlier sync
// still counts for its messages. Evidence that a seq
// exists (a stored frame, a batch's lastSeq, an agent's replyTo)
// beyond lastSeq also triggers a sync, at most once per GapRetry. Own
// messages take their place in the order too (from their stored frame, with
// the content they were sent with). A message that cannot be decrypted
// (tampered, not sealed for this device, not valid content) is reported as
// an *Error event in its place and the order goes on; it is never dropped
// silently. In a group (devices of more than two users) messages are
// sealed once with this device's sender key (senderkeys.go, docs/e2ee.md
// "Sender keys"), distributed first as a stored entry of its own: such an
// entry takes its seq but is no message (a *KeyDistribution event), and the
// keys received are kept in Config.SenderKeys if set (else in memory: a
// restarted client then reads groups only by syncing from before the
// distributions). Conversations are tracked from seq 0 when first seen (sent to,
// received from); Track(conv, lastSeq) starts one elsewhere, e.g. from what
// the application stored.
//
// # Scrolling back
//
// History(ctx, conv, beforeSeq, limit) asks for a page of older messages
// (the newest limit below beforeSeq; 0: the newest page) with a "sync" that
// names "before" and an id "page:n", and returns it decrypted and verified
// as a Page (More: older ones remain; Oldest: ask below it next). A page is
// the caller's alone: it never enters the conversation's order, moves no
// cursor and sends no ack. An application with a local store of its own
// (cmd/chat) names what it has in Config.Tracked (conversation → highest
// stored seq): the first resume already starts there, so nothing stored is
// downloaded again; it pages back only for what it lacks.
//
// # Replies, edits, deletes and reactions
//
// Reply, Edit, Delete (for everyone) and React send ordinary messages
// whose content refers to an earlier seq (e2ee.Edit, e2ee.Delete,
// e2ee.Reaction, Content.ReplyTo); Edit and Delete refuse, before sending,
// an own message this client has seen that is too old to change, or one
// of someone else. Each received action comes as a Message in its place in
// the order, checked against the message it refers to by
// e2ee.CheckAction: Invalid is set when it must not be applied (a forged
// edit by someone else than the sender, too late, about a deleted or
// unknown message). The client remembers what it received this run:
// an action on a message from before (an application's local store) comes
// with e2ee.ErrUnknownRef, and the application that has the message judges
// it with e2ee.CheckAction (cmd/chat does). Actions are not counted by Unread. Delete for me is
// the application's: nothing is sent.
//
// # Acks and ticks
//
// With AutoDeliveredAck, a cumulative "delivered" ack for lastSeq is written
// AckDelay after messages of others are handed over (one ack for a burst;
// own messages alone are not acked, which would only cost a fan-out);
// MarkDelivered and MarkRead ack explicitly. Receipts of other members move
// own messages forward: ✓✓ (StateDelivered) once at least one other
// member's device has acked delivered up to the message, read once at least
// one other member has read it — "someone", not "everyone", in a group;
// Receipt events carry every cursor for an application that wants more.
// Receipts from the user's own other devices do not tick.
//
// # Connection and resume
//
// Dial tries each URL once and fails only if none accepts. The token (from
// Config.Token, called per connect, so it refreshes) goes as the WebSocket
// subprotocol "bearer.<jwt>" next to "agentchat.v1". On any loss the client
// reconnects to the next URL: promptly with jitter after a drain (close 1012
// or 1001), a slow-consumer cut (4008), an expired token (4001); with
// exponential, jittered backoff after errors or sockets that die young; after
// about MaxBackoff when rate limited (4029); never after 4009 (this device
// connected elsewhere: an *Error with CodeReplaced). A "reconnect" frame
// (connector draining) makes the client move by itself after afterMs (the
// connector spreads its clients; a hint of 0 gets jitter): the old socket
// serves until then. After every connect it resumes
// in one exchange: one "resume" frame with the lastSeq of every tracked
// conversation (pages of protocol.MaxResumePositions, in id order), answered
// by one "resumed" frame with a batch per conversation of the user's —
// including conversations this client did not know, which are tracked from
// 0 — and the ones the user has left (an *Error with CodeNotMember; no
// longer tracked); a conversation whose batch has more is synced at once.
// A refused or unanswered resume (SyncTimeout) falls back to one sync per
// conversation. It then resends the outbox in order and writes its acks
// again. A "resync" frame resumes the same way; every IdleSync (default
// 15 s, give or take a quarter at random, so that devices that connected
// together do not sync in step) each conversation is synced anyway, as a
// safety net for a lost pub/sub delivery. A ping goes out
// when nothing was written for KeepAlive; nothing read for ReadTimeout ends
// the socket. Frames are paced (FrameRate, default 40/s after a burst of 80)
// under the connector's per-socket rate limit, so that resuming hundreds of
// conversations does not get the socket closed with 4029.
//
// # Media
//
// SendFile encrypts a file under a fresh key (e2ee.SealMedia), asks media
// for an upload URL ("upload" frame), PUTs the blob straight to the media
// store, says it is done ("uploaded") and, once media answers that the
// store holds exactly that blob, sends an ordinary message whose content's
// Media (e2ee.Media: id, key, digest, name, MIME type, size, an optional
// thumbnail) names it. Any refusal (not_member, media_too_large,
// media_mismatch: a *protocol.Error; the store's: a *StoreError) fails
// SendFile before a message is sent. Download asks for a short-lived GET
// URL ("download"), fetches the blob, checks it against the message's
// digest and decrypts it. Media requests are written again every
// ResendInterval until answered (media answers a repeat the same way);
// their answers go to the caller, not to Events.
//
// # Presence
//
// With Config.Presence the client asks, after each connect, for the
// presence of everyone its user may watch: a PresenceSnapshot event (anyone
// not in it has nothing to show), then a Presence event per change —
// Online, or LastSeen, or neither (forget what was shown). Who may see
// whom is each user's setting, Session.SetPresenceVisibility (everyone,
// contacts, nobody; docs/protocol.md "Presence").
//
// # Concurrency
//
// A Client is safe for concurrent use. One loop goroutine owns all state;
// each socket has one reader and one writer goroutine; dialing and
// re-sealing run in short-lived goroutines. Events are queued without bound
// and never dropped, so the application must drain Events; Close stops
// every goroutine and closes the channel.
package client

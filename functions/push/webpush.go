package function

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	webpush "github.com/SherClockHolmes/webpush-go"

	"github.com/agentchat/agentchat/store/pushsubs"
)

// sender delivers one encrypted push to a subscription's push service and
// reports the service's status (201 is success).
type sender interface {
	Send(ctx context.Context, s pushsubs.Subscription, payload []byte) (status int, err error)
}

// topic is the Topic of every push (RFC 8030 5.4): a push service keeps
// at most one undelivered push per subscription and topic, so a device
// that stays offline across bursts wakes to one push, not a pile.
const topic = "agentchat-new-messages"

// webPush sends with github.com/SherClockHolmes/webpush-go: RFC 8291
// aes128gcm encryption to the subscription's keys (one record, padded to
// 4096 bytes, so every push has the same size whatever it says) and a
// VAPID token (RFC 8292, ES256, valid 12 h).
type webPush struct {
	vapid vapid
	ttl   int
	http  *http.Client
}

func newWebPush(v vapid, ttl, timeout time.Duration) *webPush {
	return &webPush{vapid: v, ttl: int(ttl / time.Second), http: &http.Client{
		Timeout: timeout,
		// A push service answers; it does not redirect. Following one
		// would take the platform off the allow-listed endpoints.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

func (w *webPush) Send(ctx context.Context, s pushsubs.Subscription, payload []byte) (int, error) {
	// webpush-go pads the payload by appending to it: clipped, each send
	// appends to a copy of its own, not to the spare capacity the
	// parallel pushes of one event share.
	resp, err := webpush.SendNotificationWithContext(ctx, slices.Clip(payload), &webpush.Subscription{
		Endpoint: s.Endpoint, Keys: webpush.Keys{P256dh: s.P256dh, Auth: s.Auth},
	}, &webpush.Options{
		HTTPClient: w.http,
		// webpush-go prefixes "mailto:" to a subject that is not https.
		Subscriber:      strings.TrimPrefix(w.vapid.subject, "mailto:"),
		VAPIDPublicKey:  w.vapid.public,
		VAPIDPrivateKey: w.vapid.private,
		TTL:             w.ttl,
		Topic:           topic,
		Urgency:         webpush.UrgencyHigh,
	})
	if err != nil {
		// The endpoint is a capability URL: keep it out of the error.
		var ue *url.Error
		if errors.As(err, &ue) {
			if ue.Timeout() {
				return 0, errors.New("the push service did not answer in time")
			}
			return 0, fmt.Errorf("the push service could not be reached: %v", ue.Err)
		}
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, nil
}

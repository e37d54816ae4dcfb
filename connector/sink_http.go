package connector

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
)

// HTTPSink posts events in binary mode to a broker ingress (K_SINK) with
// its own connection pool: one connector posts for thousands of sockets,
// and http.DefaultTransport keeps only two idle connections per host.
type HTTPSink struct {
	URL    string
	Client *http.Client
	// Extensions are set on every event: K_CE_OVERRIDES' "extensions".
	Extensions map[string]string
}

var _ Sink = (*HTTPSink)(nil)

// NewHTTPSink returns a sink for url; overrides is K_CE_OVERRIDES (JSON
// {"extensions": {...}}, may be empty).
func NewHTTPSink(url, overrides string) (*HTTPSink, error) {
	s := &HTTPSink{URL: url, Client: &http.Client{Transport: &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 128,
		IdleConnTimeout:     90 * time.Second,
	}}}
	if overrides != "" {
		var o struct {
			Extensions map[string]string `json:"extensions"`
		}
		if err := json.Unmarshal([]byte(overrides), &o); err != nil {
			return nil, fmt.Errorf("connector: K_CE_OVERRIDES: %w", err)
		}
		s.Extensions = o.Extensions
	}
	return s, nil
}

// Post sends e and succeeds only on a 2xx answer. A 2xx body (a broker
// never sends one, but a function used directly as the sink may reply with
// an event) is discarded: replies reach clients through route.
func (s *HTTPSink) Post(ctx context.Context, e event.Event) error {
	if len(s.Extensions) > 0 {
		e = e.Clone()
		for k, v := range s.Extensions {
			e.SetExtension(k, v)
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL, nil)
	if err != nil {
		return fmt.Errorf("connector: sink: %w", err)
	}
	if err := cehttp.WriteRequest(binding.WithForceBinary(ctx), binding.ToMessage(&e), req); err != nil {
		return fmt.Errorf("connector: sink: encode %s: %w", e.Type(), err)
	}
	resp, err := s.Client.Do(req)
	if err != nil {
		return fmt.Errorf("connector: sink: post %s: %w", e.Type(), err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("connector: sink: post %s: status %d", e.Type(), resp.StatusCode)
	}
	return nil
}

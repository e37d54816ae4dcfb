package function

import (
	"net/http"
	"sync"
	"time"
)

// MCP tool lists are cached (AGENT_MCP_TOOLS_TTL): a turn offers the
// tools its agent's servers listed within the TTL without connecting to
// them, and connects to a server only when the model calls one of its
// tools. Listing on every turn cost a connection, an initialize and a
// tools/list per server before the model could be asked. A server's list
// changes rarely; a tool it dropped within the TTL gets an error result
// the model reads, as an unreachable server's call does. A failed list is
// not cached: the next turn asks again.

// mcpList is one server's tools as listed: what the model is offered,
// and the server's own name of each.
type mcpList struct {
	specs []toolSpec
	names map[string]string // the name the model sees → the server's
	until time.Time
}

// mcpLists caches the lists by agent and server (an agent's servers and
// their headers are its own); bounded by the configured servers.
type mcpLists struct {
	mu    sync.Mutex
	ttl   time.Duration
	lists map[string]mcpList
}

func newMCPLists(ttl time.Duration) *mcpLists {
	return &mcpLists{ttl: ttl, lists: map[string]mcpList{}}
}

func mcpListKey(agent string, s mcpServer) string { return agent + "\x00" + s.Name + "\x00" + s.URL }

// get returns the fresh list of s for agent, if any.
func (c *mcpLists) get(agent string, s mcpServer) (mcpList, bool) {
	if c == nil || c.ttl <= 0 {
		return mcpList{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	l, ok := c.lists[mcpListKey(agent, s)]
	if !ok || time.Now().After(l.until) {
		return mcpList{}, false
	}
	return l, true
}

// put keeps the list of s for agent for the TTL.
func (c *mcpLists) put(agent string, s mcpServer, l mcpList) {
	if c == nil || c.ttl <= 0 {
		return
	}
	l.until = time.Now().Add(c.ttl)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lists[mcpListKey(agent, s)] = l
}

// headerTransport adds a server's configured headers (its credentials)
// to every request the MCP client sends it.
type headerTransport struct {
	base    http.RoundTripper
	headers map[string]string
}

func (h headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, v := range h.headers {
		r.Header.Set(k, v)
	}
	return h.base.RoundTrip(r)
}

// httpClient is the client the MCP transport uses for s: the default one,
// or one that adds s's headers.
func (s mcpServer) httpClient() *http.Client {
	if len(s.headers) == 0 {
		return nil // the SDK's default
	}
	return &http.Client{Transport: headerTransport{base: http.DefaultTransport, headers: s.headers}}
}

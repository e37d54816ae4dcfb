package local

import (
	"fmt"
	"net/url"

	duckv1 "knative.dev/pkg/apis/duck/v1"
)

// destinationRef is a Trigger's subscriber or dead-letter sink.
type destinationRef = *duckv1.Destination

// resolve turns a Trigger's subscriber or dead-letter sink into a URL. A
// ref names a Service whose URL comes from the broker's subscriber map
// (the name alone: every function lives in the broker's namespace); a
// uri is used as is, or relative to the ref's URL when both are set.
// When a ref is not in the map yet, resolve returns the URL the Service
// would have in a cluster, for error reports, and ok=false; ingest then
// admits no event to a Trigger with that subscriber (SetSubscriber makes
// it Ready).
func (b *Broker) resolve(d destinationRef) (u string, ok bool) {
	if d.Ref == nil {
		if d.URI == nil {
			return "", false
		}
		return d.URI.String(), true
	}
	b.subMu.RLock()
	base, ok := b.subs[d.Ref.Name]
	b.subMu.RUnlock()
	if !ok {
		ns := d.Ref.Namespace
		if ns == "" {
			ns = b.namespace
		}
		return fmt.Sprintf("http://%s.%s.svc.cluster.local", d.Ref.Name, ns), false
	}
	if d.URI == nil {
		return base, true
	}
	bu, err := url.Parse(base)
	if err != nil {
		return base, false
	}
	return bu.ResolveReference(d.URI.URL()).String(), true
}

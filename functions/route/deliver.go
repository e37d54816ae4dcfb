package function

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/agentchat/agentchat/sdk/events"
)

// presence says which connector holds which device (the connectors keep
// it in Redis, store/presence: device → connector id and socket stamp,
// with a TTL).
type presence interface {
	// Locate groups devices by the connector that holds them. Devices no
	// connector holds are left out: they are offline and will sync by seq
	// when they are back. One call is one round trip.
	Locate(ctx context.Context, devices []events.DeviceRef) (map[string][]events.DeviceRef, error)
}

// publisher hands deliveries to connectors.
type publisher interface {
	// Publish sends each payload on its connector's delivery channel, all
	// in one round trip. Delivery is at most once (Redis pub/sub): a
	// connector that is not subscribed at that moment misses it, and its
	// devices catch up by syncing.
	Publish(ctx context.Context, byConnector map[string][]byte) error
}

// deliver publishes inner to those of targets that are online: one
// io.agentchat.delivery per connector, listing the devices it holds.
func (f *Function) deliver(ctx context.Context, d *deps, inner event.Event, targets []events.DeviceRef) error {
	if len(targets) == 0 {
		return nil
	}
	where, err := d.presence.Locate(ctx, targets)
	if err != nil {
		return err
	}
	return f.publish(ctx, d, inner, where)
}

// publish wraps inner once per connector and publishes them together.
func (f *Function) publish(ctx context.Context, d *deps, inner event.Event, where map[string][]events.DeviceRef) error {
	if len(where) == 0 {
		return nil
	}
	payloads := make(map[string][]byte, len(where))
	for connector, devices := range where {
		// Sorted, so that a redelivered event makes the same delivery id.
		slices.SortFunc(devices, func(a, b events.DeviceRef) int {
			return cmp.Or(cmp.Compare(a.User, b.User), cmp.Compare(a.Device, b.Device))
		})
		del, err := events.NewDelivery(inner, devices)
		if err != nil {
			return fmt.Errorf("route: delivery of %s: %w", inner.Type(), err)
		}
		if payloads[connector], err = json.Marshal(del); err != nil {
			return fmt.Errorf("route: delivery of %s: %w", inner.Type(), err)
		}
	}
	if err := d.publisher.Publish(ctx, payloads); err != nil {
		return err
	}
	f.stats.deliveries.Add(int64(len(payloads)))
	return nil
}

// except returns devices without the one named.
func except(devices []events.DeviceRef, not events.DeviceRef) []events.DeviceRef {
	return slices.DeleteFunc(devices, func(d events.DeviceRef) bool { return d == not })
}

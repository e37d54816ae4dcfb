package function

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/store/deliveries"
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

// deliver publishes inner to those of targets that are online: one
// delivery per connector, listing the devices it holds.
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

// publish hands inner to the connectors in where, one delivery each
// listing the devices it holds, all in one round trip. The delivery is a
// plain message that carries inner's data as it came (store/deliveries):
// nothing is encoded again, and nothing is wrapped in another event.
func (f *Function) publish(ctx context.Context, d *deps, inner event.Event, where map[string][]events.DeviceRef) error {
	if len(where) == 0 {
		return nil
	}
	byConnector := make(map[string]deliveries.Delivery, len(where))
	for connector, devices := range where {
		// Sorted, so that a redelivered event makes the same delivery.
		slices.SortFunc(devices, func(a, b events.DeviceRef) int {
			return cmp.Or(cmp.Compare(a.User, b.User), cmp.Compare(a.Device, b.Device))
		})
		byConnector[connector] = deliveries.Of(inner, devices)
	}
	if err := d.publisher.Publish(ctx, byConnector); err != nil {
		return fmt.Errorf("route: delivery of %s: %w", inner.Type(), err)
	}
	f.stats.deliveries.Add(int64(len(byConnector)))
	return nil
}

// except returns devices without the one named.
func except(devices []events.DeviceRef, not events.DeviceRef) []events.DeviceRef {
	return slices.DeleteFunc(devices, func(d events.DeviceRef) bool { return d == not })
}

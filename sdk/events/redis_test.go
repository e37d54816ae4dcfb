package events_test

import (
	"testing"

	"github.com/agentchat/agentchat/sdk/events"
)

func TestPresenceValueRoundTrips(t *testing.T) {
	for _, tc := range []struct {
		connector string
		stamp     uint64
	}{{"c-1", 1}, {"host-7f3a|x", 1_767_000_000_000_000}, {"c", 0}} {
		v := events.FormatPresence(tc.connector, tc.stamp)
		if c, s := events.ParsePresence(v); c != tc.connector || s != tc.stamp {
			t.Errorf("ParsePresence(%q): got (%q, %d), want (%q, %d)", v, c, s, tc.connector, tc.stamp)
		}
	}
}

func TestParsePresenceReadsBareConnectorIDs(t *testing.T) {
	for _, v := range []string{"connector-7f3a", "c|", "c|+5", "c|12x", "c|-1"} {
		if c, s := events.ParsePresence(v); c != v || s != 0 {
			t.Errorf("ParsePresence(%q): got (%q, %d), want (%q, 0)", v, c, s, v)
		}
	}
}

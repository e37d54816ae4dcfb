package presence

import "testing"

func TestRecordRoundTrips(t *testing.T) {
	for _, tc := range []struct {
		connector string
		stamp     uint64
	}{{"c-1", 1}, {"host-7f3a|x", 1_767_000_000_000_000}, {"c", 0}} {
		v := FormatRecord(tc.connector, tc.stamp)
		if c, s := ParseRecord(v); c != tc.connector || s != tc.stamp {
			t.Errorf("ParseRecord(%q): got (%q, %d), want (%q, %d)", v, c, s, tc.connector, tc.stamp)
		}
	}
}

func TestParseRecordReadsBareConnectorIDs(t *testing.T) {
	for _, v := range []string{"connector-7f3a", "c|", "c|+5", "c|12x", "c|-1"} {
		if c, s := ParseRecord(v); c != v || s != 0 {
			t.Errorf("ParseRecord(%q): got (%q, %d), want (%q, 0)", v, c, s, v)
		}
	}
}

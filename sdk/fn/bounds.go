package fn

import (
	"cmp"
	"errors"
	"fmt"
	"reflect"
)

// checkBounds checks a field Load filled against its min and max tags,
// both inclusive and written as its value is ("0", "1m", "24h"), so that
// a function states a variable's range beside it rather than in a check
// of its own. Only numbers and durations have bounds.
func checkBounds(f reflect.StructField, v reflect.Value) error {
	lo, hasLo := f.Tag.Lookup("min")
	hi, hasHi := f.Tag.Lookup("max")
	want := "want at least " + lo
	switch {
	case hasLo && hasHi:
		want = fmt.Sprintf("want %s to %s", lo, hi)
	case hasHi:
		want = "want at most " + hi
	}
	if hasLo {
		if c, err := compare(v, lo); err != nil || c < 0 {
			return cmp.Or(err, errors.New(want))
		}
	}
	if hasHi {
		if c, err := compare(v, hi); err != nil || c > 0 {
			return cmp.Or(err, errors.New(want))
		}
	}
	return nil
}

// compare is -1, 0 or +1 as v is below, at or above bound.
func compare(v reflect.Value, bound string) (int, error) {
	b := reflect.New(v.Type()).Elem()
	if err := set(b, bound); err != nil {
		return 0, fmt.Errorf("bad bound %q: %w", bound, err)
	}
	switch v.Kind() {
	case reflect.Int, reflect.Int64:
		return cmp.Compare(v.Int(), b.Int()), nil
	case reflect.Float64:
		return cmp.Compare(v.Float(), b.Float()), nil
	}
	return 0, fmt.Errorf("min and max are for numbers and durations, not %s", v.Type())
}

package fn

import (
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Load fills the struct dst points to from func's config map m (func-go
// hands Start the process environment merged with the function's ./cfg
// file: reading that map rather than os.Getenv lets several instances in
// one test process differ). Each field to fill has a tag naming its
// variable, and optionally its default and whether it is required:
//
//	type config struct {
//		MongoURI string        `env:"MONGODB_URI" required:"true"`
//		Database string        `env:"MONGODB_DATABASE" default:"agentchat"`
//		Lease    time.Duration `env:"AGENT_LEASE" default:"30s" min:"1s"`
//		LogLevel slog.Level    `env:"LOG_LEVEL" default:"INFO"`
//	}
//
// An empty value means "not set" (a ConfigMap key that is present but
// empty arrives empty): the default applies, and a required variable is
// missing. A number or duration may also have a min and a max tag, both
// inclusive (`min:"0" max:"1m"`); a value outside them is an error that
// names the range. Field types: string, bool, int and int64, float64,
// time.Duration, and anything implementing encoding.TextUnmarshaler (so
// slog.Level). Untagged fields are left alone, for the caller to fill.
// Errors name the variable, never its value (it may be a secret).
func Load(m map[string]string, dst any) error {
	v := reflect.ValueOf(dst)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("config: Load wants a pointer to a struct, got %T", dst)
	}
	v = v.Elem()
	var errs []error
	for i := range v.NumField() {
		f := v.Type().Field(i)
		name, ok := f.Tag.Lookup("env")
		if !ok {
			continue
		}
		if !f.IsExported() {
			return fmt.Errorf("config: field %s (%s) is not exported", f.Name, name)
		}
		raw := m[name]
		if raw == "" {
			if f.Tag.Get("required") == "true" {
				errs = append(errs, fmt.Errorf("config: %s is required", name))
				continue
			}
			raw = f.Tag.Get("default")
			if raw == "" {
				continue
			}
		}
		err := set(v.Field(i), raw)
		if err == nil {
			err = checkBounds(f, v.Field(i))
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("config: %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

var durationType = reflect.TypeFor[time.Duration]()

// set parses raw into the field.
func set(field reflect.Value, raw string) error {
	if u, ok := field.Addr().Interface().(encoding.TextUnmarshaler); ok {
		if err := u.UnmarshalText([]byte(raw)); err != nil {
			return errors.New("not a valid value")
		}
		return nil
	}
	switch {
	case field.Type() == durationType:
		d, err := time.ParseDuration(raw)
		if err != nil {
			return errors.New("not a duration (e.g. 150ms, 30s, 5m)")
		}
		field.SetInt(int64(d))
	case field.Kind() == reflect.String:
		field.SetString(raw)
	case field.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(raw))
		if err != nil {
			return errors.New("not a boolean (true or false)")
		}
		field.SetBool(b)
	case field.Kind() == reflect.Int || field.Kind() == reflect.Int64:
		n, err := strconv.ParseInt(strings.TrimSpace(raw), 10, 64)
		if err != nil {
			return errors.New("not an integer")
		}
		field.SetInt(n)
	case field.Kind() == reflect.Float64:
		x, err := strconv.ParseFloat(strings.TrimSpace(raw), 64)
		if err != nil {
			return errors.New("not a number")
		}
		field.SetFloat(x)
	default:
		return fmt.Errorf("unsupported field type %s", field.Type())
	}
	return nil
}

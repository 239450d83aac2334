package sms

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Duration is a time.Duration for configuration files: JSON reads it from a
// string that time.ParseDuration takes ("30s", "1m30s") or from a number of
// seconds (30, 0.5), and writes it as a string. Its text form (flags,
// environment variables) takes the same two spellings.
type Duration time.Duration

// MarshalText writes d as time.Duration.String does, such as "30s".
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText reads "30s" or a number of seconds such as "30" or "0.5".
func (d *Duration) UnmarshalText(b []byte) error {
	s := string(b)
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return d.setSeconds(f)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: want a string like \"30s\" or a number of seconds", s)
	}
	*d = Duration(v)
	return nil
}

// UnmarshalJSON reads a JSON string ("30s") or number of seconds (30).
// JSON null leaves d as it is, as encoding/json does for other types.
func (d *Duration) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		return d.UnmarshalText([]byte(s))
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("duration: want a string like \"30s\" or a number of seconds, got %s", b)
	}
	return d.setSeconds(f)
}

// setSeconds sets d to f seconds, refusing what a Duration cannot hold.
func (d *Duration) setSeconds(f float64) error {
	ns := f * float64(time.Second)
	// -2^63 and 2^63 are exact in a float64; int64 holds [-2^63, 2^63).
	if math.IsNaN(ns) || ns < -(1<<63) || ns >= 1<<63 {
		return fmt.Errorf("duration: %v seconds is out of range", f)
	}
	*d = Duration(ns)
	return nil
}

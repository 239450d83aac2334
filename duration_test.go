package sms

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDurationJSON(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want time.Duration
		bad  bool
	}{
		{name: "string", in: `"30s"`, want: 30 * time.Second},
		{name: "compound string", in: `"1m30s"`, want: 90 * time.Second},
		{name: "string of seconds", in: `"45"`, want: 45 * time.Second},
		{name: "integer seconds", in: `30`, want: 30 * time.Second},
		{name: "fraction of a second", in: `0.5`, want: 500 * time.Millisecond},
		{name: "zero", in: `0`, want: 0},
		{name: "negative", in: `"-2s"`, want: -2 * time.Second},
		{name: "largest", in: `"2562047h47m16.854775807s"`, want: math.MaxInt64},
		{name: "smallest", in: `-9223372036.854775808`, want: math.MinInt64},

		{name: "empty string", in: `""`, bad: true},
		{name: "unit missing a number", in: `"s"`, bad: true},
		{name: "unknown unit", in: `"30 days"`, bad: true},
		{name: "boolean", in: `true`, bad: true},
		{name: "object", in: `{"s": 1}`, bad: true},
		{name: "seconds out of range", in: `1e10`, bad: true},
		{name: "seconds just out of range", in: `9223372036.854775807`, bad: true},
		{name: "negative seconds out of range", in: `-1e10`, bad: true},
		{name: "string seconds out of range", in: `"1e300"`, bad: true},
		{name: "string out of range", in: `"3000000h"`, bad: true},
		{name: "NaN", in: `"NaN"`, bad: true},
		{name: "infinity", in: `"+Inf"`, bad: true},
		{name: "number too large for JSON", in: `1e400`, bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Duration(7) // an error must leave a recognizable value alone
			err := json.Unmarshal([]byte(tt.in), &d)
			if tt.bad {
				require.Error(t, err, "read %v", time.Duration(d))
				assert.Equal(t, Duration(7), d, "unchanged on error")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, time.Duration(d))

			// Written as a string, read back the same.
			out, err := json.Marshal(d)
			require.NoError(t, err)
			assert.JSONEq(t, `"`+tt.want.String()+`"`, string(out))
			var back Duration
			require.NoError(t, json.Unmarshal(out, &back))
			assert.Equal(t, d, back)
		})
	}
	t.Run("null leaves the value", func(t *testing.T) {
		v := struct{ D Duration }{D: Duration(time.Minute)}
		require.NoError(t, json.Unmarshal([]byte(`{"D": null}`), &v))
		assert.Equal(t, Duration(time.Minute), v.D)
	})
}

func TestDurationText(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		bad  bool
	}{
		{in: "30s", want: 30 * time.Second},
		{in: "250ms", want: 250 * time.Millisecond},
		{in: "30", want: 30 * time.Second},
		{in: "1.5", want: 1500 * time.Millisecond},
		{in: "", bad: true},
		{in: `"30s"`, bad: true}, // quotes belong to JSON, not to the text form
		{in: " 30s", bad: true},
		{in: "30 s", bad: true},
		{in: "1e11", bad: true},
		{in: "Inf", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var d Duration
			err := d.UnmarshalText([]byte(tt.in))
			if tt.bad {
				assert.Error(t, err, "read %v", time.Duration(d))
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, time.Duration(d))
			out, err := d.MarshalText()
			require.NoError(t, err)
			assert.Equal(t, tt.want.String(), string(out))
		})
	}
}

// FuzzDuration checks that whatever UnmarshalText or UnmarshalJSON accepts
// is written back in a form that reads as the same value, and that what
// they refuse leaves the Duration alone.
func FuzzDuration(f *testing.F) {
	for _, s := range []string{
		"30s", "1m30s", "30", "0.5", "-2s", "0", "", "null", `"30s"`, `"45"`, "1e10",
		"9223372036.854775807", "-9223372036.854775808", "2562047h47m16.854775807s",
		"-2562047h47m16.854775808s", "NaN", "Inf", "0x1p-2", "true", "{}",
	} {
		f.Add(s)
	}
	const sentinel = Duration(-7)
	roundTrip := func(t *testing.T, d Duration) {
		text, err := d.MarshalText()
		require.NoError(t, err)
		back := sentinel
		require.NoError(t, back.UnmarshalText(text), "reading back %q", text)
		require.Equal(t, d, back, "text %q", text)

		js, err := json.Marshal(d)
		require.NoError(t, err)
		back = sentinel
		require.NoError(t, json.Unmarshal(js, &back), "reading back %s", js)
		require.Equal(t, d, back, "JSON %s", js)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d := sentinel
		if err := d.UnmarshalText([]byte(s)); err != nil {
			require.Equal(t, sentinel, d, "changed by a refused text %q", s)
		} else {
			roundTrip(t, d)
		}
		d = sentinel
		if err := d.UnmarshalJSON([]byte(s)); err != nil {
			require.Equal(t, sentinel, d, "changed by refused JSON %q", s)
		} else if s != "null" {
			roundTrip(t, d)
		}
	})
}

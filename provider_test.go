package sms

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestKindText(t *testing.T) {
	names := map[Kind]string{
		KindAmbiguous: "ambiguous",
		KindRejected:  "rejected",
		KindTemporary: "temporary",
		KindThrottled: "throttled",
		KindFatal:     "fatal",
		KindInvalid:   "invalid",
	}
	require.Len(t, names, len(kindSentinels), "a name for every kind")
	for k, name := range names {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, name, k.String())
			b, err := k.MarshalText()
			require.NoError(t, err)
			assert.Equal(t, name, string(b))
			var back Kind
			require.NoError(t, back.UnmarshalText(b))
			assert.Equal(t, k, back)

			// As a JSON value and as a map key.
			js, err := json.Marshal(map[Kind]Kind{k: k})
			require.NoError(t, err)
			assert.JSONEq(t, `{"`+name+`": "`+name+`"}`, string(js))
			var m map[Kind]Kind
			require.NoError(t, json.Unmarshal(js, &m))
			assert.Equal(t, map[Kind]Kind{k: k}, m)
		})
	}
	t.Run("unknown name", func(t *testing.T) {
		for _, in := range []string{"", "Throttled", "throttle", " fatal", "Kind(3)", "3"} {
			k := KindFatal
			assert.Error(t, k.UnmarshalText([]byte(in)), "%q", in)
			assert.Equal(t, KindFatal, k, "unchanged after %q", in)
		}
		var v struct{ K Kind }
		assert.Error(t, json.Unmarshal([]byte(`{"K": "sometimes"}`), &v))
	})
	t.Run("unknown kind", func(t *testing.T) {
		for k, want := range map[Kind]string{-1: "Kind(-1)", KindInvalid + 1: "Kind(6)"} {
			_, err := k.MarshalText()
			assert.Error(t, err, want)
			assert.Equal(t, want, k.String())
		}
	})
}

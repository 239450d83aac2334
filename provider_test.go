package sms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
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

// gatewayError is a provider's own error type, for errors.As through nested
// *Errors.
type gatewayError struct{ status int }

func (e *gatewayError) Error() string { return fmt.Sprintf("gateway status %d", e.status) }

func TestNestedErrors(t *testing.T) {
	cause := errors.New("connection refused")
	gw := &gatewayError{status: 503}
	e := func(k Kind, err error) *Error { return &Error{Kind: k, Err: err} }
	tests := []struct {
		name string
		err  error
		want Kind // the kind of the outermost *Error
	}{
		{"one", e(KindTemporary, cause), KindTemporary},
		{"one, no cause", e(KindRejected, nil), KindRejected},
		{"wrapped in fmt", fmt.Errorf("send: %w", e(KindFatal, cause)), KindFatal},
		{"ambiguous around temporary", e(KindAmbiguous, e(KindTemporary, cause)), KindAmbiguous},
		{"through fmt", e(KindAmbiguous, fmt.Errorf("vendor a: %w", e(KindTemporary, cause))), KindAmbiguous},
		{"fmt around two", fmt.Errorf("x: %w", e(KindRejected, e(KindFatal, cause))), KindRejected},
		{"three deep", e(KindThrottled, e(KindAmbiguous, e(KindRejected, cause))), KindThrottled},
		{"around a join", e(KindTemporary, errors.Join(e(KindFatal, cause), context.Canceled, gw)), KindTemporary},
		{"around a join of kinds", e(KindAmbiguous, errors.Join(e(KindTemporary, gw), e(KindThrottled, cause))), KindAmbiguous},
		{"same kind inside", e(KindTemporary, e(KindTemporary, cause)), KindTemporary},
		{"not attempted after a fatal", notAttempted(e(KindFatal, cause)), KindFatal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, sentinel := range kindSentinels {
				assert.Equal(t, Kind(k) == tt.want, errors.Is(tt.err, sentinel), "errors.Is(err, %v)", sentinel)
			}
			var first *Error
			require.ErrorAs(t, tt.err, &first)
			assert.Equal(t, tt.want, first.Kind, "errors.As finds the outermost")
			got, ok := Result{Err: tt.err}.Kind()
			assert.True(t, ok)
			assert.Equal(t, tt.want, got, "Result.Kind")

			// Everything but the inner kinds stays reachable.
			if strings.Contains(tt.err.Error(), cause.Error()) {
				assert.ErrorIs(t, tt.err, cause)
			}
			if strings.Contains(tt.err.Error(), gw.Error()) {
				var g *gatewayError
				require.ErrorAs(t, tt.err, &g, "errors.As reaches inside")
				assert.Same(t, gw, g)
			}
			if strings.Contains(tt.err.Error(), context.Canceled.Error()) {
				assert.ErrorIs(t, tt.err, context.Canceled)
			}
		})
	}
	t.Run("inner errors stay reachable by errors.As", func(t *testing.T) {
		inner := e(KindTemporary, cause)
		err := e(KindAmbiguous, fmt.Errorf("vendor a: %w", inner))
		var outer *Error
		require.ErrorAs(t, err, &outer)
		var got *Error
		require.ErrorAs(t, outer.Err, &got, "the field holds the inner error as given")
		assert.Same(t, inner, got)
		assert.ErrorIs(t, outer.Err, ErrTemporary)
	})
}

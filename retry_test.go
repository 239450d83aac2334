package sms

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRetryPolicyJSONFields checks that retryPolicyJSON mirrors RetryPolicy
// field for field, so that a field added to one cannot be missed in the
// other: the same names in the same order, a Duration for every
// time.Duration and the same type otherwise.
func TestRetryPolicyJSONFields(t *testing.T) {
	pol, js := reflect.TypeFor[RetryPolicy](), reflect.TypeFor[retryPolicyJSON]()
	require.Equal(t, pol.NumField(), js.NumField(), "one JSON field per RetryPolicy field")
	for i := range pol.NumField() {
		pf, jf := pol.Field(i), js.Field(i)
		assert.Equal(t, pf.Name, jf.Name, "field %d", i)
		want := pf.Type
		if want == reflect.TypeFor[time.Duration]() {
			want = reflect.TypeFor[Duration]()
		}
		assert.Equal(t, want, jf.Type, "type of %s", pf.Name)
		assert.NotEmpty(t, jf.Tag.Get("json"), "JSON name of %s", pf.Name)
	}
}

func TestRetryPolicyJSON(t *testing.T) {
	t.Run("every field round-trips", func(t *testing.T) {
		// Set every field to a distinct non-zero value, whatever fields
		// RetryPolicy has, so a field the methods forget shows up.
		var p RetryPolicy
		v := reflect.ValueOf(&p).Elem()
		for i := range v.NumField() {
			switch f := v.Field(i); f.Kind() {
			case reflect.Int, reflect.Int64:
				f.SetInt(int64(i+1) * int64(time.Second))
			case reflect.Bool:
				f.SetBool(true)
			default:
				t.Fatalf("field %s: no test value for %v", v.Type().Field(i).Name, f.Kind())
			}
		}
		b, err := json.Marshal(p)
		require.NoError(t, err)
		var back RetryPolicy
		require.NoError(t, json.Unmarshal(b, &back), "%s", b)
		assert.Equal(t, p, back, "%s", b)
	})
	t.Run("written form", func(t *testing.T) {
		b, err := json.Marshal(RetryPolicy{MaxAttempts: 5, BaseDelay: 250 * time.Millisecond, MaxDelay: 10 * time.Second, MaxRetryAfter: 2 * time.Minute, RetryAmbiguous: true})
		require.NoError(t, err)
		assert.JSONEq(t, `{"max_attempts": 5, "base_delay": "250ms", "max_delay": "10s", "max_retry_after": "2m0s", "retry_ambiguous": true}`, string(b))
		b, err = json.Marshal(RetryPolicy{})
		require.NoError(t, err)
		assert.JSONEq(t, `{}`, string(b), "zero fields (the defaults) are left out")
	})
	t.Run("read form", func(t *testing.T) {
		var p RetryPolicy
		require.NoError(t, json.Unmarshal([]byte(`{"max_attempts": 4, "base_delay": 0.2, "max_retry_after": "90s"}`), &p))
		assert.Equal(t, RetryPolicy{MaxAttempts: 4, BaseDelay: 200 * time.Millisecond, MaxRetryAfter: 90 * time.Second}, p)
	})
	t.Run("errors", func(t *testing.T) {
		for _, in := range []string{
			`{"max_atempts": 4}`,          // a typo must not fall back to the default
			`{"MaxAttempts": 4}`,          // Go names are not the JSON names
			`{"base_delay": "soon"}`,      // not a duration
			`{"max_attempts": "4"}`,       // not a number
			`{"retry_ambiguous": "true"}`, // not a boolean
			`[]`,
		} {
			p := RetryPolicy{MaxAttempts: 9}
			assert.Error(t, json.Unmarshal([]byte(in), &p), in)
			assert.Equal(t, RetryPolicy{MaxAttempts: 9}, p, "unchanged after %s", in)
		}
	})
}

func TestMaxDuration(t *testing.T) {
	tests := []struct {
		name    string
		p       RetryPolicy
		attempt time.Duration
		want    time.Duration
	}{
		// 3 attempts, and between two of them at most max(30s, 1m).
		{"defaults", RetryPolicy{}, 10 * time.Second, 3*10*time.Second + 2*time.Minute},
		{"one attempt", RetryPolicy{MaxAttempts: 1}, 10 * time.Second, 10 * time.Second},
		{"backoff cap is longest", RetryPolicy{MaxAttempts: 4, MaxDelay: 5 * time.Minute}, time.Second, 4*time.Second + 3*5*time.Minute},
		{"Retry-After cap is longest", RetryPolicy{MaxAttempts: 2, MaxDelay: time.Second, MaxRetryAfter: 20 * time.Second}, time.Second, 2*time.Second + 20*time.Second},
		{"a large base delay raises the default cap", RetryPolicy{MaxAttempts: 2, BaseDelay: 2 * time.Minute}, 0, 2 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.p.MaxDuration(tt.attempt))
		})
	}
}

func TestAfterFailure(t *testing.T) {
	const (
		base   = 500 * time.Millisecond
		capRA  = time.Minute
		noWait = time.Duration(0)
	)
	withID := Message{To: testNumber, Text: "hi", ID: "order-1"}
	noID := Message{To: testNumber, Text: "hi"}
	tests := []struct {
		name       string
		policy     RetryPolicy
		idempotent bool
		attempt    int
		err        *Error
		msg        Message
		want       retryPlan
	}{
		{"temporary", RetryPolicy{}, false, 1, kindErr(KindTemporary), noID, retryPlan{retry: true, wait: base}},
		{"temporary, second retry doubles", RetryPolicy{}, false, 2, kindErr(KindTemporary), noID, retryPlan{retry: true, wait: 2 * base}},
		{"temporary, attempts used up", RetryPolicy{}, false, 3, kindErr(KindTemporary), noID, retryPlan{}},
		{"temporary with a hint", RetryPolicy{}, false, 1, &Error{Kind: KindTemporary, RetryAfter: 3 * time.Second}, noID, retryPlan{retry: true, wait: 3 * time.Second}},
		{"throttled holds everyone", RetryPolicy{}, false, 1, &Error{Kind: KindThrottled, RetryAfter: 7 * time.Second}, noID, retryPlan{retry: true, wait: 7 * time.Second, scope: waitClient}},
		{"throttled hint capped", RetryPolicy{}, false, 1, &Error{Kind: KindThrottled, RetryAfter: time.Hour}, noID, retryPlan{retry: true, wait: capRA, scope: waitClient}},
		{"throttled without hint backs off", RetryPolicy{}, false, 2, kindErr(KindThrottled), noID, retryPlan{retry: true, wait: 2 * base, scope: waitClient}},
		{"throttled, attempts used up, still holds everyone", RetryPolicy{MaxAttempts: 1}, false, 1, &Error{Kind: KindThrottled, RetryAfter: 5 * time.Second}, noID, retryPlan{wait: 5 * time.Second, scope: waitClient}},
		{"throttled for this recipient waits alone", RetryPolicy{}, false, 1, &Error{Kind: KindThrottled, RetryAfter: 7 * time.Second, PerRecipient: true}, noID, retryPlan{retry: true, wait: 7 * time.Second, scope: waitRecipient}},
		{"throttled for this recipient, no hint", RetryPolicy{}, false, 1, &Error{Kind: KindThrottled, PerRecipient: true}, noID, retryPlan{retry: true, wait: base, scope: waitRecipient}},
		{"throttled for this recipient, attempts used up", RetryPolicy{MaxAttempts: 1}, false, 1, &Error{Kind: KindThrottled, RetryAfter: 5 * time.Second, PerRecipient: true}, noID, retryPlan{scope: waitRecipient}},
		{"PerRecipient means nothing for temporary", RetryPolicy{}, false, 1, &Error{Kind: KindTemporary, PerRecipient: true}, noID, retryPlan{retry: true, wait: base}},
		{"ambiguous", RetryPolicy{}, false, 1, kindErr(KindAmbiguous), withID, retryPlan{}},
		{"ambiguous, opted in", RetryPolicy{RetryAmbiguous: true}, false, 1, kindErr(KindAmbiguous), noID, retryPlan{retry: true, wait: base}},
		{"ambiguous, idempotent with ID", RetryPolicy{}, true, 1, kindErr(KindAmbiguous), withID, retryPlan{retry: true, wait: base}},
		{"ambiguous, idempotent without ID", RetryPolicy{}, true, 1, kindErr(KindAmbiguous), noID, retryPlan{}},
		{"rejected", RetryPolicy{RetryAmbiguous: true}, true, 1, kindErr(KindRejected), withID, retryPlan{}},
		{"fatal", RetryPolicy{RetryAmbiguous: true}, true, 1, kindErr(KindFatal), withID, retryPlan{}},
		{"invalid", RetryPolicy{RetryAmbiguous: true}, true, 1, kindErr(KindInvalid), withID, retryPlan{}},
		{"rejected with a hint waits for nothing", RetryPolicy{}, false, 1, &Error{Kind: KindRejected, RetryAfter: time.Second}, noID, retryPlan{wait: noWait}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p Provider = &fakeProvider{}
			if tt.idempotent {
				p = idempotentFake{&fakeProvider{}}
			}
			c, _ := newTestClient(t, p, WithRetry(tt.policy))
			draws := 0
			c.rand = func(limit int64) int64 { draws++; return limit - 1 }
			assert.Equal(t, tt.want, c.afterFailure(tt.attempt, tt.err, tt.msg))
			if tt.want.wait == 0 || tt.err.RetryAfter > 0 {
				assert.Zero(t, draws, "no jitter drawn for a wait not taken or given by the gateway")
			}
		})
	}
}

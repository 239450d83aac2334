package sms

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// RetryPolicy bounds the Client's retries of one message. Zero fields mean
// the defaults: 3 attempts, a 500ms base delay, a 30s cap on the backoff,
// and a gateway's Retry-After honoured up to 1 minute.
//
// In JSON (a configuration file) its fields are max_attempts, base_delay,
// max_delay, max_retry_after and retry_ambiguous, with durations written as
// Duration reads them ("500ms" or seconds).
type RetryPolicy struct {
	// MaxAttempts is the most times one message is handed to the provider,
	// the first attempt included. 1 disables retries.
	MaxAttempts int
	// BaseDelay is the backoff before the first retry; it doubles with each
	// further retry, up to MaxDelay. The wait is drawn at random from the
	// upper half of that value (jitter), so workers do not retry in step.
	BaseDelay time.Duration
	// MaxDelay caps the backoff.
	MaxDelay time.Duration
	// MaxRetryAfter caps how long a gateway's Retry-After hint is honoured.
	MaxRetryAfter time.Duration
	// RetryAmbiguous retries messages whose outcome was ambiguous, which can
	// deliver them twice. Without it they are retried only when the provider
	// is an IdempotentProvider and the message has an ID.
	RetryAmbiguous bool
}

// defaultRetry is the policy of a Client built without WithRetry.
var defaultRetry = RetryPolicy{
	MaxAttempts:   3,
	BaseDelay:     500 * time.Millisecond,
	MaxDelay:      30 * time.Second,
	MaxRetryAfter: time.Minute,
}

// retryPolicyJSON is RetryPolicy's JSON form. TestRetryPolicyJSON checks
// that it has a field for every field of RetryPolicy.
type retryPolicyJSON struct {
	MaxAttempts    int      `json:"max_attempts,omitempty"`
	BaseDelay      Duration `json:"base_delay,omitempty"`
	MaxDelay       Duration `json:"max_delay,omitempty"`
	MaxRetryAfter  Duration `json:"max_retry_after,omitempty"`
	RetryAmbiguous bool     `json:"retry_ambiguous,omitempty"`
}

// MarshalJSON writes p with its JSON field names and durations as text.
func (p RetryPolicy) MarshalJSON() ([]byte, error) {
	return json.Marshal(retryPolicyJSON{p.MaxAttempts, Duration(p.BaseDelay), Duration(p.MaxDelay), Duration(p.MaxRetryAfter), p.RetryAmbiguous})
}

// UnmarshalJSON reads p from its JSON form; an unknown field is an error,
// so that a typo does not fall back to a default unnoticed.
func (p *RetryPolicy) UnmarshalJSON(b []byte) error {
	var j retryPolicyJSON
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return fmt.Errorf("retry policy: %w", err)
	}
	*p = RetryPolicy{j.MaxAttempts, time.Duration(j.BaseDelay), time.Duration(j.MaxDelay), time.Duration(j.MaxRetryAfter), j.RetryAmbiguous}
	return nil
}

// MaxDuration returns the longest the Client spends on one message under p
// (zero fields meaning the defaults) when one attempt takes at most
// attempt: every attempt, and the longest wait (MaxDelay or MaxRetryAfter)
// between two. It bounds a job that sends one message.
func (p RetryPolicy) MaxDuration(attempt time.Duration) time.Duration {
	p = p.filled()
	n := time.Duration(p.MaxAttempts)
	return n*attempt + (n-1)*max(p.MaxDelay, p.MaxRetryAfter)
}

// filled returns p with its zero fields set to the defaults.
func (p RetryPolicy) filled() RetryPolicy {
	d := defaultRetry
	if p.MaxAttempts == 0 {
		p.MaxAttempts = d.MaxAttempts
	}
	if p.BaseDelay == 0 {
		p.BaseDelay = d.BaseDelay
	}
	if p.MaxDelay == 0 {
		p.MaxDelay = max(d.MaxDelay, p.BaseDelay)
	}
	if p.MaxRetryAfter == 0 {
		p.MaxRetryAfter = d.MaxRetryAfter
	}
	return p
}

func (p RetryPolicy) withDefaults() (RetryPolicy, error) {
	if p.MaxAttempts < 0 || p.BaseDelay < 0 || p.MaxDelay < 0 || p.MaxRetryAfter < 0 {
		return p, fmt.Errorf("sms: RetryPolicy: negative field in %+v", p)
	}
	p = p.filled()
	if p.MaxDelay < p.BaseDelay {
		return p, fmt.Errorf("sms: RetryPolicy: MaxDelay %v below BaseDelay %v", p.MaxDelay, p.BaseDelay)
	}
	return p, nil
}

// backoff returns the wait before retry number n (1 for the first retry):
// BaseDelay doubled n-1 times, capped at MaxDelay, then drawn from the upper
// half of that value with rand (which returns a value in [0, limit)).
func (p RetryPolicy) backoff(n int, rand func(limit int64) int64) time.Duration {
	d := p.BaseDelay
	for i := 1; i < n && d < p.MaxDelay; i++ {
		d *= 2
	}
	d = min(d, p.MaxDelay)
	half := d / 2
	if half <= 0 {
		return d
	}
	return half + time.Duration(rand(int64(d-half)+1))
}

// retryPlan says what follows a failed attempt of a message: whether it is
// tried again, after how long, and who waits.
type retryPlan struct {
	retry bool          // hand the message to the provider again
	wait  time.Duration // before the next attempt
	scope waitScope     // who waits; waitClient even when retry is not set
}

// waitScope says who waits out a retryPlan's wait.
type waitScope int

const (
	// waitMessage: this message's worker waits (a backoff).
	waitMessage waitScope = iota
	// waitClient: every worker waits, this one's retry included: the
	// Client's gate closes for the wait.
	waitClient
	// waitRecipient: only this recipient's retry waits; a mailing sets the
	// message aside and sends other entries meanwhile.
	waitRecipient
)

// afterFailure is the one place that decides what follows attempt number
// attempt (from 1) of msg, which failed with e:
//
//   - KindTemporary and KindThrottled are retried; KindAmbiguous only with
//     RetryPolicy.RetryAmbiguous, or when the provider is idempotent and msg
//     has an ID; KindRejected, KindFatal and KindInvalid never. No outcome
//     is retried once MaxAttempts attempts were made.
//   - The wait is the gateway's Retry-After, capped at MaxRetryAfter, when
//     it gave one, else the backoff for this retry (with jitter).
//   - A throttled answer holds back every worker for that wait, retried or
//     not: the next message would hit the same limit. One that is about
//     this recipient only (Error.PerRecipient) delays this message alone,
//     and a mailing goes on with other entries meanwhile. Other waits are
//     the message's worker's.
//
// The caller's context is not its business: deliver stops when it is done.
func (c *Client) afterFailure(attempt int, e *Error, msg Message) retryPlan {
	plan := retryPlan{scope: waitMessage}
	switch e.Kind {
	case KindTemporary:
		plan.retry = true
	case KindThrottled:
		plan.retry, plan.scope = true, waitClient
		if e.PerRecipient {
			plan.scope = waitRecipient
		}
	case KindAmbiguous:
		plan.retry = c.retry.RetryAmbiguous || (c.idempotent && msg.ID != "")
	}
	plan.retry = plan.retry && attempt < c.retry.MaxAttempts
	if plan.retry || plan.scope == waitClient {
		// Drawn only when used, so that the jitter of a test's fake
		// random source is spent on waits alone.
		if e.RetryAfter > 0 {
			plan.wait = min(e.RetryAfter, c.retry.MaxRetryAfter)
		} else {
			plan.wait = c.retry.backoff(attempt, c.rand)
		}
	}
	return plan
}

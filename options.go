package sms

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"golang.org/x/time/rate"
)

// DefaultConcurrency is how many messages a mailing sends at once unless
// WithConcurrency says otherwise.
const DefaultConcurrency = 16

// An Option configures a Client in New. Options validate their arguments, so
// New fails instead of building a misconfigured Client.
type Option func(*Client) error

// WithRetry sets the retry policy. Zero fields of p mean the defaults (see
// RetryPolicy).
func WithRetry(p RetryPolicy) Option {
	return func(c *Client) error {
		full, err := p.withDefaults()
		if err != nil {
			return err
		}
		c.retry = full
		return nil
	}
}

// WithAttemptTimeout bounds each attempt: the provider's Send gets a
// context that ends after d. An attempt cut short is reported as the
// provider classifies it (a request already written is KindAmbiguous). 0 (the
// default) means no bound besides the caller's context.
func WithAttemptTimeout(d time.Duration) Option {
	return func(c *Client) error {
		if d < 0 {
			return fmt.Errorf("sms: WithAttemptTimeout: negative duration %v", d)
		}
		c.attemptTimeout = d
		return nil
	}
}

// WithRateLimit limits the Client to limit attempts per second with bursts of
// burst, using a rate.Limiter of its own. Every attempt waits on it, retries
// included. rate.Inf means no limit (the default).
//
// WithRateLimit and WithLimiter set the same, single limiter: when both are
// given, the last one wins.
func WithRateLimit(limit rate.Limit, burst int) Option {
	return func(c *Client) error {
		if limit <= 0 {
			return fmt.Errorf("sms: WithRateLimit: limit must be positive, got %v", limit)
		}
		if burst < 1 && limit != rate.Inf {
			return fmt.Errorf("sms: WithRateLimit: burst must be at least 1, got %d", burst)
		}
		c.limiter = rate.NewLimiter(limit, burst)
		return nil
	}
}

// WithLimiter makes every attempt wait on l, which may be shared with other
// Clients or backed by a distributed store. A *rate.Limiter satisfies
// Limiter.
//
// WithLimiter and WithRateLimit set the same, single limiter: when both are
// given, the last one wins.
func WithLimiter(l Limiter) Option {
	return func(c *Client) error {
		if l == nil {
			return errors.New("sms: WithLimiter: nil Limiter")
		}
		c.limiter = l
		return nil
	}
}

// WithConcurrency sets how many messages a mailing sends at once. The default
// is DefaultConcurrency. n must be at least 1.
func WithConcurrency(n int) Option {
	return func(c *Client) error {
		if n < 1 {
			return fmt.Errorf("sms: WithConcurrency: n must be at least 1, got %d", n)
		}
		c.concurrency = n
		return nil
	}
}

// WithLogger makes the Client log attempts and results to l, with numbers
// masked. By default nothing is logged.
func WithLogger(l *slog.Logger) Option {
	return func(c *Client) error {
		if l == nil {
			return errors.New("sms: WithLogger: nil Logger")
		}
		c.log = l
		return nil
	}
}

// WithNormalizer replaces NormalizeNumber, for example with one built on a
// full numbering-plan library. The Client sends the normalized number and
// deduplicates mailings by it.
func WithNormalizer(n Normalizer) Option {
	return func(c *Client) error {
		if n == nil {
			return errors.New("sms: WithNormalizer: nil Normalizer")
		}
		c.normalize = n
		return nil
	}
}

// WithHooks installs callbacks for metrics and tracing. Nil fields are
// skipped.
func WithHooks(h Hooks) Option {
	return func(c *Client) error {
		c.hooks = h
		return nil
	}
}

// Hooks are called synchronously from the goroutine that does the work, so
// they must be quick and safe for concurrent use.
type Hooks struct {
	// Attempt is called after every attempt, successful or not.
	Attempt func(Attempt)
	// Result is called once for every Result the Client produces: each
	// Send, and each entry of a mailing (skipped and not attempted ones
	// included).
	Result func(Result)
}

// WithMaxParts refuses, before any provider sees it, a text that takes more
// than n SMS parts (see Analyze), with an *Error of KindInvalid wrapping
// ErrTooManyParts. 0 (the default) means no limit.
func WithMaxParts(n int) Option {
	return func(c *Client) error {
		if n < 0 {
			return fmt.Errorf("sms: WithMaxParts: n must not be negative, got %d", n)
		}
		c.maxParts = n
		return nil
	}
}

// WithLimitPerPart makes the rate limiter count SMS parts instead of
// messages, as gateways meter them: an attempt of a 3-part text waits for 3
// events. The limiter's burst must then be at least the most parts a text
// may have (see WithMaxParts), or such a text fails without being attempted.
func WithLimitPerPart() Option {
	return func(c *Client) error {
		c.limitParts = true
		return nil
	}
}

// WithDeliveryReports makes the Client ask for delivery reports to h: every
// message with an ID and no ReportURL gets h.URL(ID) as its ReportURL. The
// provider (h's, or one that routes to it) requests the reports.
func WithDeliveryReports(h *DeliveryHandler) Option {
	return func(c *Client) error {
		if h == nil {
			return errors.New("sms: WithDeliveryReports: nil handler")
		}
		c.reports = h
		return nil
	}
}

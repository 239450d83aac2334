package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/smsgateway/sms"
)

// Config is the service's configuration file (JSON). The zero value of every
// field means the default documented on it; a Config with no providers gets
// one provider named "log" of type "log".
type Config struct {
	// APIKeys, when not empty, are the bearer tokens the API accepts
	// ("Authorization: Bearer <key>"). Empty means no authentication. The
	// environment variable SMSGATEWAY_API_KEYS (comma-separated) adds keys.
	APIKeys []string `json:"api_keys,omitempty"`
	// Providers maps the request's "address" to a provider.
	Providers map[string]ProviderConfig `json:"providers,omitempty"`
	// SendTimeout bounds one attempt to hand a message to a provider.
	// Default 30s.
	SendTimeout sms.Duration `json:"send_timeout,omitempty"`
	// Retry is the per-message retry policy of every provider's Client
	// (sms.RetryPolicy: max_attempts, base_delay, max_delay,
	// max_retry_after, retry_ambiguous); zero fields mean the library's
	// defaults.
	Retry sms.RetryPolicy `json:"retry,omitzero"`
	// TaskAttempts is how many times a task runs while some of its messages
	// fail with retryable outcomes (River's MaxAttempts). Default 3.
	TaskAttempts int `json:"task_attempts,omitempty"`
	// Workers is how many tasks run at once (River's MaxWorkers). Default 8.
	Workers int `json:"workers,omitempty"`
	// MailingSlice is how long one run of a task hands out numbers before
	// the job is snoozed and resumed. Default 30s.
	MailingSlice sms.Duration `json:"mailing_slice,omitempty"`
	// ResendInterrupted makes a task resend the messages that were in flight
	// when the service stopped abruptly (at-least-once; they may arrive
	// twice). By default they are marked failed with kind ambiguous instead.
	ResendInterrupted bool `json:"resend_interrupted,omitempty"`
	// DefaultWait is how long POST /sending and /mailing wait for the result
	// when the request gives no "wait". Default 3s.
	DefaultWait sms.Duration `json:"default_wait,omitempty"`
	// MaxWait caps a request's "wait". Default 30s.
	MaxWait sms.Duration `json:"max_wait,omitempty"`
	// MaxBodyBytes caps a request body; larger ones get 413. Default 1 MiB.
	MaxBodyBytes int64 `json:"max_body_bytes,omitempty"`
	// MaxMailing caps the numbers of one mailing. Default 10000.
	MaxMailing int `json:"max_mailing,omitempty"`
	// MaxTextBytes caps a message text in bytes. Default 4096.
	MaxTextBytes int `json:"max_text_bytes,omitempty"`
	// PollInterval is River's FetchPollInterval, how often idle workers
	// look for due jobs. New tasks wake the workers at once; the poll is
	// the backstop, and what picks up a task's retry. Default 1s.
	PollInterval sms.Duration `json:"poll_interval,omitempty"`
	// ShutdownTimeout bounds a graceful stop: running sends get this long
	// to finish before they are cancelled. Default 30s.
	ShutdownTimeout sms.Duration `json:"shutdown_timeout,omitempty"`

	// PublicURL is the base URL (http or https) at which gateways reach the
	// service. When set, every provider that can ask for delivery reports
	// does, to PublicURL + "/reports/<provider name>", and the service
	// serves those callbacks. Empty means no reports.
	PublicURL string `json:"public_url,omitempty"`
	// DeliveryTimeout is how long a report is waited for: after it a
	// pending delivery becomes unknown. Default 48h.
	DeliveryTimeout sms.Duration `json:"delivery_timeout,omitempty"`
	// CallbackSecret signs the events posted to a request's callback_url
	// (header X-SMS-Signature: sha256=<hex HMAC-SHA256 of the body>).
	// Requests may give a callback_url only when it is set. The
	// environment variable SMSGATEWAY_CALLBACK_SECRET sets it too.
	CallbackSecret string `json:"callback_secret,omitempty"`
	// CallbackRetryFor is how long an event is retried while its receiver
	// fails or is down, across restarts. Default 24h.
	CallbackRetryFor sms.Duration `json:"callback_retry_for,omitempty"`
	// CallbackPrivate lets callback URLs reach loopback, private,
	// link-local and other non-public addresses. By default they are
	// refused, so that a caller cannot make the service call into its own
	// network.
	CallbackPrivate bool `json:"callback_private,omitempty"`
}

// LoadConfig reads a configuration file. An empty path means no file: the
// defaults. Unknown fields are errors.
func LoadConfig(path string) (*Config, error) {
	cfg := &Config{}
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(cfg); err != nil {
			return nil, fmt.Errorf("config %s: %w", path, err)
		}
	}
	if secret := os.Getenv("SMSGATEWAY_CALLBACK_SECRET"); secret != "" {
		cfg.CallbackSecret = secret
	}
	if keys := os.Getenv("SMSGATEWAY_API_KEYS"); keys != "" {
		for _, k := range strings.Split(keys, ",") {
			if k = strings.TrimSpace(k); k != "" {
				cfg.APIKeys = append(cfg.APIKeys, k)
			}
		}
	}
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// setDefaults fills zero fields and checks the rest.
func (c *Config) setDefaults() error {
	if len(c.Providers) == 0 {
		c.Providers = map[string]ProviderConfig{"log": {Type: "log"}}
	}
	def := func(d *sms.Duration, v time.Duration) {
		if *d == 0 {
			*d = sms.Duration(v)
		}
	}
	def(&c.SendTimeout, 30*time.Second)
	def(&c.MailingSlice, 30*time.Second)
	def(&c.DefaultWait, 3*time.Second)
	def(&c.MaxWait, 30*time.Second)
	def(&c.PollInterval, time.Second)
	def(&c.ShutdownTimeout, 30*time.Second)
	def(&c.DeliveryTimeout, 48*time.Hour)
	def(&c.CallbackRetryFor, 24*time.Hour)
	defInt := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	defInt(&c.TaskAttempts, 3)
	defInt(&c.Workers, 8)
	defInt(&c.MaxMailing, 10000)
	defInt(&c.MaxTextBytes, 4096)
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 1 << 20
	}
	var errs []error
	for name, v := range map[string]sms.Duration{
		"send_timeout": c.SendTimeout, "mailing_slice": c.MailingSlice, "default_wait": c.DefaultWait,
		"max_wait": c.MaxWait, "poll_interval": c.PollInterval, "shutdown_timeout": c.ShutdownTimeout,
		"delivery_timeout": c.DeliveryTimeout, "callback_retry_for": c.CallbackRetryFor,
	} {
		if v < 0 {
			errs = append(errs, fmt.Errorf("%s: negative duration %v", name, time.Duration(v)))
		}
	}
	if time.Duration(c.PollInterval) < time.Millisecond {
		errs = append(errs, fmt.Errorf("poll_interval: at least 1ms, got %v", time.Duration(c.PollInterval)))
	}
	if c.DefaultWait > c.MaxWait {
		errs = append(errs, fmt.Errorf("default_wait %v exceeds max_wait %v", time.Duration(c.DefaultWait), time.Duration(c.MaxWait)))
	}
	if c.TaskAttempts < 1 || c.Workers < 1 || c.MaxMailing < 1 || c.MaxTextBytes < 1 || c.MaxBodyBytes < 1 {
		errs = append(errs, errors.New("task_attempts, workers, max_mailing, max_text_bytes and max_body_bytes must be positive"))
	}
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			errs = append(errs, fmt.Errorf("public_url: %q is not an absolute http(s) URL without a query", c.PublicURL))
		}
		c.PublicURL = strings.TrimSuffix(c.PublicURL, "/")
	}
	for name, p := range c.Providers {
		if name == "" {
			errs = append(errs, errors.New("providers: empty name"))
		}
		if p.RateLimit < 0 || p.Burst < 0 || p.Concurrency < 0 {
			errs = append(errs, fmt.Errorf("provider %q: negative rate_limit, burst or concurrency", name))
		}
	}
	return errors.Join(errs...)
}

// limited reports whether some provider has a rate limit.
func (c *Config) limited() bool {
	for _, p := range c.Providers {
		if p.RateLimit > 0 {
			return true
		}
	}
	return false
}

// names returns the provider names, sorted.
func (c *Config) names() []string {
	names := make([]string, 0, len(c.Providers))
	for n := range c.Providers {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// retryFor returns the retry policy of a provider: its own, or the
// configuration's.
func (c *Config) retryFor(pc ProviderConfig) sms.RetryPolicy {
	if pc.Retry != nil {
		return *pc.Retry
	}
	return c.Retry
}

// jobTimeout is the longest one run of a task may take: the slice, plus the
// messages then in flight, each with every attempt and wait the most
// patient provider's retry policy allows, plus a margin.
func (c *Config) jobTimeout() time.Duration {
	longest := c.Retry.MaxDuration(time.Duration(c.SendTimeout))
	for _, pc := range c.Providers {
		longest = max(longest, c.retryFor(pc).MaxDuration(time.Duration(c.SendTimeout)))
	}
	return time.Duration(c.MailingSlice) + longest + 5*time.Second
}

package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/smsgateway/sms"
)

// ProviderConfig configures one named provider (the original's "address").
type ProviderConfig struct {
	// Type selects the constructor: one of ProviderTypes.
	Type string `json:"type"`
	// RateLimit is the most attempts per second through this provider,
	// retries included; 0 means no limit.
	RateLimit float64 `json:"rate_limit,omitempty"`
	// Burst is the rate limiter's burst; 0 means max(1, RateLimit/10).
	Burst int `json:"burst,omitempty"`
	// Concurrency is how many messages of one mailing are sent at once; 0
	// means sms.DefaultConcurrency.
	Concurrency int `json:"concurrency,omitempty"`
	// Retry, when set, replaces the configuration's Retry for this
	// provider.
	Retry *RetryConfig `json:"retry,omitempty"`
	// Options are the type's own settings, passed to its constructor.
	Options json.RawMessage `json:"options,omitempty"`
}

// ProviderFactory builds the provider of one type from its options (the
// raw JSON of ProviderConfig.Options; empty when none were given).
type ProviderFactory func(env ProviderEnv, options json.RawMessage) (sms.Provider, error)

// ProviderEnv is what a ProviderFactory may use.
type ProviderEnv struct {
	// Name is the provider's configured name.
	Name string
	// Log is the service's logger.
	Log *slog.Logger
	// Provider returns another configured provider by name, built without
	// the service's wrapper; it fails on unknown names and cycles.
	Provider func(name string) (sms.Provider, error)
}

// providerTypes maps a ProviderConfig.Type to its constructor. Adding a type
// is adding one entry.
var providerTypes = map[string]ProviderFactory{
	"log":       newLogProvider,
	"mock":      newMockProvider,
	"failover":  newFailoverProvider,
	"routing":   newRoutingProvider,
	"httpquery": newHTTPQueryProvider,
}

// ProviderTypes returns the names of the provider types, sorted.
func ProviderTypes() []string {
	names := make([]string, 0, len(providerTypes))
	for n := range providerTypes {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// decodeOptions decodes a type's options strictly: an unknown field is an
// error, so a typo does not silently fall back to a default.
func decodeOptions(raw json.RawMessage, v any) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("options: %w", err)
	}
	return nil
}

// buildProviders constructs every configured provider. Each gets its own
// sms.Client (retries, rate limit, concurrency) over a wrapper that records
// every attempt in the message log before the provider sees it.
func buildProviders(cfg *Config, st *store, hooks func(name string) sms.Hooks, log *slog.Logger) (map[string]*provider, error) {
	raw := make(map[string]sms.Provider)
	building := make(map[string]bool)
	var build func(name string) (sms.Provider, error)
	build = func(name string) (sms.Provider, error) {
		if p, ok := raw[name]; ok {
			return p, nil
		}
		pc, ok := cfg.Providers[name]
		if !ok {
			return nil, fmt.Errorf("unknown provider %q", name)
		}
		if building[name] {
			return nil, fmt.Errorf("provider %q refers to itself", name)
		}
		building[name] = true
		f, ok := providerTypes[pc.Type]
		if !ok {
			return nil, fmt.Errorf("provider %q: unknown type %q (known: %s)", name, pc.Type, strings.Join(ProviderTypes(), ", "))
		}
		p, err := f(ProviderEnv{Name: name, Log: log, Provider: build}, pc.Options)
		if err != nil {
			return nil, fmt.Errorf("provider %q: %w", name, err)
		}
		raw[name] = p
		return p, nil
	}
	out := make(map[string]*provider, len(cfg.Providers))
	fail := func(err error) (map[string]*provider, error) {
		for _, p := range out {
			_ = p.client.Close()
		}
		return nil, err
	}
	for _, name := range cfg.names() {
		pc := cfg.Providers[name]
		p, err := build(name)
		if err != nil {
			return fail(err)
		}
		opts := []sms.Option{
			sms.WithRetry(cfg.retryFor(pc)),
			sms.WithLogger(log.With("provider", name)),
			sms.WithHooks(hooks(name)),
		}
		if pc.RateLimit > 0 {
			burst := pc.Burst
			if burst <= 0 {
				burst = max(1, int(pc.RateLimit/10))
			}
			opts = append(opts, sms.WithRateLimit(rate.Limit(pc.RateLimit), burst))
		}
		if pc.Concurrency > 0 {
			opts = append(opts, sms.WithConcurrency(pc.Concurrency))
		}
		c, err := sms.New(&marking{p: p, store: st, timeout: cfg.SendTimeout.D()}, opts...)
		if err != nil {
			return fail(fmt.Errorf("provider %q: %w", name, err))
		}
		out[name] = &provider{name: name, client: c}
	}
	return out, nil
}

// provider is one configured provider, ready to send.
type provider struct {
	name   string
	client *sms.Client
}

// marking wraps a Provider: before each attempt it marks the message as in
// flight in the message log (so a crash cannot make it be sent again
// unnoticed), and it bounds each attempt by the send timeout.
type marking struct {
	p       sms.Provider
	store   *store
	timeout time.Duration
}

func (m *marking) Send(ctx context.Context, msg sms.Message) (sms.Receipt, error) {
	if taskID, ok := taskFrom(ctx); ok {
		if err := m.store.markSending(context.WithoutCancel(ctx), taskID, msg.To); err != nil {
			// Nothing reached the gateway: safe to retry.
			return sms.Receipt{}, &sms.Error{Kind: sms.KindTemporary, Err: fmt.Errorf("message log: %w", err)}
		}
	}
	if m.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, m.timeout)
		defer cancel()
	}
	return m.p.Send(ctx, msg)
}

// Idempotent passes on the wrapped provider's capability.
func (m *marking) Idempotent() bool {
	ip, ok := m.p.(sms.IdempotentProvider)
	return ok && ip.Idempotent()
}

// Close closes the wrapped provider when it is an io.Closer.
func (m *marking) Close() error {
	if c, ok := m.p.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// closeProviders closes every provider's Client.
func closeProviders(ps map[string]*provider) error {
	var errs []error
	for _, p := range ps {
		errs = append(errs, p.client.Close())
	}
	return errors.Join(errs...)
}

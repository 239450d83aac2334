package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/smsgateway/sms"
	"github.com/smsgateway/sms/internal/gateway/store"
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
	Retry *sms.RetryPolicy `json:"retry,omitempty"`
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

// builtinTypes are the provider types every service knows; Options.Types
// adds more. Adding a built-in type is adding one entry.
var builtinTypes = map[string]ProviderFactory{
	"log":       newLogProvider,
	"mock":      newMockProvider,
	"failover":  newFailoverProvider,
	"routing":   newRoutingProvider,
	"httpquery": newHTTPQueryProvider,
}

// decodeOptions decodes a type's options strictly: an unknown field is an
// error, so a typo does not silently fall back to a default.
func decodeOptions(raw json.RawMessage, v any) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("options: %w", err)
	}
	return nil
}

// provider is one configured provider, ready to send: its own sms.Client
// (retries, rate limit, concurrency, attempt timeout).
type provider struct {
	client *sms.Client
	// idempotent: the gateway deduplicates by message ID, so a message
	// interrupted by a crash can be sent again safely.
	idempotent bool
}

// providerSet builds the configured providers in turn. Combining types
// (failover, routing) build the providers they name through it.
type providerSet struct {
	cfg      *Config
	types    map[string]ProviderFactory
	log      *slog.Logger
	raw      map[string]sms.Provider
	building map[string]bool
}

// build returns the configured provider name without the service's
// wrapper, building it on first use.
func (b *providerSet) build(name string) (sms.Provider, error) {
	if p, ok := b.raw[name]; ok {
		return p, nil
	}
	pc, ok := b.cfg.Providers[name]
	if !ok {
		return nil, fmt.Errorf("unknown provider %q", name)
	}
	if b.building[name] {
		return nil, fmt.Errorf("provider %q refers to itself", name)
	}
	b.building[name] = true
	f, ok := b.types[pc.Type]
	if !ok {
		return nil, fmt.Errorf("provider %q: unknown type %q (known: %s)", name, pc.Type, strings.Join(slices.Sorted(maps.Keys(b.types)), ", "))
	}
	p, err := f(ProviderEnv{Name: name, Log: b.log, Provider: b.build}, pc.Options)
	if err != nil {
		return nil, fmt.Errorf("provider %q: %w", name, err)
	}
	b.raw[name] = p
	return p, nil
}

// buildProviders constructs every configured provider with the factories
// of types. Each gets its own sms.Client over a marking wrapper that marks
// the message's row in flight before every attempt, and that asks for
// delivery reports when rep has a handler for it (rep may be nil).
func buildProviders(cfg *Config, types map[string]ProviderFactory, st rowMarker, lim *rateLimits, rep *reports, hooks func(name string) sms.Hooks, log *slog.Logger) (map[string]*provider, error) {
	b := &providerSet{cfg: cfg, types: types, log: log, raw: map[string]sms.Provider{}, building: map[string]bool{}}
	out := make(map[string]*provider, len(cfg.Providers))
	for _, name := range cfg.names() {
		p, err := b.build(name)
		var opts []sms.Option
		if err == nil {
			opts, err = clientOptions(cfg, name, lim, hooks(name), log.With("provider", name))
		}
		var h *sms.DeliveryHandler
		if err == nil {
			h, err = rep.handlerFor(name, p)
		}
		if h != nil {
			opts = append(opts, sms.WithDeliveryReports(h))
		}
		var c *sms.Client
		if err == nil {
			slots := b.cfg.Providers[name].Concurrency
			if slots <= 0 {
				slots = sms.DefaultConcurrency
			}
			c, err = sms.New(&marking{p: p, store: st, slots: make(chan struct{}, slots)}, opts...)
		}
		if err != nil {
			_ = closeProviders(out)
			return nil, fmt.Errorf("provider %q: %w", name, err)
		}
		ip, ok := p.(sms.IdempotentProvider)
		out[name] = &provider{client: c, idempotent: ok && ip.Idempotent()}
	}
	return out, nil
}

// clientOptions are the sms.Client options of the configured provider
// name.
func clientOptions(cfg *Config, name string, lim *rateLimits, hooks sms.Hooks, log *slog.Logger) ([]sms.Option, error) {
	pc := cfg.Providers[name]
	opts := []sms.Option{
		sms.WithRetry(cfg.retryFor(pc)),
		sms.WithAttemptTimeout(time.Duration(cfg.SendTimeout)),
		sms.WithLogger(log),
		sms.WithHooks(hooks),
	}
	if pc.RateLimit > 0 {
		burst := pc.Burst
		if burst <= 0 {
			burst = max(1, int(pc.RateLimit/10))
		}
		l, err := lim.limiter(name, rate.Limit(pc.RateLimit), burst)
		if err != nil {
			return nil, err
		}
		opts = append(opts, sms.WithLimiter(l))
	}
	if pc.Concurrency > 0 {
		opts = append(opts, sms.WithConcurrency(pc.Concurrency))
	}
	return opts, nil
}

// rowMarker marks a message row as in flight.
type rowMarker interface {
	MarkSending(ctx context.Context, taskID string, index int, report bool, run string) error
}

// marking wraps a Provider: before each attempt it marks the message's row
// (found by its ID, store.MessageKey) as in flight, and counts the
// attempt, so that a crash cannot make it be sent again unnoticed. The
// marks of concurrent sends share a commit (see store.MarkSending).
//
// It also bounds the provider's sends in flight in this process to the
// configured concurrency, whatever the number of jobs (slices of tasks)
// running at once: each Client's own bound is per mailing stream, and one
// process runs up to Config.Workers of them.
type marking struct {
	p     sms.Provider
	store rowMarker
	slots chan struct{}
}

// markTimeout bounds the write that marks a row. It runs without the
// send's cancellation: a cancelled send is not attempted, but its mark is
// not left half-way either.
const markTimeout = 10 * time.Second

func (m *marking) Send(ctx context.Context, msg sms.Message) (sms.Receipt, error) {
	select {
	case m.slots <- struct{}{}:
		defer func() { <-m.slots }()
	case <-ctx.Done():
		return sms.Receipt{}, &sms.Error{Kind: sms.KindTemporary, Err: ctx.Err()}
	}
	if taskID, index, ok := store.ParseMessageKey(msg.ID); ok {
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), markTimeout)
		err := m.store.MarkSending(wctx, taskID, index, msg.ReportURL != "", runOf(ctx))
		cancel()
		if errors.Is(err, store.ErrNotClaimed) {
			// Another run has it (see fillOutcome): not ours to send.
			return sms.Receipt{}, &sms.Error{Kind: sms.KindRejected, Err: err}
		}
		if err != nil {
			// Nothing reached the gateway: safe to retry.
			return sms.Receipt{}, &sms.Error{Kind: sms.KindTemporary, Err: fmt.Errorf("message log: %w", err)}
		}
	}
	if err := ctx.Err(); err != nil {
		return sms.Receipt{}, &sms.Error{Kind: sms.KindTemporary, Err: err}
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

// runKey is the context key of a run's ID (see withRun).
type runKey struct{}

// withRun returns ctx carrying the ID of one run of a job, with which the
// run marks the rows it sends (store.MarkSending).
func withRun(ctx context.Context, run string) context.Context {
	return context.WithValue(ctx, runKey{}, run)
}

// runOf returns the run ID ctx carries, or "".
func runOf(ctx context.Context) string {
	run, _ := ctx.Value(runKey{}).(string)
	return run
}

// closeProviders closes every provider's Client.
func closeProviders(ps map[string]*provider) error {
	var errs []error
	for _, p := range ps {
		if p.client != nil {
			errs = append(errs, p.client.Close())
		}
	}
	return errors.Join(errs...)
}

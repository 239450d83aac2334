package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/smsgateway/sms"
	"github.com/smsgateway/sms/providers/failover"
	"github.com/smsgateway/sms/providers/mock"
	"github.com/smsgateway/sms/providers/routing"
)

// This file holds one constructor per provider type besides "log" (see
// logprovider.go). Each decodes its options strictly and returns the
// library's provider; register a new type in providerTypes.

// kindByName maps the names of sms.Kind ("rejected", ...) back to kinds.
func kindByName(name string) (sms.Kind, error) {
	for k := sms.KindAmbiguous; k <= sms.KindInvalid; k++ {
		if k.String() == name {
			return k, nil
		}
	}
	return 0, fmt.Errorf("unknown kind %q", name)
}

// mockOptions are the options of the "mock" type: providers/mock, an
// in-memory gateway for demos, load tests and client tests. It keeps every
// message in memory, so it is not for long-running production use.
type mockOptions struct {
	// Latency is how long each call takes.
	Latency Duration `json:"latency,omitempty"`
	// Fail maps normalized numbers to the kind of failure they get
	// ("rejected", "temporary", "throttled", "fatal", "ambiguous").
	Fail map[string]string `json:"fail,omitempty"`
	// FailEvery fails every k-th call with FailEveryKind.
	FailEvery     int    `json:"fail_every,omitempty"`
	FailEveryKind string `json:"fail_every_kind,omitempty"`
	// Idempotent makes the mock deduplicate by message ID.
	Idempotent bool `json:"idempotent,omitempty"`
}

func newMockProvider(_ ProviderEnv, raw json.RawMessage) (sms.Provider, error) {
	var o mockOptions
	if err := decodeOptions(raw, &o); err != nil {
		return nil, err
	}
	var opts []mock.Option
	if o.Latency < 0 {
		return nil, errors.New("latency: negative")
	}
	if o.Latency > 0 {
		opts = append(opts, mock.Latency(o.Latency.D()))
	}
	for _, n := range sortedKeys(o.Fail) {
		k, err := kindByName(o.Fail[n])
		if err != nil {
			return nil, fmt.Errorf("fail[%s]: %w", n, err)
		}
		opts = append(opts, mock.FailNumber(n, mock.Err(k)))
	}
	if o.FailEvery != 0 {
		if o.FailEvery < 1 {
			return nil, errors.New("fail_every: must be at least 1")
		}
		k, err := kindByName(o.FailEveryKind)
		if err != nil {
			return nil, fmt.Errorf("fail_every_kind: %w", err)
		}
		opts = append(opts, mock.FailEvery(o.FailEvery, mock.Err(k)))
	}
	if o.Idempotent {
		opts = append(opts, mock.Idempotent())
	}
	return mock.New(opts...), nil
}

// failoverOptions are the options of the "failover" type: other configured
// providers, tried in order.
type failoverOptions struct {
	Vendors []string `json:"vendors"`
}

func newFailoverProvider(env ProviderEnv, raw json.RawMessage) (sms.Provider, error) {
	var o failoverOptions
	if err := decodeOptions(raw, &o); err != nil {
		return nil, err
	}
	vendors := make([]failover.Vendor, 0, len(o.Vendors))
	for _, name := range o.Vendors {
		v, err := vendor(env, name)
		if err != nil {
			return nil, err
		}
		vendors = append(vendors, v)
	}
	return failover.New(vendors...)
}

// routingOptions are the options of the "routing" type: number prefixes
// mapped to other configured providers.
type routingOptions struct {
	// Routes maps a prefix ("+7", "8800") to a provider name.
	Routes map[string]string `json:"routes"`
	// Default takes numbers no route matches; empty means they fail.
	Default string `json:"default,omitempty"`
}

func newRoutingProvider(env ProviderEnv, raw json.RawMessage) (sms.Provider, error) {
	var o routingOptions
	if err := decodeOptions(raw, &o); err != nil {
		return nil, err
	}
	var cfg routing.Config
	for _, prefix := range sortedKeys(o.Routes) {
		v, err := vendor(env, o.Routes[prefix])
		if err != nil {
			return nil, err
		}
		cfg.Routes = append(cfg.Routes, routing.Route{Prefix: prefix, Vendor: v})
	}
	if o.Default != "" {
		v, err := vendor(env, o.Default)
		if err != nil {
			return nil, err
		}
		cfg.Default = &v
	}
	return routing.New(cfg)
}

// vendor builds another configured provider for a combining type.
func vendor(env ProviderEnv, name string) (failover.Vendor, error) {
	if strings.TrimSpace(name) == "" {
		return failover.Vendor{}, errors.New("empty vendor name")
	}
	p, err := env.Provider(name)
	if err != nil {
		return failover.Vendor{}, err
	}
	return failover.Vendor{Name: name, Provider: p}, nil
}

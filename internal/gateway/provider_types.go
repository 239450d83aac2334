package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/smsgateway/sms"
	"github.com/smsgateway/sms/providers/failover"
	"github.com/smsgateway/sms/providers/httpquery"
	"github.com/smsgateway/sms/providers/mock"
	"github.com/smsgateway/sms/providers/routing"
)

// This file holds one constructor per provider type besides "log" (see
// logprovider.go). Each decodes its options strictly and returns the
// library's provider; register a new type in providerTypes.

// mockOptions are the options of the "mock" type: providers/mock, an
// in-memory gateway for demos, load tests and client tests. It keeps every
// message in memory, so it is not for long-running production use.
type mockOptions struct {
	// Latency is how long each call takes.
	Latency sms.Duration `json:"latency,omitempty"`
	// Fail maps normalized numbers to the kind of failure they get
	// ("rejected", "temporary", "throttled", "fatal", "ambiguous").
	Fail map[string]sms.Kind `json:"fail,omitempty"`
	// FailEvery fails every k-th call with FailEveryKind.
	FailEvery     int       `json:"fail_every,omitempty"`
	FailEveryKind *sms.Kind `json:"fail_every_kind,omitempty"`
	// Idempotent makes the mock deduplicate by message ID.
	Idempotent bool `json:"idempotent,omitempty"`
	// Reports scripts delivery reports (with the service's public_url):
	// by normalized number, or "*" for every other number, the statuses
	// reported in turn, the first after After.
	Reports map[string]mockReports `json:"reports,omitempty"`
}

// mockReports are the reports the "mock" type sends for a number.
type mockReports struct {
	After    sms.Duration         `json:"after,omitempty"`
	Statuses []sms.DeliveryStatus `json:"statuses"`
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
		opts = append(opts, mock.Latency(time.Duration(o.Latency)))
	}
	for _, n := range slices.Sorted(maps.Keys(o.Fail)) {
		opts = append(opts, mock.FailNumber(n, mock.Err(o.Fail[n])))
	}
	if o.FailEvery != 0 {
		if o.FailEvery < 1 || o.FailEveryKind == nil {
			return nil, errors.New("fail_every: must be at least 1, with fail_every_kind")
		}
		opts = append(opts, mock.FailEvery(o.FailEvery, mock.Err(*o.FailEveryKind)))
	}
	if o.Idempotent {
		opts = append(opts, mock.Idempotent())
	}
	for _, n := range slices.Sorted(maps.Keys(o.Reports)) {
		r := o.Reports[n]
		if r.After < 0 || len(r.Statuses) == 0 || slices.ContainsFunc(r.Statuses, func(s sms.DeliveryStatus) bool { return !s.Known() }) {
			return nil, fmt.Errorf("reports[%q]: give a non-negative after and statuses among %s", n, "accepted, buffered, delivered, undelivered, expired, rejected, unknown")
		}
		if n == "*" {
			opts = append(opts, mock.ReportAll(time.Duration(r.After), r.Statuses...))
		} else {
			opts = append(opts, mock.Report(n, time.Duration(r.After), r.Statuses...))
		}
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
	for _, prefix := range slices.Sorted(maps.Keys(o.Routes)) {
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

// httpqueryOptions are the options of the "httpquery" type: any gateway
// whose API is a URL with query or form parameters (providers/httpquery).
// They are httpquery.Config's fields ("url", "params", "outcomes", ...),
// plus "preset": "kannel", "jasmin", "smsru", "twilio", "vonage" or
// "original", which starts from that gateway's Config built from "url",
// "username" and "password" ("api_id" for smsru; the Account SID and auth
// token for twilio; the API key and secret for vonage; "url" may be left
// out for smsru, twilio and vonage, whose public endpoints are the
// default); the other fields given then adjust it ("params" are added to
// the preset's).
type httpqueryOptions struct {
	Preset string `json:"preset,omitempty"`
	APIID  string `json:"api_id,omitempty"`
	httpquery.Config
}

// httpqueryPresets build a preset's Config and name the option fields it
// consumed.
var httpqueryPresets = map[string]func(o httpqueryOptions) (httpquery.Config, []string){
	"kannel": func(o httpqueryOptions) (httpquery.Config, []string) {
		return httpquery.Kannel(o.URL, o.Username, o.Password), []string{"username", "password"}
	},
	"jasmin": func(o httpqueryOptions) (httpquery.Config, []string) {
		return httpquery.Jasmin(o.URL, o.Username, o.Password), []string{"username", "password"}
	},
	"smsru": func(o httpqueryOptions) (httpquery.Config, []string) {
		cfg := httpquery.SMSRu(o.APIID)
		if o.URL != "" {
			cfg.URL = o.URL
		}
		return cfg, nil
	},
	"twilio": func(o httpqueryOptions) (httpquery.Config, []string) {
		cfg := httpquery.Twilio(o.Username, o.Password)
		if o.URL != "" {
			cfg.URL = o.URL
		}
		return cfg, []string{"username", "password"}
	},
	"vonage": func(o httpqueryOptions) (httpquery.Config, []string) {
		cfg := httpquery.Vonage(o.Username, o.Password)
		if o.URL != "" {
			cfg.URL = o.URL
		}
		return cfg, []string{"username", "password"}
	},
	"original": func(o httpqueryOptions) (httpquery.Config, []string) {
		return httpquery.Original(o.URL), nil
	},
}

func newHTTPQueryProvider(env ProviderEnv, raw json.RawMessage) (sms.Provider, error) {
	var o httpqueryOptions
	if err := decodeOptions(raw, &o); err != nil {
		return nil, err
	}
	cfg := o.Config
	if o.Preset != "" {
		preset, ok := httpqueryPresets[o.Preset]
		if !ok {
			return nil, fmt.Errorf("preset: unknown %q (known: %s)", o.Preset, strings.Join(slices.Sorted(maps.Keys(httpqueryPresets)), ", "))
		}
		var consumed []string
		cfg, consumed = preset(o)
		// The fields given adjust the preset.
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(raw, &fields); err != nil {
			return nil, err
		}
		for _, k := range append(consumed, "preset", "api_id") {
			delete(fields, k)
		}
		rest, err := json.Marshal(fields)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(rest, &cfg); err != nil {
			return nil, err
		}
	} else if o.APIID != "" {
		return nil, errors.New("api_id: only with the smsru preset")
	}
	cfg.Logger = env.Log
	return httpquery.New(cfg)
}

package routing_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/smsgateway/sms"
	"github.com/smsgateway/sms/providers/failover"
	"github.com/smsgateway/sms/providers/internal/vendortest"
	"github.com/smsgateway/sms/providers/routing"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// recorder is a fake vendor: it records the numbers it was given and answers
// err (nil: accepted, with its name as MessageID).
type recorder struct {
	name     string
	err      error
	idem     bool
	closeErr error

	mu     sync.Mutex
	got    []string
	closes int
}

func (r *recorder) Send(_ context.Context, msg sms.Message) (sms.Receipt, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, msg.To)
	if r.err != nil {
		return sms.Receipt{}, r.err
	}
	return sms.Receipt{MessageID: r.name}, nil
}

func (r *recorder) Idempotent() bool { return r.idem }

func (r *recorder) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closes++
	return r.closeErr
}

func (r *recorder) numbers() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got...)
}

func vendor(r *recorder) failover.Vendor { return failover.Vendor{Name: r.name, Provider: r} }

// plan builds the routes of most tests: +7 (ru), +79 (ru-mobile), +1 (us)
// and 8800 (tollfree), with intl as the default when withDefault.
func plan(withDefault bool) (routing.Config, map[string]*recorder) {
	rs := map[string]*recorder{}
	for _, name := range []string{"ru", "ru-mobile", "us", "tollfree", "intl"} {
		rs[name] = &recorder{name: name}
	}
	cfg := routing.Config{Routes: []routing.Route{
		{Prefix: "+79", Vendor: vendor(rs["ru-mobile"])},
		{Prefix: "+7", Vendor: vendor(rs["ru"])},
		{Prefix: "+1", Vendor: vendor(rs["us"])},
		{Prefix: "8800", Vendor: vendor(rs["tollfree"])},
	}}
	if withDefault {
		d := vendor(rs["intl"])
		cfg.Default = &d
	}
	return cfg, rs
}

func TestRoute(t *testing.T) {
	tests := []struct {
		number     string
		noDefault  bool
		wantVendor string // empty: no route
	}{
		{number: "+79161234567", wantVendor: "ru-mobile"},
		{number: "+74951234567", wantVendor: "ru"},
		{number: "+7", wantVendor: "ru"},
		{number: "+15550100000", wantVendor: "us"},
		{number: "88005553535", wantVendor: "tollfree"},
		{number: "89161234567", wantVendor: "intl"},
		{number: "+4930123456", wantVendor: "intl"},
		{number: "79161234567", wantVendor: "intl"},
		{number: "+4930123456", noDefault: true},
		{number: "", noDefault: true},
		{number: "+79161234567", noDefault: true, wantVendor: "ru-mobile"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s default=%t", tt.number, !tt.noDefault), func(t *testing.T) {
			cfg, rs := plan(!tt.noDefault)
			p, err := routing.New(cfg)
			require.NoError(t, err)

			rc, err := p.Send(context.Background(), sms.Message{To: tt.number, Text: "hi"})
			if tt.wantVendor == "" {
				assert.ErrorIs(t, err, routing.ErrNoRoute)
				assert.ErrorIs(t, err, sms.ErrRejected)
				var e *sms.Error
				require.ErrorAs(t, err, &e)
				assert.Equal(t, sms.KindRejected, e.Kind)
				assert.Zero(t, rc)
				for _, r := range rs {
					assert.Empty(t, r.numbers(), "no vendor called")
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantVendor, rc.Provider)
			assert.Equal(t, tt.wantVendor, rc.MessageID)
			for name, r := range rs {
				if name == tt.wantVendor {
					assert.Equal(t, []string{tt.number}, r.numbers())
				} else {
					assert.Empty(t, r.numbers(), "vendor %s", name)
				}
			}
		})
	}
}

// TestVendorOutcome checks that a vendor's failure keeps its kind, is tried
// once, and names the vendor.
func TestVendorOutcome(t *testing.T) {
	cause := errors.New("cause")
	for _, kind := range []sms.Kind{sms.KindAmbiguous, sms.KindRejected, sms.KindTemporary, sms.KindThrottled, sms.KindFatal} {
		t.Run(kind.String(), func(t *testing.T) {
			cfg, rs := plan(true)
			rs["ru-mobile"].err = &sms.Error{Kind: kind, Code: "c", RetryAfter: time.Second, Err: cause}
			p, err := routing.New(cfg)
			require.NoError(t, err)

			rc, err := p.Send(context.Background(), sms.Message{To: "+79161234567", Text: "hi"})
			var e *sms.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, kind, e.Kind)
			assert.Equal(t, "c", e.Code)
			assert.Equal(t, time.Second, e.RetryAfter)
			assert.ErrorIs(t, err, cause)
			var ve *failover.VendorError
			require.ErrorAs(t, err, &ve)
			assert.Equal(t, "ru-mobile", ve.Vendor)
			assert.Equal(t, "ru-mobile", rc.Provider)
			assert.Len(t, rs["ru-mobile"].numbers(), 1)
			assert.Empty(t, rs["ru"].numbers(), "no other vendor is tried")
			assert.Empty(t, rs["intl"].numbers(), "not even the default")
		})
	}
}

func TestNew(t *testing.T) {
	a := &recorder{name: "a"}
	b := &recorder{name: "b"}
	route := func(prefix string, v failover.Vendor) routing.Route { return routing.Route{Prefix: prefix, Vendor: v} }
	tests := []struct {
		name    string
		cfg     routing.Config
		wantErr bool
	}{
		{name: "nothing", cfg: routing.Config{}, wantErr: true},
		{name: "default only", cfg: routing.Config{Default: &failover.Vendor{Name: "a", Provider: a}}},
		{name: "plus alone", cfg: routing.Config{Routes: []routing.Route{route("+", vendor(a))}}},
		{name: "empty prefix", cfg: routing.Config{Routes: []routing.Route{route("", vendor(a))}}, wantErr: true},
		{name: "space in prefix", cfg: routing.Config{Routes: []routing.Route{route("+7 9", vendor(a))}}, wantErr: true},
		{name: "letter in prefix", cfg: routing.Config{Routes: []routing.Route{route("+7a", vendor(a))}}, wantErr: true},
		{name: "two pluses", cfg: routing.Config{Routes: []routing.Route{route("++7", vendor(a))}}, wantErr: true},
		{name: "duplicate prefix", cfg: routing.Config{Routes: []routing.Route{route("+7", vendor(a)), route("+7", vendor(b))}}, wantErr: true},
		{name: "empty vendor name", cfg: routing.Config{Routes: []routing.Route{route("+7", failover.Vendor{Provider: a})}}, wantErr: true},
		{name: "nil provider", cfg: routing.Config{Routes: []routing.Route{route("+7", failover.Vendor{Name: "a"})}}, wantErr: true},
		{name: "nil default provider", cfg: routing.Config{Default: &failover.Vendor{Name: "a"}}, wantErr: true},
		{name: "one name, two providers", cfg: routing.Config{Routes: []routing.Route{
			route("+7", failover.Vendor{Name: "x", Provider: a}), route("+1", failover.Vendor{Name: "x", Provider: b})}}, wantErr: true},
		{name: "default reuses a route's name for another provider", cfg: routing.Config{
			Routes: []routing.Route{route("+7", failover.Vendor{Name: "x", Provider: a})}, Default: &failover.Vendor{Name: "x", Provider: b}}, wantErr: true},
		{name: "one vendor, two routes and default", cfg: routing.Config{
			Routes: []routing.Route{route("+7", vendor(a)), route("+1", vendor(a))}, Default: &failover.Vendor{Name: "a", Provider: a}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := routing.New(tt.cfg)
			if tt.wantErr {
				assert.Error(t, err)
				assert.Nil(t, p)
				return
			}
			require.NoError(t, err)
			assert.NotNil(t, p)
		})
	}
}

func TestIdempotent(t *testing.T) {
	tests := []struct {
		name                  string
		route, def            bool // whether each vendor deduplicates
		noDefault, nestedFail bool
		want                  bool
	}{
		{name: "all idempotent", route: true, def: true, want: true},
		{name: "route not", route: false, def: true, want: false},
		{name: "default not", route: true, def: false, want: false},
		{name: "no default, route idempotent", route: true, noDefault: true, want: true},
		{name: "route is a two-vendor failover", route: true, def: true, nestedFail: true, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rv := vendor(&recorder{name: "r", idem: tt.route})
			if tt.nestedFail {
				fp, err := failover.New(rv, vendor(&recorder{name: "r2", idem: true}))
				require.NoError(t, err)
				rv = failover.Vendor{Name: "nested", Provider: fp}
			}
			cfg := routing.Config{Routes: []routing.Route{{Prefix: "+7", Vendor: rv}}}
			if !tt.noDefault {
				d := vendor(&recorder{name: "d", idem: tt.def})
				cfg.Default = &d
			}
			p, err := routing.New(cfg)
			require.NoError(t, err)
			assert.Equal(t, tt.want, p.Idempotent())
		})
	}
}

func TestClose(t *testing.T) {
	errA := errors.New("close a")
	a := &recorder{name: "a", closeErr: errA}
	b := &recorder{name: "b"}
	p, err := routing.New(routing.Config{
		Routes:  []routing.Route{{Prefix: "+7", Vendor: vendor(a)}, {Prefix: "+1", Vendor: vendor(a)}, {Prefix: "+44", Vendor: vendor(b)}},
		Default: &failover.Vendor{Name: "a", Provider: a},
	})
	require.NoError(t, err)
	err = p.Close()
	assert.ErrorIs(t, err, errA)
	assert.Equal(t, 1, a.closes, "one vendor on several routes is closed once")
	assert.Equal(t, 1, b.closes)
	assert.Equal(t, err, p.Close())
	assert.Equal(t, 1, a.closes, "idempotent")
}

func TestUnderClient(t *testing.T) {
	cfg, rs := plan(false)
	p, err := routing.New(cfg)
	require.NoError(t, err)
	c, err := sms.New(p)
	require.NoError(t, err)
	defer c.Close()

	res, err := c.Send(context.Background(), sms.Message{To: "+7 (916) 123-45-67", Text: "hi"})
	require.NoError(t, err)
	assert.Equal(t, "ru-mobile", res.Provider)
	assert.Equal(t, []string{"+79161234567"}, rs["ru-mobile"].numbers(), "routed by the normalized number")

	res, err = c.Send(context.Background(), sms.Message{To: "+44 20 7946 0000", Text: "hi"})
	assert.ErrorIs(t, err, routing.ErrNoRoute)
	assert.Equal(t, sms.StatusFailed, res.Status)
	assert.Equal(t, 1, res.Attempts, "no route is never retried")
}

func FuzzRoute(f *testing.F) {
	for _, s := range []string{"+79161234567", "+7", "88005553535", "+", "", "+1", "8"} {
		f.Add(s)
	}
	prefixes := map[string]string{"+": "plus", "+7": "ru", "+79": "ru-mobile", "+7916": "mts", "8": "national", "8800": "tollfree"}
	rs := map[string]*recorder{}
	var cfg routing.Config
	for prefix, name := range prefixes {
		rs[name] = &recorder{name: name}
		cfg.Routes = append(cfg.Routes, routing.Route{Prefix: prefix, Vendor: vendor(rs[name])})
	}
	p, err := routing.New(cfg)
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, number string) {
		// The longest matching prefix, by brute force.
		want, best := "", -1
		for prefix, name := range prefixes {
			if strings.HasPrefix(number, prefix) && len(prefix) > best {
				want, best = name, len(prefix)
			}
		}
		rc, err := p.Send(context.Background(), sms.Message{To: number, Text: "x"})
		if want == "" {
			require.ErrorIs(t, err, routing.ErrNoRoute)
			return
		}
		require.NoError(t, err)
		require.Equal(t, want, rc.Provider)
	})
}

// BenchmarkSend measures the routing overhead over a vendor that accepts at
// once, with a plan of 250 prefixes.
func BenchmarkSend(b *testing.B) {
	v := failover.Vendor{Name: "v", Provider: vendortest.Answer{}}
	var cfg routing.Config
	for cc := 1; cc <= 250; cc++ {
		cfg.Routes = append(cfg.Routes, routing.Route{Prefix: fmt.Sprintf("+%d", cc*3), Vendor: v})
	}
	cfg.Default = &v
	p, err := routing.New(cfg)
	require.NoError(b, err)
	vendortest.BenchmarkSend(b, p)
}

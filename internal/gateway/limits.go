package gateway

import (
	"fmt"
	"log/slog"

	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"

	"github.com/smsgateway/sms"
	"github.com/smsgateway/sms/limit/redislimit"
)

// rateLimits makes the providers' rate limiters: each process's own, or, with
// Redis, one limit per provider shared by every process that uses it.
type rateLimits struct {
	rdb *redis.Client // nil: limits per process
}

// newLimits connects to Redis when url is set. Several processes on one
// PostgreSQL with rate limits and no Redis each apply the full limit: it
// warns that the limits are then per process.
func newLimits(url string, postgres bool, cfg *Config, log *slog.Logger) (*rateLimits, error) {
	if url == "" {
		if postgres && cfg.limited() {
			log.Warn("rate limits are per process: with several processes on this database, each sends at the full rate; give them one Redis (-redis) to share them")
		}
		return &rateLimits{}, nil
	}
	o, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redis: cannot parse the URL") // it may hold a password
	}
	o.ContextTimeoutEnabled = true
	return &rateLimits{rdb: redis.NewClient(o)}, nil
}

// limiter returns the limiter of the provider name.
func (l *rateLimits) limiter(name string, r rate.Limit, burst int) (sms.Limiter, error) {
	if l.rdb == nil {
		return rate.NewLimiter(r, burst), nil
	}
	return redislimit.New(l.rdb, "smsgateway:"+name, r, burst)
}

func (l *rateLimits) close() {
	if l != nil && l.rdb != nil {
		_ = l.rdb.Close()
	}
}

// Command smsgateway is the SMS gateway service: the original SMS-Gateway's
// HTTP API (POST /sending, POST /mailing) on a durable job queue, plus
// GET /tasks/{id}, a message log, metrics and health checks.
//
//	go run ./cmd/smsgateway                       # SQLite in ./data, provider "log"
//	go run ./cmd/smsgateway -config gateway.json  # named providers, API keys
//	go run ./cmd/smsgateway -database postgres://user@host/db
//
// Every flag can also be set from the environment: SMSGATEWAY_ADDR,
// SMSGATEWAY_DATA_DIR, SMSGATEWAY_CONFIG, SMSGATEWAY_DATABASE_URL,
// SMSGATEWAY_REDIS_URL, SMSGATEWAY_LOG_LEVEL; a flag wins over its variable. API keys may also come
// from SMSGATEWAY_API_KEYS (comma-separated). See docs/service.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/smsgateway/sms/internal/gateway"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Getenv, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "smsgateway:", err)
		os.Exit(1)
	}
}

// run is main without the process: flags, environment and log output are
// parameters, and it returns when ctx ends or SIGINT/SIGTERM arrives.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := flag.NewFlagSet("smsgateway", flag.ContinueOnError)
	fs.SetOutput(stderr)
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	addr := fs.String("addr", env("SMSGATEWAY_ADDR", "127.0.0.1:8000"), "listen address (env SMSGATEWAY_ADDR); use :8000 to listen on every interface")
	dataDir := fs.String("data-dir", env("SMSGATEWAY_DATA_DIR", "./data"), "directory of the SQLite database (env SMSGATEWAY_DATA_DIR)")
	configPath := fs.String("config", env("SMSGATEWAY_CONFIG", ""), "JSON configuration file (env SMSGATEWAY_CONFIG); none means one provider named \"log\"")
	database := fs.String("database", env("SMSGATEWAY_DATABASE_URL", ""), "PostgreSQL URL to use instead of SQLite (env SMSGATEWAY_DATABASE_URL)")
	redisURL := fs.String("redis", env("SMSGATEWAY_REDIS_URL", ""), "Redis URL (redis://host:6379/0) whose limits the processes share: each provider's rate_limit holds across them (env SMSGATEWAY_REDIS_URL)")
	logLevel := fs.String("log-level", env("SMSGATEWAY_LOG_LEVEL", "info"), "debug, info, warn or error (env SMSGATEWAY_LOG_LEVEL)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil // -h: the usage is printed, and asking for it is no error
		}
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("-log-level: %w", err)
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))

	cfg, err := gateway.LoadConfig(*configPath)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	opts := gateway.Options{Config: cfg, DataDir: *dataDir, DatabaseURL: *database, RedisURL: *redisURL, Logger: log}
	if *database == "" {
		unlock, err := lockDataDir(*dataDir)
		if err != nil {
			return err
		}
		defer unlock()
	}
	svc, err := gateway.New(ctx, opts)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		_ = svc.Shutdown(context.Background())
		return err
	}
	if err := svc.Start(ctx); err != nil {
		_ = ln.Close()
		_ = svc.Shutdown(context.Background())
		return err
	}
	srv := &http.Server{
		Handler:           svc.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	backend := "sqlite:" + *dataDir
	if *database != "" {
		backend = "postgresql"
	}
	log.Info("smsgateway listening", "addr", ln.Addr().String(), "database", backend, "providers", len(cfg.Providers), "auth", len(cfg.APIKeys) > 0)
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	select {
	case <-ctx.Done():
	case err = <-serveErr:
	}
	log.Info("smsgateway stopping")
	// Stop accepting, let answered requests finish (waiting ones return at
	// once with what they have), then let running sends finish.
	shutCtx, cancel := context.WithTimeout(context.Background(), time.Duration(cfg.ShutdownTimeout)+15*time.Second)
	defer cancel()
	svc.Drain()
	httpErr := srv.Shutdown(shutCtx)
	svcErr := svc.Shutdown(shutCtx)
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	log.Info("smsgateway stopped")
	return errors.Join(err, svcErr, httpErr)
}

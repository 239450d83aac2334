// Package pgtest gives tests of the service a PostgreSQL database of their
// own, when one is configured.
//
// Tests read SMS_TEST_POSTGRES_URL (a URL such as
// postgres://sms:sms@127.0.0.1:5432/sms?sslmode=disable). Without it they run
// on SQLite only, unless SMS_REQUIRE_POSTGRES=1, which makes them fail: CI
// sets it so that a missing PostgreSQL cannot pass unnoticed.
package pgtest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Backends returns the databases a test should run on: "sqlite" always,
// and "postgres" when SMS_TEST_POSTGRES_URL is set. With
// SMS_REQUIRE_POSTGRES=1 and no URL, it fails the test.
func Backends(t testing.TB) []string {
	t.Helper()
	out := []string{"sqlite"}
	if os.Getenv("SMS_TEST_POSTGRES_URL") == "" {
		if os.Getenv("SMS_REQUIRE_POSTGRES") == "1" {
			t.Fatal("SMS_REQUIRE_POSTGRES=1 but SMS_TEST_POSTGRES_URL is not set")
		}
		return out
	}
	return append(out, "postgres")
}

var seq atomic.Int64

// SchemaURL creates a fresh schema in the database of SMS_TEST_POSTGRES_URL,
// drops it when the test ends, and returns a URL whose connections use it
// (search_path). An unreachable database fails the test.
func SchemaURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv("SMS_TEST_POSTGRES_URL")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("SMS_TEST_POSTGRES_URL is not reachable: %v", err)
	}
	defer conn.Close(ctx)
	schema := fmt.Sprintf("t_%d_%d_%d", os.Getpid(), time.Now().UnixNano(), seq.Add(1))
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if c, err := pgx.Connect(ctx, base); err == nil {
			_, _ = c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
			_ = c.Close(ctx)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("SMS_TEST_POSTGRES_URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

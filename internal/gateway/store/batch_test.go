package store

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smsgateway/sms/internal/gateway/pgtest"
)

// openBackend opens a Store on backend (see pgtest.Backends): SQLite in a
// directory of its own, or PostgreSQL in a schema of its own. It closes
// when t ends.
func openBackend(t testing.TB, backend string) *Store {
	o := Options{DataDir: t.TempDir(), Log: slog.New(slog.DiscardHandler)}
	if backend == "postgres" {
		o = Options{DatabaseURL: pgtest.SchemaURL(t), Log: o.Log}
	}
	s, err := Open(context.Background(), o)
	require.NoError(t, err)
	t.Cleanup(s.Close)
	return s
}

// openPostgresOnly opens a Store on PostgreSQL, or skips the test without
// it.
func openPostgresOnly(t *testing.T) *Store {
	if !slices.Contains(pgtest.Backends(t), "postgres") {
		t.Skip("PostgreSQL only; SMS_TEST_POSTGRES_URL is not set")
	}
	return openBackend(t, "postgres")
}

// TestBatchIsOneTransaction: the writer's batches on PostgreSQL go in one
// round trip without BEGIN and COMMIT (pgxQuerier.batch); PostgreSQL must
// then run them as one implicit transaction, so that a batch that fails
// leaves nothing of itself.
func TestBatchIsOneTransaction(t *testing.T) {
	ctx := context.Background()
	s := openPostgresOnly(t)
	q := s.db.(pgxQuerier)
	_, err := q.exec(ctx, `INSERT INTO sms_setting (name, value) VALUES ('a', '1')`)
	require.NoError(t, err)
	value := func() string {
		var v string
		require.NoError(t, q.queryRow(ctx, `SELECT value FROM sms_setting WHERE name = 'a'`).Scan(&v))
		return v
	}

	_, err = q.batch(ctx, []string{
		`UPDATE sms_setting SET value = '2' WHERE name = ?`,
		`UPDATE sms_setting SET value = (1/0)::text WHERE name = ?`,
	}, [][][]any{{{"a"}}, {{"a"}}})
	require.Error(t, err)
	assert.Equal(t, "1", value(), "the first update went with the failed second")

	n, err := q.batch(ctx, []string{`UPDATE sms_setting SET value = '3' WHERE name = ?`}, [][][]any{{{"a"}, {"b"}}})
	require.NoError(t, err)
	assert.Equal(t, [][]int64{{1, 0}}, n)
	assert.Equal(t, "3", value())
}

// TestAnalyzeJobs: the statistics refresh of dueTimer runs on PostgreSQL.
func TestAnalyzeJobs(t *testing.T) {
	ctx := context.Background()
	s := openPostgresOnly(t)
	var analyzed bool
	query := `SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relid = 'river_job'::regclass`
	require.NoError(t, s.db.queryRow(ctx, query).Scan(&analyzed))
	require.False(t, analyzed)
	require.NoError(t, s.analyzeJobs(ctx))
	assert.EventuallyWithT(t, func(c *assert.CollectT) {
		assert.NoError(c, s.db.queryRow(ctx, query).Scan(&analyzed))
		assert.True(c, analyzed)
	}, 5*time.Second, 50*time.Millisecond)
}

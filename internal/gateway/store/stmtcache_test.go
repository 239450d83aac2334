package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"io"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"modernc.org/sqlite"
)

// TestStatementCache runs queries through the caching connections of a real
// SQLite database: a statement is reused, a query of the same text while
// the first one's rows are open gets its own, and the cache stays bounded.
func TestStatementCache(t *testing.T) {
	db := sql.OpenDB(cachingConnector{drv: &sqlite.Driver{}, dsn: "file:" + filepath.Join(t.TempDir(), "c.db")})
	db.SetMaxOpenConns(1)
	defer db.Close()
	ctx := context.Background()
	_, err := db.ExecContext(ctx, `CREATE TABLE t (x INTEGER)`)
	require.NoError(t, err)
	for i := range 3 {
		_, err := db.ExecContext(ctx, `INSERT INTO t (x) VALUES (?)`, i)
		require.NoError(t, err)
	}

	// Nested: the same text while the outer rows are open, in one
	// transaction (one connection).
	tx, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	outer, err := tx.QueryContext(ctx, `SELECT x FROM t ORDER BY x`)
	require.NoError(t, err)
	var pairs []string
	for outer.Next() {
		var a int
		require.NoError(t, outer.Scan(&a))
		var n int
		require.NoError(t, tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM t WHERE x >= ?`, a).Scan(&n))
		inner, err := tx.QueryContext(ctx, `SELECT x FROM t ORDER BY x`)
		require.NoError(t, err)
		count := 0
		for inner.Next() {
			count++
		}
		require.NoError(t, inner.Close())
		pairs = append(pairs, fmt.Sprintf("%d:%d:%d", a, n, count))
	}
	require.NoError(t, outer.Err())
	require.NoError(t, outer.Close())
	require.NoError(t, tx.Commit())
	assert.Equal(t, []string{"0:3:3", "1:2:3", "2:1:3"}, pairs)

	// Many texts: the cache starts afresh at its bound, and queries still
	// answer.
	for i := range stmtCacheSize + 10 {
		var got int
		require.NoError(t, db.QueryRowContext(ctx, fmt.Sprintf(`SELECT %d`, i)).Scan(&got))
		require.Equal(t, i, got)
	}
	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.Raw(func(dc any) error {
		assert.LessOrEqual(t, len(dc.(*cachingConn).stmts), stmtCacheSize)
		return nil
	}))
}

// countingDriver prepares statements that count how often they are
// prepared and closed.
type countingDriver struct{ prepared, closed int }

func (d *countingDriver) Open(string) (driver.Conn, error) { return &countingConn{d}, nil }

type countingConn struct{ d *countingDriver }

func (c *countingConn) Prepare(q string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), q)
}
func (c *countingConn) PrepareContext(context.Context, string) (driver.Stmt, error) {
	c.d.prepared++
	return &countingStmt{c.d}, nil
}
func (c *countingConn) Close() error              { return nil }
func (c *countingConn) Begin() (driver.Tx, error) { return nil, driver.ErrSkip }
func (c *countingConn) BeginTx(context.Context, driver.TxOptions) (driver.Tx, error) {
	return nil, driver.ErrSkip
}

type countingStmt struct{ d *countingDriver }

func (s *countingStmt) Close() error  { s.d.closed++; return nil }
func (s *countingStmt) NumInput() int { return -1 }
func (s *countingStmt) Exec([]driver.Value) (driver.Result, error) {
	return driver.RowsAffected(1), nil
}
func (s *countingStmt) Query([]driver.Value) (driver.Rows, error) { return &oneRow{}, nil }
func (s *countingStmt) ExecContext(context.Context, []driver.NamedValue) (driver.Result, error) {
	return driver.RowsAffected(1), nil
}
func (s *countingStmt) QueryContext(context.Context, []driver.NamedValue) (driver.Rows, error) {
	return &oneRow{}, nil
}

type oneRow struct{ done bool }

func (r *oneRow) Columns() []string { return []string{"x"} }
func (r *oneRow) Close() error      { return nil }
func (r *oneRow) Next(dest []driver.Value) error {
	if r.done {
		return io.EOF
	}
	r.done, dest[0] = true, int64(1)
	return nil
}

// TestStatementCacheCloses: every statement prepared is closed once, kept
// or not, busy when the cache let go of it or not.
func TestStatementCacheCloses(t *testing.T) {
	d := &countingDriver{}
	c := &cachingConn{Conn: &countingConn{d}, stmts: map[string]*cachedStmt{}}
	ctx := context.Background()
	for range 3 {
		_, err := c.ExecContext(ctx, "a", nil)
		require.NoError(t, err)
	}
	assert.Equal(t, 1, d.prepared, "kept and reused")

	busy, err := c.QueryContext(ctx, "b", nil)
	require.NoError(t, err)
	other, err := c.QueryContext(ctx, "b", nil) // "b" is busy: a fresh one
	require.NoError(t, err)
	require.NoError(t, other.Close())
	assert.Equal(t, 3, d.prepared)
	assert.Equal(t, 1, d.closed, "the fresh one is closed with its rows")

	for i := range stmtCacheSize { // the cache starts afresh while "b" is busy
		_, err := c.ExecContext(ctx, fmt.Sprint("q", i), nil)
		require.NoError(t, err)
	}
	require.NoError(t, busy.Close())
	require.NoError(t, c.Close())
	assert.Equal(t, d.prepared, d.closed, "every statement closed once")
}

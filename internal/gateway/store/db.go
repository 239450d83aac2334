package store

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// querier is the part of a database handle (pool or transaction) that the
// store uses. It hides the difference between database/sql (SQLite) and pgx
// (PostgreSQL), so one set of queries serves both. Queries use '?' for
// arguments; the PostgreSQL side rewrites them to $1, $2, ...
type querier interface {
	exec(ctx context.Context, q string, args ...any) (int64, error)
	// execMany runs one statement once for each argument list: prepared
	// once on SQLite, in one round trip (a pgx.Batch) on PostgreSQL. It
	// returns the rows each run changed.
	execMany(ctx context.Context, q string, args [][]any) ([]int64, error)
	query(ctx context.Context, q string, args ...any) (rows, error)
	queryRow(ctx context.Context, q string, args ...any) scanner
}

type rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

type scanner interface{ Scan(dest ...any) error }

// errNoRows is what a scanner returns when the query found nothing, for
// both drivers.
var errNoRows = errors.New("no rows")

// sqlHandle is *sql.DB or *sql.Tx.
type sqlHandle interface {
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

type sqlQuerier struct{ h sqlHandle }

func (s sqlQuerier) exec(ctx context.Context, q string, args ...any) (int64, error) {
	res, err := s.h.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// execMany runs q once per argument list: the connection's statement
// cache (see cachingConn) prepares it once.
func (s sqlQuerier) execMany(ctx context.Context, q string, args [][]any) ([]int64, error) {
	n := make([]int64, len(args))
	for i, a := range args {
		var err error
		if n[i], err = s.exec(ctx, q, a...); err != nil {
			return nil, err
		}
	}
	return n, nil
}

func (s sqlQuerier) query(ctx context.Context, q string, args ...any) (rows, error) {
	r, err := s.h.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{r}, nil
}

func (s sqlQuerier) queryRow(ctx context.Context, q string, args ...any) scanner {
	return sqlRow{s.h.QueryRowContext(ctx, q, args...)}
}

type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { _ = r.Rows.Close() }

type sqlRow struct{ r *sql.Row }

func (r sqlRow) Scan(dest ...any) error {
	err := r.r.Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return errNoRows
	}
	return err
}

// pgxHandle is *pgxpool.Pool or pgx.Tx.
type pgxHandle interface {
	Exec(ctx context.Context, q string, args ...any) (pgconn.CommandTag, error)
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
	Query(ctx context.Context, q string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, q string, args ...any) pgx.Row
}

type pgxQuerier struct{ h pgxHandle }

func (p pgxQuerier) exec(ctx context.Context, q string, args ...any) (int64, error) {
	tag, err := p.h.Exec(ctx, rebind(q), args...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

func (p pgxQuerier) execMany(ctx context.Context, q string, args [][]any) ([]int64, error) {
	n, err := p.batch(ctx, []string{q}, [][][]any{args})
	if err != nil {
		return nil, err
	}
	return n[0], nil
}

// batch runs each statement stmts[i] once for each argument list of
// args[i], in one round trip (a pgx.Batch), and returns the rows each run
// changed. Outside a transaction PostgreSQL runs the whole batch as one
// implicit transaction: all of it commits, or none.
func (p pgxQuerier) batch(ctx context.Context, stmts []string, args [][][]any) ([][]int64, error) {
	b := &pgx.Batch{}
	for i, q := range stmts {
		q = rebind(q)
		for _, a := range args[i] {
			b.Queue(q, a...)
		}
	}
	br := p.h.SendBatch(ctx, b)
	n := make([][]int64, len(stmts))
	for i := range stmts {
		n[i] = make([]int64, len(args[i]))
		for j := range args[i] {
			tag, err := br.Exec()
			if err != nil {
				_ = br.Close()
				return nil, err
			}
			n[i][j] = tag.RowsAffected()
		}
	}
	return n, br.Close()
}

func (p pgxQuerier) query(ctx context.Context, q string, args ...any) (rows, error) {
	r, err := p.h.Query(ctx, rebind(q), args...)
	if err != nil {
		return nil, err
	}
	return r, nil
}

func (p pgxQuerier) queryRow(ctx context.Context, q string, args ...any) scanner {
	return pgxRow{p.h.QueryRow(ctx, rebind(q), args...)}
}

type pgxRow struct{ r pgx.Row }

func (r pgxRow) Scan(dest ...any) error {
	err := r.r.Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return errNoRows
	}
	return err
}

// rebind turns '?' placeholders into PostgreSQL's $1, $2, ... The store's
// queries contain no '?' inside literals.
func rebind(q string) string {
	if !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

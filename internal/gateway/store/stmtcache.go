package store

import (
	"context"
	"database/sql/driver"
)

// SQLite spends much of the service's CPU parsing SQL: database/sql
// prepares every query it is given (River's insert and fetch statements
// are large), and the modernc driver keeps no statement across calls. The
// connections of the SQLite pool therefore keep the statements they
// prepared, by SQL text (see BENCHMARKS.md for what it buys).

// stmtCacheSize bounds the statements one connection keeps; when it is
// full the cache starts afresh (texts built for one mailing's size, such
// as a multi-row insert, would otherwise pile up).
const stmtCacheSize = 128

// cachingConnector opens connections of drv with dsn that cache their
// statements.
type cachingConnector struct {
	drv driver.Driver
	dsn string
}

func (c cachingConnector) Connect(context.Context) (driver.Conn, error) {
	conn, err := c.drv.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	return &cachingConn{Conn: conn, stmts: map[string]*cachedStmt{}}, nil
}

func (c cachingConnector) Driver() driver.Driver { return c.drv }

// cachingConn is a driver connection that runs queries through statements
// it keeps. database/sql uses a connection from one goroutine at a time.
type cachingConn struct {
	driver.Conn
	stmts map[string]*cachedStmt
}

// cachedStmt is a kept statement; busy while rows of it are open, when a
// query of the same text gets a statement of its own. dropped: the cache
// let go of it while busy, so its rows close it.
type cachedStmt struct {
	driver.Stmt
	busy, dropped bool
}

// stmt returns a statement for query: the kept one, or a fresh one, and
// whether it is kept (a fresh one is closed by the caller).
func (c *cachingConn) stmt(ctx context.Context, query string) (*cachedStmt, bool, error) {
	if s, ok := c.stmts[query]; ok && !s.busy {
		return s, true, nil
	}
	st, err := c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, query)
	if err != nil {
		return nil, false, err
	}
	s := &cachedStmt{Stmt: st}
	if _, ok := c.stmts[query]; ok {
		return s, false, nil // the kept one is busy
	}
	if len(c.stmts) >= stmtCacheSize {
		c.closeStmts()
	}
	c.stmts[query] = s
	return s, true, nil
}

func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	s, kept, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if !kept {
		defer s.Close()
	}
	return s.Stmt.(driver.StmtExecContext).ExecContext(ctx, args)
}

func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	s, kept, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	rows, err := s.Stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		if !kept {
			s.Close()
		}
		return nil, err
	}
	s.busy = true
	return &cachedRows{Rows: rows, s: s, kept: kept}, nil
}

// cachedRows frees its statement when closed.
type cachedRows struct {
	driver.Rows
	s    *cachedStmt
	kept bool
}

func (r *cachedRows) Close() error {
	err := r.Rows.Close()
	r.s.busy = false
	if !r.kept || r.s.dropped {
		if cerr := r.s.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

func (c *cachingConn) closeStmts() {
	for q, s := range c.stmts {
		if s.busy {
			s.dropped = true
		} else {
			_ = s.Close()
		}
		delete(c.stmts, q)
	}
}

func (c *cachingConn) Close() error {
	c.closeStmts()
	return c.Conn.Close()
}

// The optional interfaces of the wrapped connection, passed on.

func (c *cachingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
}

func (c *cachingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, query)
}

func (c *cachingConn) Ping(ctx context.Context) error {
	if p, ok := c.Conn.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (c *cachingConn) ResetSession(ctx context.Context) error {
	if r, ok := c.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *cachingConn) IsValid() bool {
	if v, ok := c.Conn.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

func (c *cachingConn) CheckNamedValue(nv *driver.NamedValue) error {
	if ch, ok := c.Conn.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

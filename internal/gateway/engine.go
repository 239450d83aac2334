package gateway

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	neturl "net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver, pure Go

	"github.com/smsgateway/sms/internal/redact"
)

// engine is the job queue as the service uses it, the same for SQLite and
// PostgreSQL. Its methods are safe for concurrent use.
type engine interface {
	// enqueue inserts the task's job and its rows in one transaction and
	// returns the job ID.
	enqueue(ctx context.Context, args taskArgs, opts *river.InsertOpts, t task, msgs []Message) (int64, error)
	jobGet(ctx context.Context, id int64) (*rivertype.JobRow, error)
	subscribe() (<-chan *river.Event, func())
	start(ctx context.Context) error
	// stop stops fetching jobs and waits for running ones; when ctx ends
	// first, it cancels them and waits for them to return.
	stop(ctx context.Context) error
	ping(ctx context.Context) error
	// poolWait reports how often and how long statements waited for the
	// SQLite connection (zero on PostgreSQL): the contention of its one
	// writer.
	poolWait() (count int64, total time.Duration)
	close()
}

// riverEngine implements engine over a River client of either driver.
type riverEngine[TTx any] struct {
	client  *river.Client[TTx]
	st      *store
	begin   func(ctx context.Context) (TTx, querier, func() error, func(), error)
	pingDB  func(ctx context.Context) error
	closeDB func()
	stats   func() sql.DBStats // nil on PostgreSQL
}

func (e *riverEngine[TTx]) enqueue(ctx context.Context, args taskArgs, opts *river.InsertOpts, t task, msgs []Message) (int64, error) {
	tx, q, commit, rollback, err := e.begin(ctx)
	if err != nil {
		return 0, err
	}
	defer rollback()
	res, err := e.client.InsertTx(ctx, tx, args, opts)
	if err != nil {
		return 0, fmt.Errorf("insert job: %w", err)
	}
	t.JobID = res.Job.ID
	if err := e.st.insertTask(ctx, q, t, msgs); err != nil {
		return 0, err
	}
	return res.Job.ID, commit()
}

func (e *riverEngine[TTx]) jobGet(ctx context.Context, id int64) (*rivertype.JobRow, error) {
	return e.client.JobGet(ctx, id)
}

func (e *riverEngine[TTx]) subscribe() (<-chan *river.Event, func()) {
	return e.client.Subscribe(river.EventKindJobCompleted, river.EventKindJobFailed, river.EventKindJobCancelled, river.EventKindJobSnoozed)
}

func (e *riverEngine[TTx]) start(ctx context.Context) error { return e.client.Start(ctx) }

func (e *riverEngine[TTx]) stop(ctx context.Context) error {
	err := e.client.Stop(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		// Out of patience: cancel the running jobs (their messages in
		// flight end as ambiguous or not sent; the rest stays queued).
		hard, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		return e.client.StopAndCancel(hard)
	}
	return err
}

func (e *riverEngine[TTx]) ping(ctx context.Context) error { return e.pingDB(ctx) }

func (e *riverEngine[TTx]) poolWait() (int64, time.Duration) {
	if e.stats == nil {
		return 0, 0
	}
	st := e.stats()
	return st.WaitCount, st.WaitDuration
}
func (e *riverEngine[TTx]) close() { e.closeDB() }

// engineParams is what openEngine needs besides the database.
type engineParams struct {
	cfg    *Config
	log    *slog.Logger
	worker func(st *store) *taskWorker
}

// newRiverEngine migrates River's and the service's tables, then builds the
// River client with the task worker. It is the code shared by both drivers.
func newRiverEngine[TTx any](ctx context.Context, driver riverdriver.Driver[TTx], st *store, p engineParams,
	begin func(ctx context.Context) (TTx, querier, func() error, func(), error)) (*riverEngine[TTx], error) {
	mig, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: p.log})
	if err != nil {
		return nil, err
	}
	if _, err := mig.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return nil, fmt.Errorf("river migrations: %w", err)
	}
	if err := st.migrate(ctx, func(ctx context.Context) (querier, func() error, func(), error) {
		_, q, commit, rollback, err := begin(ctx)
		return q, commit, rollback, err
	}); err != nil {
		return nil, fmt.Errorf("service migrations: %w", err)
	}
	w := p.worker(st)
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, w); err != nil {
		return nil, err
	}
	timeout := p.cfg.jobTimeout()
	client, err := river.NewClient(driver, &river.Config{
		Logger:               p.log.With("component", "river"),
		Queues:               map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: p.cfg.Workers}},
		Workers:              workers,
		MaxAttempts:          p.cfg.TaskAttempts,
		FetchPollInterval:    p.cfg.PollInterval.D(),
		FetchCooldown:        min(p.cfg.PollInterval.D(), 50*time.Millisecond),
		JobTimeout:           timeout,
		RescueStuckJobsAfter: timeout + timeout/2,
	})
	if err != nil {
		return nil, err
	}
	return &riverEngine[TTx]{client: client, st: st, begin: begin}, nil
}

// openSQLite opens (creating it if needed) the SQLite database in dataDir.
//
// SQLite has one writer at a time. The pool holds a single connection, as
// River's SQLite driver recommends: every statement of River and of the
// service is then serialized in the process, and SQLITE_BUSY cannot happen
// between them. WAL keeps readers of other processes (a backup, the sqlite3
// shell) from blocking it, and the busy timeout covers those.
func openSQLite(dataDir string) (*sql.DB, error) {
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return nil, err
	}
	path := filepath.Join(dataDir, "smsgateway.db")
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(ON)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	db.SetConnMaxIdleTime(0)
	db.SetConnMaxLifetime(0)
	return db, nil
}

// newSQLiteEngine is the embedded default: River on a SQLite file.
func newSQLiteEngine(ctx context.Context, dataDir string, p engineParams) (engine, *store, error) {
	db, err := openSQLite(dataDir)
	if err != nil {
		return nil, nil, err
	}
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, nil, fmt.Errorf("open %s: %w", dataDir, err)
	}
	st := &store{db: sqlQuerier{db}, now: time.Now}
	begin := func(ctx context.Context) (*sql.Tx, querier, func() error, func(), error) {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return nil, nil, nil, nil, err
		}
		return tx, sqlQuerier{tx}, tx.Commit, func() { _ = tx.Rollback() }, nil
	}
	e, err := newRiverEngine(ctx, riversqlite.New(db), st, p, begin)
	if err != nil {
		_ = db.Close()
		return nil, nil, err
	}
	e.pingDB = db.PingContext
	e.stats = db.Stats
	e.closeDB = func() { _ = db.Close() }
	return e, st, nil
}

// newPostgresEngine runs the same code on PostgreSQL through pgx v5.
func newPostgresEngine(ctx context.Context, url string, p engineParams) (engine, *store, error) {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return nil, nil, errors.New("database: cannot parse the PostgreSQL URL") // the URL may hold a password
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, nil, fmt.Errorf("database: %w", redactErr(err, url))
	}
	st := &store{db: pgxQuerier{pool}, postgres: true, now: time.Now}
	begin := func(ctx context.Context) (pgx.Tx, querier, func() error, func(), error) {
		tx, err := pool.Begin(ctx)
		if err != nil {
			return nil, nil, nil, nil, err
		}
		return tx, pgxQuerier{tx}, func() error { return tx.Commit(ctx) }, func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }, nil
	}
	e, err := newRiverEngine(ctx, riverpgxv5.New(pool), st, p, begin)
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	e.pingDB = pool.Ping
	e.closeDB = pool.Close
	return e, st, nil
}

// redactErr returns err with the password of the URL, if any, masked; it
// still unwraps to err.
func redactErr(err error, rawURL string) error {
	u, perr := neturl.Parse(rawURL)
	if perr != nil {
		return errors.New("cannot connect (error withheld: the URL does not parse)")
	}
	pw, _ := u.User.Password()
	return redact.New(pw).Error(err)
}

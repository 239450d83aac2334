package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	neturl "net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivershared/baseservice"
	"github.com/riverqueue/river/rivershared/riverpilot"
	"github.com/riverqueue/river/rivertype"
	"modernc.org/sqlite" // the database/sql driver, pure Go

	"github.com/smsgateway/sms/internal/redact"
)

// Options say which database Open opens.
type Options struct {
	// DataDir holds the SQLite database when DatabaseURL is empty. The
	// caller must be its only user (cmd/smsgateway holds a lock on it):
	// jobs found running when it opens are taken for a dead process's.
	DataDir string
	// DatabaseURL, when set, is a PostgreSQL URL to use instead of SQLite.
	DatabaseURL string
	// Log receives River's migration logs.
	Log *slog.Logger
}

// Open opens the database (creating the SQLite file if needed) and brings
// River's and the service's tables to the latest version. The queue is
// built with NewQueue.
func Open(ctx context.Context, o Options) (*Store, error) {
	if o.DatabaseURL != "" {
		return openPostgres(ctx, o)
	}
	return openSQLite(ctx, o)
}

// jobQueue is River's client as the Store uses it, the same for both
// drivers.
type jobQueue interface {
	insert(ctx context.Context, jobs []TaskArgs, opts *river.InsertOpts, t Task, msgs []Message) ([]int64, error)
	jobGet(ctx context.Context, id int64) (*rivertype.JobRow, error)
	subscribe(kinds ...river.EventKind) (<-chan *river.Event, func())
	start(ctx context.Context) error
	stop(ctx context.Context) error
	// later returns up to limit jobs not yet due: see riverQueue.later.
	later(ctx context.Context, limit int) ([]*rivertype.JobRow, error)
	retry(ctx context.Context, id int64) (*rivertype.JobRow, error)
	// wake makes the workers fetch once a job due at at is due (see
	// riverQueue.wake).
	wake(at time.Time)
	// inTx runs fn in a transaction, in which insert adds jobs; the jobs
	// and fn's writes commit together or not at all.
	inTx(ctx context.Context, fn func(q querier, insert func([]river.InsertManyParams) error) error) error
}

// database is what one driver gives the Store: River's driver and the
// service's transactions.
type database[TTx any] struct {
	driver riverdriver.Driver[TTx]
	// fetch, where the driver gets no insert notifications (SQLite),
	// triggers this process's fetcher of a queue (see pollOnly).
	fetch func(queue string)
	// begin starts a transaction: River's handle of it, the Store's, and
	// its commit and rollback.
	begin func(ctx context.Context) (TTx, querier, func() error, func(), error)
}

// riverQueue implements jobQueue over a River client of either driver.
type riverQueue[TTx any] struct {
	db     database[TTx]
	client *river.Client[TTx]
	store  *Store

	mu      sync.Mutex
	pending []*taskInsert // waiting for their batch (see insert)
}

// insert adds the jobs and the task's rows, and wakes the workers. The
// tasks that arrive while one insert waits for the writer join it: one
// transaction, one River insert of all their jobs and one multi-row insert
// of their rows, run by the Store's writer on SQLite (sharing its commit
// with the sends' writes) and by one of its own on PostgreSQL.
func (q *riverQueue[TTx]) insert(ctx context.Context, jobs []TaskArgs, opts *river.InsertOpts, t Task, msgs []Message) ([]int64, error) {
	in := &taskInsert{jobs: jobs, opts: opts, t: t, msgs: msgs, done: make(chan error, 1)}
	q.mu.Lock()
	q.pending = append(q.pending, in)
	lead := len(q.pending) == 1
	q.mu.Unlock()
	if lead {
		var batch []*taskInsert
		take := func() {
			if batch == nil {
				q.mu.Lock()
				batch, q.pending = q.pending, nil
				q.mu.Unlock()
			}
		}
		q.store.inserts.submit(write{
			fn: func(ctx context.Context, tx any, sq querier) error {
				take()
				return q.insertBatch(ctx, tx.(TTx), sq, batch)
			},
			done: func(_ int64, err error) {
				take()
				for _, in := range batch {
					in.done <- err
				}
			},
		})
	}
	select {
	case err := <-in.done:
		if err != nil {
			return nil, err
		}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	ids := make([]int64, len(in.res))
	for i, r := range in.res {
		ids[i] = r.Job.ID
	}
	if first := in.res[0].Job; q.db.fetch != nil && first.State == rivertype.JobStateAvailable {
		q.wake(first.ScheduledAt) // on PostgreSQL the insert's NOTIFY did
	}
	return ids, nil
}

// taskInsert is one task waiting for its insert: its jobs and rows, then
// the jobs as inserted, in the order of jobs.
type taskInsert struct {
	jobs []TaskArgs
	opts *river.InsertOpts
	t    Task
	msgs []Message
	res  []*rivertype.JobInsertResult
	done chan error
}

// insertBatch inserts the jobs and rows of batch in transaction tx.
func (q *riverQueue[TTx]) insertBatch(ctx context.Context, tx TTx, sq querier, batch []*taskInsert) error {
	var params []river.InsertManyParams
	for _, in := range batch {
		for _, a := range in.jobs {
			params = append(params, river.InsertManyParams{Args: a, InsertOpts: in.opts})
		}
	}
	res, err := q.client.InsertManyTx(ctx, tx, params)
	if err != nil {
		return fmt.Errorf("insert jobs: %w", err)
	}
	// River returns no promise on the order of the jobs: match them to
	// their tasks by their arguments.
	byArgs := make(map[Slice]*rivertype.JobInsertResult, len(res))
	for _, r := range res {
		var a TaskArgs
		if err := json.Unmarshal(r.Job.EncodedArgs, &a); err != nil {
			return fmt.Errorf("insert jobs: %w", err)
		}
		byArgs[a.Slice()] = r
	}
	tasks := make([]Task, len(batch))
	msgs := make([][]Message, len(batch))
	for i, in := range batch {
		in.res = make([]*rivertype.JobInsertResult, len(in.jobs))
		for j, a := range in.jobs {
			in.res[j] = byArgs[a.Slice()]
		}
		in.t.JobID = in.res[0].Job.ID
		tasks[i], msgs[i] = in.t, in.msgs
	}
	return q.store.insertTasks(ctx, sq, tasks, msgs)
}

// wake makes the workers fetch a job that is available, as soon as it is
// due at (its stored scheduled_at) by the database's clock. On SQLite it
// triggers this process's fetcher (see pollOnly), which costs no query. On
// PostgreSQL it inserts the wake job (see wakeArgs), whose NOTIFY wakes
// every process's fetcher. The fetch poll is the backstop.
//
// The wait is for SQLite, whose clock for due jobs has milliseconds while
// River rounds the time it stores to the nearest one: a job stored as due
// "now" may not be due yet for a fetch in the same millisecond.
func (q *riverQueue[TTx]) wake(at time.Time) {
	wake := func() {
		if q.db.fetch != nil {
			q.db.fetch(river.QueueDefault) // the tasks' queue
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = q.client.Insert(ctx, wakeArgs{}, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true}})
	}
	if d := time.Until(at.Add(clockSlack)); d > 0 {
		time.AfterFunc(d, wake)
		return
	}
	wake()
}

// wakeArgs is the job of wake on PostgreSQL. River keeps one of it (it is
// unique, and a completed one counts until River's cleaner removes it a
// day later), so nearly every insert is a duplicate that adds no row, yet
// River sends the insert's NOTIFY for it. The job it keeps does nothing.
//
// The tasks' own jobs are not unique: River's scheduler, which moves
// scheduled jobs every 5 s, took 300 ms over 500 unique ones (checking each
// for a conflict) and held their rows meanwhile, which made delayed sends
// that late (BENCHMARKS.md).
type wakeArgs struct{}

func (wakeArgs) Kind() string { return "sms_wake" }

type wakeWorker struct{ river.WorkerDefaults[wakeArgs] }

func (wakeWorker) Work(context.Context, *river.Job[wakeArgs]) error { return nil }

func (q *riverQueue[TTx]) inTx(ctx context.Context, fn func(q querier, insert func([]river.InsertManyParams) error) error) error {
	tx, sq, commit, rollback, err := q.db.begin(ctx)
	if err != nil {
		return err
	}
	defer rollback()
	var queues []string
	insert := func(jobs []river.InsertManyParams) error {
		res, err := q.client.InsertManyTx(ctx, tx, jobs)
		for _, r := range res {
			queues = append(queues, r.Job.Queue)
		}
		return err
	}
	if err := fn(sq, insert); err != nil {
		return err
	}
	if err := commit(); err != nil {
		return err
	}
	if q.db.fetch != nil {
		for _, queue := range queues {
			q.db.fetch(queue) // see wake
		}
	}
	return nil
}

// later returns the soonest limit scheduled jobs, and the jobs River's
// scheduler made available ahead of their time (it takes those due within
// its next interval): neither may be fetched before its time, and only a
// wake-up then starts it on time.
func (q *riverQueue[TTx]) later(ctx context.Context, limit int) ([]*rivertype.JobRow, error) {
	scheduled, err := q.client.JobList(ctx, river.NewJobListParams().States(rivertype.JobStateScheduled).
		OrderBy(river.JobListOrderByScheduledAt, river.SortOrderAsc).First(limit))
	if err != nil {
		return nil, err
	}
	ahead, err := q.client.JobList(ctx, river.NewJobListParams().States(rivertype.JobStateAvailable).
		OrderBy(river.JobListOrderByScheduledAt, river.SortOrderDesc).First(limit))
	if err != nil {
		return nil, err
	}
	jobs := scheduled.Jobs
	now := time.Now()
	for _, job := range ahead.Jobs {
		if !job.ScheduledAt.After(now) {
			break // the rest are due already: a fetch takes them
		}
		jobs = append(jobs, job)
	}
	return jobs, nil
}

func (q *riverQueue[TTx]) retry(ctx context.Context, id int64) (*rivertype.JobRow, error) {
	return q.client.JobRetry(ctx, id)
}

func (q *riverQueue[TTx]) jobGet(ctx context.Context, id int64) (*rivertype.JobRow, error) {
	return q.client.JobGet(ctx, id)
}

func (q *riverQueue[TTx]) subscribe(kinds ...river.EventKind) (<-chan *river.Event, func()) {
	return q.client.Subscribe(kinds...)
}

func (q *riverQueue[TTx]) start(ctx context.Context) error { return q.client.Start(ctx) }

func (q *riverQueue[TTx]) stop(ctx context.Context) error {
	err := q.client.Stop(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		// Out of patience: cancel the running jobs (their messages in
		// flight end as ambiguous or not sent; the rest stays queued).
		hard, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		return q.client.StopAndCancel(hard)
	}
	return err
}

// migrate runs River's migrations, then the service's in one transaction.
func migrate[TTx any](ctx context.Context, s *Store, db database[TTx], log *slog.Logger) error {
	mig, err := rivermigrate.New(db.driver, &rivermigrate.Config{Logger: log})
	if err != nil {
		return err
	}
	if _, err := mig.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("river migrations: %w", err)
	}
	_, q, commit, rollback, err := db.begin(ctx)
	if err != nil {
		return err
	}
	defer rollback()
	if err := s.migrate(ctx, q); err != nil {
		return fmt.Errorf("service migrations: %w", err)
	}
	return commit()
}

// setUp migrates the database of s and gives s its queue's constructor and
// its writer, the same for both drivers. On failure it closes s.
func setUp[TTx any](ctx context.Context, s *Store, db database[TTx], log *slog.Logger) error {
	if err := migrate(ctx, s, db, log); err != nil {
		s.Close()
		return err
	}
	s.newQueue = newQueue(s, db)
	begin := func(ctx context.Context) (any, querier, func() error, func(), error) { return db.begin(ctx) }
	if !s.postgres {
		s.w = newWriter(1, begin, nil)
		s.inserts = s.w
		return nil
	}
	// The sends' writes go in one round trip each batch; the inserts of
	// tasks have a writer of their own, which PostgreSQL runs beside it,
	// with two transactions at once: an insert takes several round trips
	// (River's insert, the rows', the commit), which a second transaction
	// overlaps. More loops for the sends' writes were slower
	// (BENCHMARKS.md).
	s.w = newWriter(1, begin, s.db.(pgxQuerier).batch)
	s.inserts = newWriter(2, begin, nil)
	return nil
}

// newQueue is NewQueue for one driver.
func newQueue[TTx any](s *Store, db database[TTx]) func(cfg *river.Config) error {
	return func(cfg *river.Config) error {
		if cfg.Workers != nil {
			if err := river.AddWorkerSafely(cfg.Workers, wakeWorker{}); err != nil {
				return err
			}
		}
		client, err := river.NewClient(db.driver, cfg)
		if err != nil {
			return err
		}
		s.q = &riverQueue[TTx]{db: db, client: client, store: s}
		s.due = newDueTimer(s.q, cfg.Logger)
		if s.postgres {
			s.due.analyze = s.analyzeJobs
		}
		return nil
	}
}

// pollOnly is River's SQLite driver without its emulation of LISTEN/NOTIFY,
// which polls an outbox table every 50 ms (a fixed interval): a job inserted
// by this process would wait for that poll. Without it River runs SQLite
// poll-only; one process owns a SQLite database, so every insert is local,
// and the Store triggers the local fetcher after each commit that made a
// job available (see riverQueue.wake). It also spares the outbox's writes
// and idle polls.
//
// The trigger is the function River gives its pilot for that purpose
// ("when a client knows that a job has become available and the
// transaction that committed it has finished"): the driver hands River a
// pilot, the standard one, that keeps it. River marks the pilot's interface
// unstable; the module pins River's version, and TestWakeWithoutPoll fails
// if the trigger stops working.
type pollOnly struct {
	*riversqlite.Driver
	pilot *wakePilot
}

func (pollOnly) SupportsListener() bool     { return false }
func (pollOnly) SupportsListenNotify() bool { return false }

// PluginInit and PluginPilot make River use the driver's pilot.
func (pollOnly) PluginInit(*baseservice.Archetype) {}
func (d pollOnly) PluginPilot() riverpilot.Pilot   { return d.pilot }

// wakePilot is River's standard pilot that keeps the fetch trigger.
type wakePilot struct {
	riverpilot.StandardPilot
	notify func(ctx context.Context, res []*rivertype.JobInsertResult)
}

func (p *wakePilot) PilotInit(_ *baseservice.Archetype, params *riverpilot.PilotInitParams) {
	p.notify = params.NotifyNonTxJobInsert
}

// fetch triggers the local fetcher of queue.
func (p *wakePilot) fetch(queue string) {
	if p.notify != nil {
		p.notify(context.Background(), []*rivertype.JobInsertResult{{Job: &rivertype.JobRow{Queue: queue}}})
	}
}

// readConns is the number of SQLite connections for reads.
const readConns = 2

// openSQLite opens (creating it if needed) the SQLite database in dataDir.
//
// SQLite has one writer at a time. The pool holds a single connection, as
// River's SQLite driver recommends: every statement of River and of the
// service is then serialized in the process, and SQLITE_BUSY cannot happen
// between them. WAL keeps readers of other processes (a backup, the sqlite3
// shell) from blocking it, and the busy timeout covers those.
func openSQLite(ctx context.Context, o Options) (*Store, error) {
	if err := os.MkdirAll(o.DataDir, 0o750); err != nil {
		return nil, err
	}
	path := filepath.Join(o.DataDir, "smsgateway.db")
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(ON)&_txlock=immediate"
	sdb := sql.OpenDB(cachingConnector{drv: &sqlite.Driver{}, dsn: dsn})
	sdb.SetMaxOpenConns(1)
	sdb.SetConnMaxIdleTime(0)
	sdb.SetConnMaxLifetime(0)
	if err := sdb.PingContext(ctx); err != nil {
		_ = sdb.Close()
		return nil, fmt.Errorf("open %s: %w", o.DataDir, err)
	}
	// Reads that need no transaction have connections of their own: in
	// WAL mode they run beside the writer and see what it committed.
	rdb := sql.OpenDB(cachingConnector{drv: &sqlite.Driver{}, dsn: "file:" + path + "?mode=ro&_pragma=busy_timeout(10000)"})
	rdb.SetMaxOpenConns(readConns)
	rdb.SetMaxIdleConns(readConns)
	rdb.SetConnMaxIdleTime(0)
	rdb.SetConnMaxLifetime(0)
	s := &Store{db: sqlQuerier{sdb}, reads: sqlQuerier{rdb}, now: time.Now, ping: sdb.PingContext, stats: sdb.Stats,
		closeDB: func() { _, _ = rdb.Close(), sdb.Close() }}
	pilot := &wakePilot{}
	db := database[*sql.Tx]{
		driver: pollOnly{riversqlite.New(sdb), pilot},
		fetch:  pilot.fetch,
		begin: func(ctx context.Context) (*sql.Tx, querier, func() error, func(), error) {
			tx, err := sdb.BeginTx(ctx, nil)
			if err != nil {
				return nil, nil, nil, nil, err
			}
			return tx, sqlQuerier{tx}, tx.Commit, func() { _ = tx.Rollback() }, nil
		},
	}
	if err := setUp(ctx, s, db, o.Log); err != nil {
		return nil, err
	}
	if err := resumeOrphans(ctx, s.db); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// resumeOrphans makes the jobs that a SQLite database records as running
// available again, at once. One process owns a SQLite database (the caller
// holds its data directory: see Options), so a job running when it opens
// was running in a process that died; River's rescuer would wait
// RescueStuckJobsAfter (minutes) to conclude the same. The messages that
// job had in flight are then handled as interrupted by its next run.
func resumeOrphans(ctx context.Context, q querier) error {
	_, err := q.exec(ctx, `UPDATE river_job SET state = 'available' WHERE state = 'running'`)
	return err
}

// openPostgres opens the same tables on PostgreSQL through pgx v5.
func openPostgres(ctx context.Context, o Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(o.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("database: %w", redactURLErr(err, o.DatabaseURL))
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("database: %w", redactURLErr(err, o.DatabaseURL))
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("database: %w", redactURLErr(err, o.DatabaseURL))
	}
	s := &Store{db: pgxQuerier{pool}, reads: pgxQuerier{pool}, postgres: true, now: time.Now, ping: pool.Ping, closeDB: pool.Close}
	db := database[pgx.Tx]{
		driver: riverpgxv5.New(pool),
		begin: func(ctx context.Context) (pgx.Tx, querier, func() error, func(), error) {
			tx, err := pool.Begin(ctx)
			if err != nil {
				return nil, nil, nil, nil, err
			}
			rollback := func() {
				ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
				defer cancel()
				_ = tx.Rollback(ctx)
			}
			return tx, pgxQuerier{tx}, func() error { return tx.Commit(ctx) }, rollback, nil
		},
	}
	if err := setUp(ctx, s, db, o.Log); err != nil {
		return nil, err
	}
	return s, nil
}

// redactURLErr returns err with the password of the database URL, in every
// form it may take, masked; it still unwraps to err.
func redactURLErr(err error, rawURL string) error {
	var secrets []string
	if u, perr := neturl.Parse(rawURL); perr == nil {
		if pw, ok := u.User.Password(); ok {
			secrets = append(secrets, pw)
		}
		if pw := u.Query().Get("password"); pw != "" {
			secrets = append(secrets, pw)
		}
	} else {
		// An unparsable URL: mask all of it.
		secrets = append(secrets, rawURL)
	}
	return redact.New(secrets...).Error(err)
}

// analyzeJobs refreshes the planner's statistics of River's job table (see
// analyzeEvery). PostgreSQL skips it with a warning, not an error, when the
// service's role does not own the table.
func (s *Store) analyzeJobs(ctx context.Context) error {
	_, err := s.db.exec(ctx, `ANALYZE river_job`)
	return err
}

// NewQueue builds River's client over the store's database with cfg (its
// queues, workers and timings). Call it once, before Start.
func (s *Store) NewQueue(cfg *river.Config) error { return s.newQueue(cfg) }

// Enqueue inserts the task's jobs, due at opts.ScheduledAt, and the task's
// rows in one transaction, and returns the task with its JobID (the first
// job's). On PostgreSQL a task has one job per slice of its rows (Slices),
// so that every process shares it; on SQLite, which one process owns, it
// is one job (a job costs a fetch). Jobs due later are started on time by
// this process (see dueTimer).
func (s *Store) Enqueue(ctx context.Context, args TaskArgs, opts *river.InsertOpts, t Task, msgs []Message) (Task, error) {
	jobs := []TaskArgs{args}
	if s.postgres {
		jobs = Slices(args, len(msgs))
	}
	ids, err := s.q.insert(ctx, jobs, opts, t, msgs)
	if err != nil {
		return t, err
	}
	t.JobID = ids[0]
	if opts != nil && !opts.ScheduledAt.IsZero() {
		// River schedules every job given a time, even one already past,
		// which only its scheduler would then start.
		for _, id := range ids {
			s.due.add(id, opts.ScheduledAt)
		}
	}
	return t, nil
}

// Job returns a task's River job, or nil when River no longer has it (its
// cleaner deletes finished jobs after a day): the rows then tell the
// outcome.
func (s *Store) Job(ctx context.Context, id int64) (*rivertype.JobRow, error) {
	job, err := s.q.jobGet(ctx, id)
	if errors.Is(err, river.ErrNotFound) {
		return nil, nil
	}
	return job, err
}

// Subscribe returns River's events of the given kinds and a function that
// ends the subscription.
func (s *Store) Subscribe(kinds ...river.EventKind) (<-chan *river.Event, func()) {
	return s.q.subscribe(kinds...)
}

// Start starts working jobs, and the timer of delayed tasks.
func (s *Store) Start(ctx context.Context) error {
	if err := s.q.start(ctx); err != nil {
		return err
	}
	if err := s.due.start(ctx); err != nil {
		return errors.Join(err, s.q.stop(ctx))
	}
	return nil
}

// Stop stops fetching jobs and waits for running ones; when ctx ends
// first, it cancels them and waits for them to return.
func (s *Store) Stop(ctx context.Context) error {
	s.due.close()
	return s.q.stop(ctx)
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.ping(ctx) }

// PoolWait reports how often and how long statements waited for the SQLite
// connection (zero on PostgreSQL): the contention of its one writer.
func (s *Store) PoolWait() (count int64, total time.Duration) {
	if s.stats == nil {
		return 0, 0
	}
	st := s.stats()
	return st.WaitCount, st.WaitDuration
}

// Close commits the writes submitted, then closes the database.
func (s *Store) Close() {
	if s.inserts != nil && s.inserts != s.w {
		s.inserts.close()
	}
	if s.w != nil {
		s.w.close()
	}
	s.closeDB()
}

// Package gateway is the SMS gateway service behind cmd/smsgateway: its HTTP
// API, its configuration, and the durable job queue (River) that sends the
// messages through the sms library.
//
// # Tasks
//
// Every POST /sending or /mailing becomes one task: one River job plus one
// row per number in the message log (table sms_message), written in one
// transaction. The job sends the task's queued numbers through the
// provider's sms.Client (retries, rate limit, concurrency) and records each
// outcome in its row as soon as it is known.
//
// # Crashes and duplicates
//
// River runs a job at least once: a job that was running when the process
// died is run again after RescueStuckJobsAfter. Before each attempt to hand
// a message to a provider, its row is marked "sending"; after the attempt
// it gets its outcome. A run skips numbers whose outcome is known, so a
// crash never resends them. The numbers marked "sending" when the process
// died (at most one mailing concurrency's worth per running task) may or may
// not have reached the gateway: by default they are recorded as failed with
// kind "ambiguous" and not resent (no duplicate, but maybe not delivered);
// with Config.ResendInterrupted they are sent again (delivered, but maybe
// twice). Nothing else can be duplicated or lost.
//
// A run hands out numbers for at most Config.MailingSlice, then snoozes the
// job so that it resumes at once; so a run lasts at most the slice plus one
// message's send budget, and JobTimeout and RescueStuckJobsAfter follow from
// the send timeout and the retry policy whatever the size of a mailing.
package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// Options configure a Service.
type Options struct {
	// Config is the configuration; nil means the defaults, and so do its
	// zero fields (New fills them in a copy).
	Config *Config
	// DataDir holds the SQLite database when DatabaseURL is empty.
	DataDir string
	// DatabaseURL, when set, is a PostgreSQL URL to use instead of SQLite.
	DatabaseURL string
	// Logger receives the service's logs; nil means slog.Default().
	Logger *slog.Logger
}

// Service is the gateway: a job queue, providers, and the HTTP API. Create
// it with New, call Start, serve Handler, then Shutdown. Its methods are safe
// for concurrent use.
type Service struct {
	cfg       *Config
	log       *slog.Logger
	eng       engine
	store     *store
	providers map[string]*provider
	metrics   *metrics
	waiters   *waiters
	draining  chan struct{}
	drainOnce sync.Once
	closeOnce sync.Once
	started   bool
	mu        sync.Mutex
	stopSub   func()
	subDone   chan struct{}
	now       func() time.Time
}

// New opens the database, runs River's and the service's migrations, and
// builds the providers. Nothing is sent until Start.
func New(ctx context.Context, o Options) (*Service, error) {
	cfg := &Config{}
	if o.Config != nil {
		c := *o.Config // defaults go into a copy
		cfg = &c
	}
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	s := &Service{
		cfg:      cfg,
		log:      log,
		metrics:  newMetrics(),
		waiters:  newWaiters(),
		draining: make(chan struct{}),
		now:      time.Now,
	}
	params := engineParams{cfg: cfg, log: log}
	var perr error
	params.worker = func(st *store) *taskWorker {
		s.providers, perr = buildProviders(cfg, st, s.metrics.hooks, log)
		return &taskWorker{
			store: st, providers: s.providers, draining: s.draining,
			slice: cfg.MailingSlice.D(), timeout: cfg.jobTimeout(), resendInterrupted: cfg.ResendInterrupted,
			log: log, now: time.Now, done: s.waiters.wake,
		}
	}
	var err error
	if o.DatabaseURL != "" {
		s.eng, s.store, err = newPostgresEngine(ctx, o.DatabaseURL, params)
	} else {
		s.eng, s.store, err = newSQLiteEngine(ctx, o.DataDir, params)
	}
	if err == nil && perr != nil {
		s.eng.close()
		err = perr
	}
	if err != nil {
		if s.providers != nil {
			_ = closeProviders(s.providers)
		}
		return nil, err
	}
	s.metrics.queueDepth(s.store)
	return s, nil
}

// Registry returns the Prometheus registry of the service's metrics.
func (s *Service) Registry() *prometheus.Registry { return s.metrics.reg }

// Start starts working jobs. The context only bounds starting.
func (s *Service) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return errors.New("gateway: already started")
	}
	events, stop := s.eng.subscribe()
	s.stopSub = stop
	s.subDone = make(chan struct{})
	go func() {
		defer close(s.subDone)
		for ev := range events {
			var args taskArgs
			if ev.Job != nil && json.Unmarshal(ev.Job.EncodedArgs, &args) == nil {
				s.waiters.wake(args.TaskID)
			}
		}
	}()
	if err := s.eng.start(context.WithoutCancel(ctx)); err != nil {
		stop()
		<-s.subDone
		return err
	}
	s.started = true
	return nil
}

// Shutdown stops the service gracefully: waiting requests answer with what
// they have, mailings stop handing out numbers, and running sends get until
// ctx ends (or Config.ShutdownTimeout, whichever is first) to finish;
// sends still running then are cancelled. Queued and unfinished tasks stay
// in the database for the next start. Shutdown then closes the providers
// and the database. It is idempotent.
func (s *Service) Shutdown(ctx context.Context) error {
	var err error
	s.closeOnce.Do(func() {
		s.Drain()
		ctx, cancel := context.WithTimeout(ctx, s.cfg.ShutdownTimeout.D())
		defer cancel()
		s.mu.Lock()
		started := s.started
		s.mu.Unlock()
		if started {
			err = s.eng.stop(ctx)
			s.stopSub()
			<-s.subDone
		}
		err = errors.Join(err, closeProviders(s.providers))
		s.eng.close()
	})
	return err
}

// Drain starts a graceful stop without waiting: requests waiting for a
// result answer at once with the task's current status, and running
// mailings stop handing out numbers (they snooze after the messages in
// flight). Call it before shutting the HTTP server down, then Shutdown.
// It is idempotent.
func (s *Service) Drain() {
	s.drainOnce.Do(func() { close(s.draining) })
	s.waiters.closeAll()
}

// Ready reports whether the database answers.
func (s *Service) Ready(ctx context.Context) error { return s.eng.ping(ctx) }

// waiters lets request handlers sleep until a task may have changed (a run
// of it ended, or River reports an event of its job), instead of polling in
// a tight loop.
type waiters struct {
	mu     sync.Mutex
	byJob  map[string][]chan struct{}
	closed chan struct{}
}

func newWaiters() *waiters {
	return &waiters{byJob: make(map[string][]chan struct{}), closed: make(chan struct{})}
}

// register returns a channel closed at the next change of task id, and a
// function to drop it.
func (w *waiters) register(id string) (<-chan struct{}, func()) {
	ch := make(chan struct{})
	w.mu.Lock()
	w.byJob[id] = append(w.byJob[id], ch)
	w.mu.Unlock()
	return ch, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		list := w.byJob[id]
		for i, c := range list {
			if c == ch {
				list = append(list[:i], list[i+1:]...)
				break
			}
		}
		if len(list) == 0 {
			delete(w.byJob, id)
		} else {
			w.byJob[id] = list
		}
	}
}

func (w *waiters) wake(id string) {
	w.mu.Lock()
	list := w.byJob[id]
	delete(w.byJob, id)
	w.mu.Unlock()
	for _, c := range list {
		close(c)
	}
}

func (w *waiters) closeAll() {
	w.mu.Lock()
	defer w.mu.Unlock()
	select {
	case <-w.closed:
	default:
		close(w.closed)
	}
}

// pollEvery is how often a waiting request rereads the task when nothing
// wakes it: wake-ups come only from this process, while on PostgreSQL
// another process may run the task.
const pollEvery = 200 * time.Millisecond

// waitTask rereads task t until it is SUCCESS or FAILURE, d has passed, the
// request ends or the service drains, and returns its last answer. It reads
// the message rows, which are final as soon as the last send returns, so it
// does not wait for River's completer (which batches completions for up to
// 250 ms).
func (s *Service) waitTask(ctx context.Context, t task, d time.Duration) (taskAnswer, error) {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		woke, drop := s.waiters.register(t.ID)
		ans, err := s.read(ctx, t)
		if err != nil || ans.TaskStatus == statusSuccess || ans.TaskStatus == statusFailure {
			drop()
			return ans, err
		}
		select {
		case <-woke:
		case <-tick.C:
		case <-deadline.C:
			drop()
			return ans, nil
		case <-s.waiters.closed:
			drop()
			return ans, nil
		case <-ctx.Done():
			drop()
			return ans, nil
		}
		drop()
	}
}

// read returns the current answer for task t.
func (s *Service) read(ctx context.Context, t task) (taskAnswer, error) {
	job, err := s.eng.jobGet(ctx, t.JobID)
	if err != nil && !errors.Is(err, errJobNotFound) {
		return taskAnswer{TaskID: t.ID}, err
	}
	return s.answer(ctx, t, job)
}

func jobFinal(st rivertype.JobState) bool {
	switch st {
	case rivertype.JobStateCompleted, rivertype.JobStateDiscarded, rivertype.JobStateCancelled:
		return true
	}
	return false
}

// errJobNotFound is what River returns for a job it no longer has (its
// cleaner deletes finished jobs after a day); the rows then tell the
// outcome.
var errJobNotFound = river.ErrNotFound

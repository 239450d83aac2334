// Package gateway is the SMS gateway service behind cmd/smsgateway: its HTTP
// API, its configuration, and the durable job queue (River) that sends the
// messages through the sms library.
//
// # Layers
//
// One message goes through the files in this order:
//
//	api.go, request.go   HTTP handlers; a request decoded and validated (the
//	                     provider's sms.Client judges numbers and text)
//	store/task.go        the task and message states and the rules over them
//	store/               the database: River's queue and the service's rows
//	worker.go            a task's run: its rows through the provider's Client
//	providers.go         the configured providers, each an sms.Client over a
//	                     wrapper that marks a row in flight before each attempt
//	wait.go              requests that wait for a task's result
//
// After the send: delivery.go serves the gateways' delivery reports (with
// Config.PublicURL), callbacks.go posts each message's events to the
// request's callback URL (store/events.go decides when one is due), and
// store/lease.go lets several processes share one PostgreSQL.
//
// service.go builds them in that straight line: config, store, providers,
// worker, HTTP.
//
// # Tasks
//
// Every POST /sending or /mailing becomes one task: its River jobs (one on
// SQLite; on PostgreSQL one per slice of its rows, so that processes share
// it) plus one row per number in the message log (table sms_message),
// written in one transaction. A job sends its queued numbers through the
// provider's sms.Client (retries, rate limit, concurrency) with the message
// ID taskID/index, and records each outcome in its row as soon as it is
// known.
//
// # Crashes and duplicates
//
// River runs a job at least once: a job that was running when the process
// died is run again, at once on SQLite (the next process to open it), after
// another process takes over the dead one's lease on PostgreSQL, or after
// RescueStuckJobsAfter. Before each attempt to hand a message to a
// provider, its row is marked "sending" and claimed by the run; after the
// attempt it gets its outcome. A run skips numbers whose outcome is known
// or that another run holds, so a crash never resends them. The numbers
// marked "sending" when the process died (at most each provider's
// concurrency, per process) may or may not have reached the gateway: by default they are recorded as failed with
// kind "ambiguous" and not resent (no duplicate, but maybe not delivered);
// with Config.ResendInterrupted, or when the provider is idempotent (its
// gateway deduplicates by message ID), they are sent again. Nothing else can
// be duplicated or lost.
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
	"maps"
	"net/http"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"

	"github.com/smsgateway/sms"
	"github.com/smsgateway/sms/internal/gateway/store"
)

// Options configure a Service.
type Options struct {
	// Config is the configuration; nil means the defaults, and so do its
	// zero fields (New fills them in a copy).
	Config *Config
	// DataDir holds the SQLite database when DatabaseURL is empty. One
	// process at a time may use it (cmd/smsgateway locks it): tasks found
	// running when it opens belong to a process that died, and resume at
	// once.
	DataDir string
	// DatabaseURL, when set, is a PostgreSQL URL to use instead of SQLite.
	DatabaseURL string
	// Logger receives the service's logs; nil means slog.Default().
	Logger *slog.Logger
	// Types adds provider types to the built-in ones (log, mock,
	// httpquery, failover, routing), or replaces them by name.
	Types map[string]ProviderFactory
	// RedisURL, when set (redis://host:port/db), makes every provider's
	// rate_limit one limit shared by all the processes that use the same
	// Redis, kept under the key "smsgateway:<provider name>"
	// (limit/redislimit). Without it each process has its own.
	RedisURL string
}

// Service is the gateway: a job queue, providers, and the HTTP API. Create
// it with New, call Start, serve Handler, then Shutdown. Its methods are safe
// for concurrent use.
type Service struct {
	cfg       *Config
	store     *store.Store
	providers map[string]*provider
	limits    *rateLimits
	api       *api
	draining  chan struct{}
	drainOnce sync.Once
	closeOnce sync.Once
	mu        sync.Mutex
	started   bool
	stopSub   func()
	subDone   chan struct{}
	// pump queues callback events; reports expires pending deliveries
	// until stopBg is closed.
	pump    *eventPump
	reports *reports
	stopBg  chan struct{}
	bgDone  sync.WaitGroup
	// id names this process: its River client ID and its lease (see
	// store.Heartbeat).
	id  string
	log *slog.Logger
}

// Leases (PostgreSQL; see store/lease.go): each process renews its own
// every leaseEvery and takes over the jobs of a process whose lease is
// older than leaseTTL. A kill is so noticed within leaseTTL + leaseEvery,
// and the jobs then run at the next fetch poll.
const (
	leaseEvery = 2 * time.Second
	leaseTTL   = 10 * time.Second
)

// callbackWorkers is how many events are posted at once.
const callbackWorkers = 16

// New opens the database, runs River's and the service's migrations, and
// builds the providers, the worker and the API. Nothing is sent until
// Start.
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
	st, err := store.Open(ctx, store.Options{DataDir: o.DataDir, DatabaseURL: o.DatabaseURL, Log: log})
	if err != nil {
		return nil, err
	}
	m := newMetrics(st)
	types := maps.Clone(builtinTypes)
	maps.Copy(types, o.Types)
	limits, err := newLimits(o.RedisURL, o.DatabaseURL != "", cfg, log)
	if err != nil {
		st.Close()
		return nil, err
	}
	pump := newEventPump(st.QueueEvents, log)
	rep := &reports{base: cfg.PublicURL, store: st, metrics: m, log: log, applied: pump.kick, handlers: map[string]*sms.DeliveryHandler{}}
	if cfg.PublicURL != "" {
		if rep.secret, err = st.Secret(ctx, reportSecretName); err != nil {
			limits.close()
			st.Close()
			return nil, err
		}
	}
	providers, err := buildProviders(cfg, types, st, limits, rep, m.hooks, log)
	if err != nil {
		limits.close()
		st.Close()
		return nil, err
	}
	s := &Service{
		cfg: cfg, store: st, providers: providers, limits: limits, draining: make(chan struct{}),
		pump: pump, reports: rep, stopBg: make(chan struct{}), id: "smsgateway-" + uuid.NewString(), log: log,
	}
	s.api = &api{cfg: cfg, log: log, store: st, providers: providers, metrics: m, waiters: newWaiters(), reports: rep, events: pump.kick, now: time.Now}
	w := &taskWorker{
		store: st, providers: providers, draining: s.draining,
		slice: time.Duration(cfg.MailingSlice), timeout: cfg.jobTimeout(), resendInterrupted: cfg.ResendInterrupted,
		log: log, now: time.Now, done: s.api.waiters.wake, final: m.final, events: pump.kick,
	}
	cw := &callbackWorker{
		secret: []byte(cfg.CallbackSecret), client: callbackClient(cfg.CallbackPrivate), retryFor: time.Duration(cfg.CallbackRetryFor),
		now: time.Now, log: log, result: func(r string) { m.callbacks.WithLabelValues(r).Inc() },
	}
	workers := river.NewWorkers()
	if err := errors.Join(river.AddWorkerSafely(workers, w), river.AddWorkerSafely(workers, cw)); err != nil {
		s.close()
		return nil, err
	}
	if err := st.NewQueue(&river.Config{
		ID:                   s.id,
		Logger:               log.With("component", "river"),
		Queues:               map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cfg.Workers}, store.CallbackQueue: {MaxWorkers: callbackWorkers}},
		Workers:              workers,
		MaxAttempts:          cfg.TaskAttempts,
		FetchPollInterval:    time.Duration(cfg.PollInterval),
		FetchCooldown:        min(fetchCooldown(o.DatabaseURL != ""), time.Duration(cfg.PollInterval)),
		JobTimeout:           w.timeout,
		RescueStuckJobsAfter: w.timeout + w.timeout/2,
	}); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// fetchCooldown is River's FetchCooldown: the least time between two
// fetches, and on PostgreSQL between two insert notifications. A wake-up
// within it waits for its end. On SQLite a wake-up then still fetches (at
// the cooldown's end), and 2 ms lets one fetch take the tasks of several
// requests (1 ms gave results sooner but took queueing 10 % of its rate;
// 5 ms the reverse: BENCHMARKS.md); on PostgreSQL a notification within it
// is dropped, leaving the job to the fetch poll, so it is River's least,
// 1 ms.
func fetchCooldown(postgres bool) time.Duration {
	if postgres {
		return time.Millisecond
	}
	return 2 * time.Millisecond
}

// Handler returns the HTTP API (see api.handler for the routes).
func (s *Service) Handler() http.Handler { return s.api.handler() }

// Start starts working jobs. The context only bounds starting.
func (s *Service) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return errors.New("gateway: already started")
	}
	events, stop := s.store.Subscribe(river.EventKindJobCompleted, river.EventKindJobFailed, river.EventKindJobCancelled, river.EventKindJobSnoozed)
	s.stopSub = stop
	s.subDone = make(chan struct{})
	go func() {
		defer close(s.subDone)
		for ev := range events {
			var args store.TaskArgs
			if ev.Job != nil && json.Unmarshal(ev.Job.EncodedArgs, &args) == nil {
				s.api.waiters.wake(args.TaskID)
			}
		}
	}()
	// The lease exists before River fetches a job in this process's name.
	if err := s.store.Heartbeat(ctx, s.id); err != nil {
		stop()
		<-s.subDone
		return err
	}
	if err := s.store.Start(context.WithoutCancel(ctx)); err != nil {
		stop()
		<-s.subDone
		return err
	}
	s.bgDone.Add(2)
	if s.store.Leases() {
		s.bgDone.Add(1)
		go func() { defer s.bgDone.Done(); s.keepLease() }()
	}
	go func() { defer s.bgDone.Done(); s.pump.run(s.stopBg) }()
	go func() { defer s.bgDone.Done(); s.reports.expire(time.Duration(s.cfg.DeliveryTimeout), s.stopBg) }()
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
		ctx, cancel := context.WithTimeout(ctx, time.Duration(s.cfg.ShutdownTimeout))
		defer cancel()
		s.mu.Lock()
		started := s.started
		s.mu.Unlock()
		if started {
			err = s.store.Stop(ctx)
			s.stopSub()
			<-s.subDone
			close(s.stopBg)
			s.bgDone.Wait()
			lctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err = errors.Join(err, s.store.Leave(lctx, s.id))
			cancel()
		}
		err = errors.Join(err, s.close())
	})
	return err
}

// keepLease renews this process's lease and takes over the jobs of dead
// processes, until stopBg is closed.
func (s *Service) keepLease() {
	t := time.NewTicker(leaseEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stopBg:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), leaseEvery)
		err := s.store.Heartbeat(ctx, s.id)
		var n int64
		if err == nil {
			n, err = s.store.TakeOver(ctx, leaseTTL)
		}
		cancel()
		if err != nil {
			s.log.Error("lease", "error", err)
		}
		if n > 0 {
			s.log.Warn("took over the running jobs of a process whose lease expired", "jobs", n)
		}
	}
}

// close closes the providers, the limits and the database.
func (s *Service) close() error {
	err := closeProviders(s.providers)
	s.limits.close()
	s.store.Close()
	return err
}

// Drain starts a graceful stop without waiting: requests waiting for a
// result answer at once with the task's current status, and running
// mailings stop handing out numbers (they snooze after the messages in
// flight). Call it before shutting the HTTP server down, then Shutdown.
// It is idempotent.
func (s *Service) Drain() {
	s.drainOnce.Do(func() { close(s.draining) })
	s.api.waiters.closeAll()
}

package gateway

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/smsgateway/sms"
	"github.com/smsgateway/sms/internal/gateway/store"
)

// apiStore is what the HTTP API needs of the storage.
type apiStore interface {
	Enqueue(ctx context.Context, args store.TaskArgs, opts *river.InsertOpts, t store.Task, msgs []store.Message) (store.Task, error)
	Task(ctx context.Context, id string) (store.Task, error)
	Job(ctx context.Context, id int64) (*rivertype.JobRow, error)
	Counts(ctx context.Context, sl store.Slice) (store.Counts, error)
	TaskMessages(ctx context.Context, taskID string) ([]store.Message, error)
	ListMessages(ctx context.Context, f store.MessageFilter) ([]store.Message, int64, error)
	DeliveryCounts(ctx context.Context, taskID string) (map[string]int, error)
	Ping(ctx context.Context) error
}

// api serves the HTTP API over the store and the providers.
type api struct {
	cfg       *Config
	log       *slog.Logger
	store     apiStore
	providers map[string]*provider
	metrics   *metrics
	waiters   *waiters
	reports   http.Handler // the gateways' delivery report callbacks
	// events is called after a task with a callback URL is queued: its
	// skipped rows already owe events (see eventPump).
	events func()
	now    func() time.Time
}

// handler returns the HTTP API:
//
//	POST /sending          one number  (query parameters or a JSON object)
//	POST /mailing          many numbers (a JSON array body, or a JSON object)
//	GET  /tasks/{task_id}  a task's status, result and progress
//	GET  /messages         the message log, filtered and paged
//	GET  /healthz          liveness (no authentication)
//	GET  /readyz           readiness: the database answers (no authentication)
//	GET  /metrics          Prometheus metrics
//	GET, POST /reports/{provider}  delivery reports from gateways (no API
//	                       key: each report URL carries its own code)
//
// A known path asked with another method answers 405 with an Allow header.
func (a *api) handler() http.Handler {
	routes := []struct {
		method, path string
		h            http.Handler
	}{
		{"POST", "/sending", a.auth(a.submit(false))},
		{"POST", "/mailing", a.auth(a.submit(true))},
		{"GET", "/tasks/{task_id}", a.auth(http.HandlerFunc(a.getTask))},
		{"GET", "/messages", a.auth(http.HandlerFunc(a.listMessages))},
		{"GET", "/metrics", a.auth(promhttp.HandlerFor(a.metrics.reg, promhttp.HandlerOpts{}))},
		{"GET", "/healthz", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		})},
		{"GET", "/readyz", http.HandlerFunc(a.ready)},
		{"GET", "/reports/{provider}", a.reports},
		{"POST", "/reports/{provider}", a.reports},
	}
	mux := http.NewServeMux()
	allowed := map[string][]string{}
	for _, rt := range routes {
		mux.Handle(rt.method+" "+rt.path, rt.h)
		allowed[rt.path] = append(allowed[rt.path], rt.method)
	}
	for path, methods := range allowed {
		if slices.Contains(methods, "GET") {
			methods = append(methods, "HEAD")
		}
		allow := strings.Join(methods, ", ")
		mux.HandleFunc(path, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Allow", allow)
			writeError(w, &apiError{Status: http.StatusMethodNotAllowed, Message: "method not allowed; use " + allow})
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, &apiError{Status: http.StatusNotFound, Message: "no such endpoint"})
	})
	return a.count(mux)
}

// count records every request in the metrics, by route pattern.
func (a *api) count(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(sw, r)
		route := r.Pattern
		if route == "" || route == "/" {
			route = "other"
		}
		a.metrics.requests.WithLabelValues(route, strconv.Itoa(sw.code)).Inc()
	})
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

// auth requires "Authorization: Bearer <key>" (the scheme in any case, as
// RFC 7235 says) with one of the configured keys, when there are any. Keys
// are compared as SHA-256 digests with crypto/subtle, so the comparison
// takes the same time whatever the key.
func (a *api) auth(next http.Handler) http.Handler {
	if len(a.cfg.APIKeys) == 0 {
		return next
	}
	digests := make([][32]byte, len(a.cfg.APIKeys))
	for i, k := range a.cfg.APIKeys {
		digests[i] = sha256.Sum256([]byte(k))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, token, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
		match := 0
		if ok && strings.EqualFold(scheme, "Bearer") {
			d := sha256.Sum256([]byte(strings.TrimSpace(token)))
			for i := range digests {
				match |= subtle.ConstantTimeCompare(d[:], digests[i][:])
			}
		}
		if match != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="smsgateway"`)
			writeError(w, &apiError{Status: http.StatusUnauthorized, Message: "missing or invalid API key"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (a *api) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := a.store.Ping(ctx); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func (a *api) limits() limits {
	lim := limits{
		known:       a.cfg.names(),
		maxMailing:  a.cfg.MaxMailing,
		maxText:     a.cfg.MaxTextBytes,
		defaultWait: time.Duration(a.cfg.DefaultWait),
		maxWait:     time.Duration(a.cfg.MaxWait),
		check: func(address string, m sms.Mailing) *sms.Report {
			return a.providers[address].client.Check(m)
		},
	}
	if a.cfg.CallbackSecret != "" {
		lim.callback = func(raw string) error { return checkCallbackURL(raw, a.cfg.CallbackPrivate) }
	}
	return lim
}

// submit handles POST /sending (mailing false) and POST /mailing: it
// validates the request, queues the task, and waits for its result up to
// the request's wait.
func (a *api) submit(mailing bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.cfg.MaxBodyBytes))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				writeError(w, &apiError{Status: http.StatusRequestEntityTooLarge, Message: fmt.Sprintf("body larger than %d bytes", tooBig.Limit)})
				return
			}
			writeError(w, &apiError{Status: http.StatusBadRequest, Message: "cannot read the body"})
			return
		}
		req, aerr := decodeRequest(r.URL.Query(), body, mailing, a.limits(), a.now())
		if aerr != nil {
			writeError(w, aerr)
			return
		}
		t, msgs := req.task(uuid.NewString(), mailing)
		// A waiting request listens before the task is queued: its run may
		// end before Enqueue returns.
		var woke <-chan struct{}
		if req.Wait > 0 {
			var drop func()
			woke, drop = a.waiters.register(t.ID)
			defer drop()
		}
		args := store.TaskArgs{TaskID: t.ID, Address: t.Address, Text: req.Message, Events: t.CallbackURL != ""}
		t, err = a.store.Enqueue(r.Context(), args, &river.InsertOpts{ScheduledAt: req.at}, t, msgs)
		if err != nil {
			a.log.ErrorContext(r.Context(), "enqueue task", "error", err)
			writeError(w, &apiError{Status: http.StatusServiceUnavailable, Message: "cannot queue the task; try again"})
			return
		}
		a.metrics.tasks.WithLabelValues(t.Kind).Inc()
		skipped := 0
		for _, m := range msgs {
			if m.Status == store.StateSkipped {
				skipped++
			}
		}
		a.metrics.final(t.Address, store.StateSkipped, "", skipped)
		if skipped > 0 && t.CallbackURL != "" {
			a.events()
		}
		ans := queued(t, msgs) // what the task is as written
		if req.Wait > 0 {
			if ans, err = a.wait(r.Context(), t, ans, woke, time.Duration(req.Wait)); err != nil {
				// The task is queued: say so rather than fail.
				a.log.ErrorContext(r.Context(), "read task", "task_id", t.ID, "error", err)
				ans = queued(t, msgs)
			}
		}
		writeJSON(w, http.StatusOK, ans)
	})
}

// taskAnswer is the original service's answer, plus progress for mailings.
type taskAnswer struct {
	TaskID     string    `json:"task_id"`
	TaskStatus string    `json:"task_status"`
	TaskResult any       `json:"task_result"`
	Progress   *progress `json:"progress,omitempty"`
}

// progress tells how far a mailing has come: its messages by state, and
// by delivery status when reports were asked for.
type progress struct {
	Done     int            `json:"done"`
	Total    int            `json:"total"`
	Counts   store.Counts   `json:"counts"`
	Delivery map[string]int `json:"delivery,omitempty"`
}

// resultEntry is the result for one number: the original's status, number
// and URL, plus what the message log knows.
type resultEntry struct {
	// Status is the gateway's own status (an HTTP status for HTTP
	// gateways); 0 when it gave none.
	Status    int         `json:"status"`
	Number    json.Number `json:"number"`
	URL       string      `json:"URL"`
	State     string      `json:"state"`
	MessageID string      `json:"message_id,omitempty"`
	Vendor    string      `json:"vendor,omitempty"`
	Kind      string      `json:"kind,omitempty"`
	Error     string      `json:"error,omitempty"`
	Attempts  int         `json:"attempts"`
	Parts     int         `json:"parts"`
	// Delivery and DeliveredAt: see store.Message.
	Delivery    string     `json:"delivery,omitempty"`
	DeliveredAt *time.Time `json:"delivered_at,omitempty"`
}

func entryOf(m store.Message) resultEntry {
	return resultEntry{
		Status: m.StatusCode, Number: json.Number(strings.TrimPrefix(m.Number, "+")), URL: m.URL,
		State: m.Status, MessageID: m.MessageID, Vendor: m.Vendor, Kind: m.Kind, Error: m.Error,
		Attempts: m.Attempts, Parts: m.Parts, Delivery: m.Delivery, DeliveredAt: m.DeliveredAt,
	}
}

// queued is the answer for task t as just queued with its rows msgs.
func queued(t store.Task, msgs []store.Message) taskAnswer {
	ans := taskAnswer{TaskID: t.ID, TaskStatus: store.StatusPending}
	if t.Kind == store.KindMailing {
		counts := store.CountsOf(msgs)
		ans.Progress = &progress{Done: t.Total - counts.Active(), Total: t.Total, Counts: counts}
	}
	return ans
}

// read returns the current answer for task t. Its job is read only while
// some message is not final: the rows then decide, even before River's
// completer marks the job completed. The one row of a sending is read
// whole at once; a mailing's rows are counted, and read once all are final.
func (a *api) read(ctx context.Context, t store.Task) (taskAnswer, error) {
	ans := taskAnswer{TaskID: t.ID}
	var msgs []store.Message
	var counts store.Counts
	var err error
	if t.Kind == store.KindSending {
		msgs, err = a.store.TaskMessages(ctx, t.ID)
		counts = store.CountsOf(msgs)
	} else {
		counts, err = a.store.Counts(ctx, store.Slice{TaskID: t.ID})
	}
	if err != nil {
		return ans, err
	}
	var job *rivertype.JobRow
	if counts.Active() > 0 {
		if job, err = a.store.Job(ctx, t.JobID); err != nil {
			return ans, err
		}
	}
	ans.TaskStatus = store.TaskStatus(job, counts)
	if t.Kind == store.KindMailing {
		ans.Progress = &progress{Done: t.Total - counts.Active(), Total: t.Total, Counts: counts}
		if a.cfg.PublicURL != "" {
			if ans.Progress.Delivery, err = a.store.DeliveryCounts(ctx, t.ID); err != nil {
				return ans, err
			}
		}
	}
	if !store.Final(ans.TaskStatus) {
		return ans, nil
	}
	if msgs == nil {
		if msgs, err = a.store.TaskMessages(ctx, t.ID); err != nil {
			return ans, err
		}
	}
	entries := make([]resultEntry, len(msgs))
	for i, m := range msgs {
		entries[i] = entryOf(m)
	}
	if t.Kind == store.KindSending && len(entries) == 1 {
		ans.TaskResult = entries[0]
	} else {
		ans.TaskResult = entries
	}
	return ans, nil
}

// getTask handles GET /tasks/{task_id}.
func (a *api) getTask(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("task_id")
	if _, err := uuid.Parse(id); err != nil {
		writeError(w, &apiError{Status: http.StatusNotFound, Message: "task not found"})
		return
	}
	t, err := a.store.Task(r.Context(), id)
	if errors.Is(err, store.ErrTaskNotFound) {
		writeError(w, &apiError{Status: http.StatusNotFound, Message: "task not found"})
		return
	}
	if err != nil {
		a.internalError(w, r, "read task", err)
		return
	}
	ans, err := a.read(r.Context(), t)
	if err != nil {
		a.internalError(w, r, "read task", err)
		return
	}
	writeJSON(w, http.StatusOK, ans)
}

// Paging bounds of GET /messages.
const (
	defaultPage = 100
	maxPage     = 1000
)

// listMessages handles GET /messages?number=&status=&delivery=&task_id=&from=&to=&limit=&cursor=.
func (a *api) listMessages(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := store.MessageFilter{Limit: defaultPage, Status: q.Get("status"), Delivery: q.Get("delivery"), TaskID: q.Get("task_id")}
	var errs problems
	for k, v := range q {
		switch {
		case !slices.Contains([]string{"number", "status", "delivery", "task_id", "from", "to", "limit", "cursor"}, k):
			errs.add(k, "unknown parameter")
		case len(v) > 1:
			errs.add(k, "given more than once")
		}
	}
	if n := q.Get("number"); n != "" {
		norm, err := sms.NormalizeNumber(n)
		if err != nil {
			errs.add("number", "%v", err)
		}
		f.Number = norm
	}
	if f.Status != "" && !slices.Contains(store.States, f.Status) {
		errs.add("status", "one of %s", strings.Join(store.States, ", "))
	}
	if f.Delivery != "" && !slices.Contains(store.Deliveries, f.Delivery) {
		errs.add("delivery", "one of %s", strings.Join(store.Deliveries, ", "))
	}
	if f.TaskID != "" {
		if _, err := uuid.Parse(f.TaskID); err != nil {
			errs.add("task_id", "must be a task ID (a UUID)")
		}
	}
	for _, tf := range []struct {
		name string
		dst  *time.Time
	}{{"from", &f.From}, {"to", &f.To}} {
		if v := q.Get(tf.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				errs.add(tf.name, "must be an RFC 3339 time")
			}
			*tf.dst = t
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPage {
			errs.add("limit", "an integer from 1 to %d", maxPage)
		}
		f.Limit = n
	}
	if v := q.Get("cursor"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			errs.add("cursor", "the next_cursor of a previous page")
		}
		f.After = n
	}
	if aerr := errs.err(); aerr != nil {
		writeError(w, aerr)
		return
	}
	msgs, next, err := a.store.ListMessages(r.Context(), f)
	if err != nil {
		a.internalError(w, r, "list messages", err)
		return
	}
	ans := struct {
		Messages   []store.Message `json:"messages"`
		NextCursor string          `json:"next_cursor,omitempty"`
	}{Messages: msgs}
	if ans.Messages == nil {
		ans.Messages = []store.Message{}
	}
	if next > 0 {
		ans.NextCursor = strconv.FormatInt(next, 10)
	}
	writeJSON(w, http.StatusOK, ans)
}

func (a *api) internalError(w http.ResponseWriter, r *http.Request, what string, err error) {
	a.log.LogAttrs(r.Context(), slog.LevelError, what, slog.String("error", err.Error()))
	writeError(w, &apiError{Status: http.StatusInternalServerError, Message: "internal error"})
}

func writeError(w http.ResponseWriter, e *apiError) { writeJSON(w, e.Status, e) }

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

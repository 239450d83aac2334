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
)

// Celery's task status names, which the original service's clients know.
const (
	statusPending = "PENDING"
	statusStarted = "STARTED"
	statusRetry   = "RETRY"
	statusSuccess = "SUCCESS"
	statusFailure = "FAILURE"
)

// Handler returns the HTTP API:
//
//	POST /sending          one number  (query parameters or a JSON object)
//	POST /mailing          many numbers (a JSON array body, or a JSON object)
//	GET  /tasks/{task_id}  a task's status, result and progress
//	GET  /messages         the message log, filtered and paged
//	GET  /healthz          liveness (no authentication)
//	GET  /readyz           readiness: the database answers (no authentication)
//	GET  /metrics          Prometheus metrics
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST /sending", s.auth(s.submit(false)))
	mux.Handle("POST /mailing", s.auth(s.submit(true)))
	mux.Handle("GET /tasks/{task_id}", s.auth(http.HandlerFunc(s.getTask)))
	mux.Handle("GET /messages", s.auth(http.HandlerFunc(s.listMessages)))
	mux.Handle("GET /metrics", s.auth(promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{})))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.Ready(ctx); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, &apiError{Status: http.StatusNotFound, Message: "no such endpoint"})
	})
	return s.count(mux)
}

// count records every request in the metrics, by route pattern.
func (s *Service) count(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(sw, r)
		route := r.Pattern
		if route == "" || route == "/" {
			route = "other"
		}
		s.metrics.requests.WithLabelValues(route, strconv.Itoa(sw.code)).Inc()
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

// auth requires "Authorization: Bearer <key>" with one of the configured
// keys, when there are any. Keys are compared as SHA-256 digests with
// crypto/subtle, so the comparison takes the same time whatever the key.
func (s *Service) auth(next http.Handler) http.Handler {
	if len(s.cfg.APIKeys) == 0 {
		return next
	}
	digests := make([][32]byte, len(s.cfg.APIKeys))
	for i, k := range s.cfg.APIKeys {
		digests[i] = sha256.Sum256([]byte(k))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		match := 0
		if ok {
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

func (s *Service) limits() limits {
	return limits{
		known:       s.cfg.names(),
		maxMailing:  s.cfg.MaxMailing,
		maxText:     s.cfg.MaxTextBytes,
		defaultWait: s.cfg.DefaultWait.D(),
		maxWait:     s.cfg.MaxWait.D(),
	}
}

// submit handles POST /sending (mailing false) and POST /mailing.
func (s *Service) submit(mailing bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				writeError(w, &apiError{Status: http.StatusRequestEntityTooLarge, Message: fmt.Sprintf("body larger than %d bytes", tooBig.Limit)})
				return
			}
			writeError(w, &apiError{Status: http.StatusBadRequest, Message: "cannot read the body"})
			return
		}
		req, aerr := decodeRequest(r.URL.Query(), body, mailing, s.limits(), s.now())
		if aerr != nil {
			writeError(w, aerr)
			return
		}
		t, msgs := newTask(req, mailing)
		opts := &river.InsertOpts{ScheduledAt: req.SendAt}
		jobID, err := s.eng.enqueue(r.Context(), taskArgs{TaskID: t.ID, Address: t.Address, Text: req.Text}, opts, t, msgs)
		if err != nil {
			s.log.Error("enqueue task", "error", err)
			writeError(w, &apiError{Status: http.StatusServiceUnavailable, Message: "cannot queue the task; try again"})
			return
		}
		s.metrics.tasks.WithLabelValues(t.Kind).Inc()
		t.JobID = jobID
		var ans taskAnswer
		if req.Wait > 0 {
			ans, err = s.waitTask(r.Context(), t, req.Wait)
		} else {
			ans, err = s.answer(r.Context(), t, nil)
		}
		if err != nil {
			// The task is queued: say so rather than fail.
			s.log.Error("read task", "task_id", t.ID, "error", err)
			ans = taskAnswer{TaskID: t.ID, TaskStatus: statusPending}
		}
		writeJSON(w, http.StatusOK, ans)
	})
}

// newTask builds the task and its message rows. A number that repeats an
// earlier one after normalization is recorded as skipped.
func newTask(req request, mailing bool) (task, []Message) {
	t := task{ID: uuid.NewString(), Kind: kindSending, Address: req.Address, Total: len(req.Numbers)}
	if mailing {
		t.Kind = kindMailing
	}
	parts := sms.Analyze(req.Text).Parts
	seen := make(map[string]int, len(req.Numbers))
	msgs := make([]Message, len(req.Numbers))
	for i, n := range req.Numbers {
		m := Message{Index: i, To: req.To[i], Number: n, Status: StateQueued, Parts: parts}
		if first, dup := seen[n]; dup {
			m.Status = StateSkipped
			m.Error = fmt.Sprintf("%v (first at #%d)", sms.ErrDuplicate, first)
		} else {
			seen[n] = i
		}
		msgs[i] = m
	}
	return t, msgs
}

// taskAnswer is the original service's answer, plus progress for mailings.
type taskAnswer struct {
	TaskID     string    `json:"task_id"`
	TaskStatus string    `json:"task_status"`
	TaskResult any       `json:"task_result"`
	Progress   *progress `json:"progress,omitempty"`
}

// progress tells how far a mailing has come.
type progress struct {
	Done   int            `json:"done"`
	Total  int            `json:"total"`
	Counts map[string]int `json:"counts"`
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
}

func entryOf(m Message) resultEntry {
	return resultEntry{
		Status: m.StatusCode, Number: json.Number(strings.TrimPrefix(m.Number, "+")), URL: m.URL,
		State: m.Status, MessageID: m.MessageID, Vendor: m.Vendor, Kind: m.Kind, Error: m.Error,
		Attempts: m.Attempts, Parts: m.Parts,
	}
}

// answer builds the answer for task t from its job (nil when unknown, for
// example deleted by River's cleaner) and its rows.
func (s *Service) answer(ctx context.Context, t task, job *rivertype.JobRow) (taskAnswer, error) {
	ans := taskAnswer{TaskID: t.ID}
	counts, err := s.store.counts(ctx, t.ID)
	if err != nil {
		return ans, err
	}
	active := counts[StateQueued] + counts[StateSending] + counts[StateRetry]
	ans.TaskStatus = celeryStatus(job, counts, active)
	if t.Kind == kindMailing {
		ans.Progress = &progress{Done: t.Total - active, Total: t.Total, Counts: counts}
	}
	if ans.TaskStatus != statusSuccess && ans.TaskStatus != statusFailure {
		return ans, nil
	}
	msgs, err := s.store.taskMessages(ctx, t.ID)
	if err != nil {
		return ans, err
	}
	entries := make([]resultEntry, len(msgs))
	for i, m := range msgs {
		entries[i] = entryOf(m)
	}
	if t.Kind == kindSending && len(entries) == 1 {
		ans.TaskResult = entries[0]
	} else {
		ans.TaskResult = entries
	}
	return ans, nil
}

// celeryStatus maps River's job state (and, once the job is gone, the
// rows) to a Celery status name.
func celeryStatus(job *rivertype.JobRow, counts map[string]int, active int) string {
	outcome := func() string {
		if counts[StateSent] > 0 && counts[StateNotAttempted] == 0 {
			return statusSuccess
		}
		return statusFailure
	}
	if job != nil && (job.State == rivertype.JobStateDiscarded || job.State == rivertype.JobStateCancelled) {
		return statusFailure
	}
	if active == 0 && len(counts) > 0 {
		// Every message is final: the outcome is known even before River's
		// completer marks the job completed.
		return outcome()
	}
	if job == nil {
		return statusPending
	}
	switch job.State {
	case rivertype.JobStateRunning:
		return statusStarted
	case rivertype.JobStateRetryable:
		return statusRetry
	case rivertype.JobStateCompleted:
		var out taskOutput
		if b := job.Output(); len(b) > 0 && json.Unmarshal(b, &out) == nil && out.Status != "" {
			return out.Status
		}
		return outcome()
	case rivertype.JobStateDiscarded, rivertype.JobStateCancelled:
		return statusFailure
	default: // available, scheduled, pending
		if n := len(job.Errors); n > 0 && job.Errors[n-1].Attempt == job.Attempt {
			return statusRetry // the last run failed and the next is due
		}
		if job.AttemptedAt != nil {
			// A snoozed task has begun and resumes at once.
			return statusStarted
		}
		return statusPending
	}
}

// getTask handles GET /tasks/{task_id}.
func (s *Service) getTask(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("task_id")
	if _, err := uuid.Parse(id); err != nil {
		writeError(w, &apiError{Status: http.StatusNotFound, Message: "task not found"})
		return
	}
	t, err := s.store.task(r.Context(), id)
	if errors.Is(err, errTaskNotFound) {
		writeError(w, &apiError{Status: http.StatusNotFound, Message: "task not found"})
		return
	}
	if err != nil {
		s.internalError(w, "read task", err)
		return
	}
	ans, err := s.read(r.Context(), t)
	if err != nil {
		s.internalError(w, "read task", err)
		return
	}
	writeJSON(w, http.StatusOK, ans)
}

// Paging bounds of GET /messages.
const (
	defaultPage = 100
	maxPage     = 1000
)

// listMessages handles GET /messages?number=&status=&task_id=&from=&to=&limit=&cursor=.
func (s *Service) listMessages(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := MessageFilter{Limit: defaultPage, Status: q.Get("status"), TaskID: q.Get("task_id")}
	var errs []fieldError
	if n := q.Get("number"); n != "" {
		norm, err := sms.NormalizeNumber(n)
		if err != nil {
			errs = append(errs, fieldError{"number", err.Error()})
		}
		f.Number = norm
	}
	if f.Status != "" && !slices.Contains(allStates, f.Status) {
		errs = append(errs, fieldError{"status", "one of " + strings.Join(allStates, ", ")})
	}
	for _, tf := range []struct {
		name string
		dst  *time.Time
	}{{"from", &f.From}, {"to", &f.To}} {
		if v := q.Get(tf.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				errs = append(errs, fieldError{tf.name, "must be an RFC 3339 time"})
			}
			*tf.dst = t
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPage {
			errs = append(errs, fieldError{"limit", fmt.Sprintf("an integer from 1 to %d", maxPage)})
		}
		f.Limit = n
	}
	if v := q.Get("cursor"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			errs = append(errs, fieldError{"cursor", "the next_cursor of a previous page"})
		}
		f.After = n
	}
	if len(errs) > 0 {
		writeError(w, &apiError{Status: http.StatusUnprocessableEntity, Message: "validation failed", Details: errs})
		return
	}
	msgs, next, err := s.store.listMessages(r.Context(), f)
	if err != nil {
		s.internalError(w, "list messages", err)
		return
	}
	ans := struct {
		Messages   []Message `json:"messages"`
		NextCursor string    `json:"next_cursor,omitempty"`
	}{Messages: msgs}
	if ans.Messages == nil {
		ans.Messages = []Message{}
	}
	if next > 0 {
		ans.NextCursor = strconv.FormatInt(next, 10)
	}
	writeJSON(w, http.StatusOK, ans)
}

func (s *Service) internalError(w http.ResponseWriter, what string, err error) {
	s.log.LogAttrs(context.Background(), slog.LevelError, what, slog.String("error", err.Error()))
	writeError(w, &apiError{Status: http.StatusInternalServerError, Message: "internal error"})
}

func writeError(w http.ResponseWriter, e *apiError) { writeJSON(w, e.Status, e) }

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

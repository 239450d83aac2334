package gateway

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/riverqueue/river"

	"github.com/smsgateway/sms/internal/gateway/store"
)

// Callbacks to the caller: a request's callback_url gets a signed JSON POST
// for each message's final outcome and final delivery status (see
// store.Event). The rows say which events are due (store.QueueEvents turns
// them into River jobs in the same transaction), and the jobs are retried
// with backoff for Config.CallbackRetryFor, across restarts: a receiver
// gets each event at least once and deduplicates by its event_id.
//
// Which addresses a caller may make the service call: by default only
// public ones. A callback URL must be http or https, and its host must not
// be "localhost" nor an address that is loopback, private, link-local,
// multicast or unspecified; the same check runs on the address actually
// dialled, so a name that resolves (or later re-resolves) to such an
// address is refused too, and redirects are not followed. Config.
// CallbackPrivate lifts this for services whose receivers are internal.

// SignatureHeader carries an event's signature: "sha256=" and the hex
// HMAC-SHA256 of the body under Config.CallbackSecret.
const SignatureHeader = "X-SMS-Signature"

// sign returns the SignatureHeader value of body.
func sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// errPrivateAddress is the cause of a refused callback address.
var errPrivateAddress = errors.New("not a public address (set callback_private to allow internal receivers)")

// internalPrefixes are address blocks that are not the public Internet
// besides those netip classifies: shared address space (RFC 6598, where
// some clouds put their metadata endpoint), "this network", benchmarking
// and reserved space.
var internalPrefixes = []netip.Prefix{
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"),
}

// publicAddr reports whether ip may be called under the default policy.
func publicAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() {
		return false
	}
	return !slices.ContainsFunc(internalPrefixes, func(p netip.Prefix) bool { return p.Contains(ip) })
}

// checkCallbackURL validates a request's callback_url.
func checkCallbackURL(raw string, private bool) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https"):
		return errors.New("must be an absolute http or https URL")
	case u.User != nil:
		return errors.New("must not carry credentials")
	case len(raw) > 2048:
		return errors.New("longer than 2048 bytes")
	case private:
		return nil
	}
	host := strings.ToLower(u.Hostname())
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return errPrivateAddress
	}
	if ip, err := netip.ParseAddr(host); err == nil && !publicAddr(ip) {
		return errPrivateAddress
	}
	return nil
}

// callbackClient is the HTTP client of the callbacks: it never follows a
// redirect, and unless private is true it dials public addresses only.
func callbackClient(private bool) *http.Client {
	d := &net.Dialer{Timeout: 10 * time.Second}
	if !private {
		d.Control = func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil || !publicAddr(ap.Addr()) {
				return errPrivateAddress
			}
			return nil
		}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = d.DialContext
	tr.Proxy = nil
	return &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// errNoSecret fails the callbacks queued before callback_secret was removed.
var errNoSecret = errors.New("no callback_secret is configured to sign the event")

// callbackWorker posts one event.
type callbackWorker struct {
	river.WorkerDefaults[store.CallbackArgs]
	secret   []byte
	client   *http.Client
	retryFor time.Duration
	now      func() time.Time
	log      *slog.Logger
	// result counts each post: "delivered", "failed" (retried) or
	// "gave_up".
	result func(result string)
}

// callbackTimeout bounds one post.
const callbackTimeout = 15 * time.Second

// Timeout bounds one post.
func (w *callbackWorker) Timeout(*river.Job[store.CallbackArgs]) time.Duration {
	return callbackTimeout
}

// NextRetry backs off exponentially from one second to ten minutes.
func (w *callbackWorker) NextRetry(job *river.Job[store.CallbackArgs]) time.Time {
	d := time.Second << min(job.Attempt-1, 10)
	return w.now().Add(min(d, 10*time.Minute))
}

// Work posts the event; an answer other than 2xx, or none, fails the job
// so that River retries it, until the event is older than retryFor.
func (w *callbackWorker) Work(ctx context.Context, job *river.Job[store.CallbackArgs]) error {
	body, err := json.Marshal(job.Args.Event)
	if err != nil {
		return river.JobCancel(err)
	}
	if len(w.secret) == 0 {
		// Queued while the service had a secret: unsigned, the receiver
		// could not trust it. Wait for one, as for a receiver that is down.
		err = errNoSecret
	} else {
		err = w.post(ctx, job.Args.URL, job.Args.Event.EventID, body)
	}
	switch {
	case err == nil:
		w.result("delivered")
		return nil
	case w.now().Sub(job.CreatedAt) >= w.retryFor:
		w.result("gave_up")
		w.log.WarnContext(ctx, "callback given up", "event_id", job.Args.Event.EventID, "attempts", job.Attempt, "error", err)
		return river.JobCancel(err)
	default:
		w.result("failed")
		return err
	}
}

func (w *callbackWorker) post(ctx context.Context, u, eventID string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "smsgateway")
	req.Header.Set("X-SMS-Event-ID", eventID)
	req.Header.Set(SignatureHeader, sign(w.secret, body))
	resp, err := w.client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("receiver answered %s", resp.Status)
	}
	return nil
}

// eventPump turns changed rows into callback jobs (store.QueueEvents)
// whenever it is kicked: after a run of a task with a callback, a final
// delivery report, or expired deliveries; once at start, for the rows a
// stopped process left; and every eventBackstop, for the rows another
// process on the same database changed and died before its own pump ran.
type eventPump struct {
	queue func(ctx context.Context, limit int) (int, error)
	log   *slog.Logger
	kicks chan struct{}
}

// eventBackstop is the pump's pass without a kick: one indexed query.
const eventBackstop = time.Minute

// eventBatch is how many rows one transaction of the pump takes.
const eventBatch = 256

func newEventPump(queue func(ctx context.Context, limit int) (int, error), log *slog.Logger) *eventPump {
	return &eventPump{queue: queue, log: log, kicks: make(chan struct{}, 1)}
}

// kick asks for a pass; kicks during a pass make one more.
func (p *eventPump) kick() {
	select {
	case p.kicks <- struct{}{}:
	default:
	}
}

// run passes until stop is closed.
func (p *eventPump) run(stop <-chan struct{}) {
	next := time.NewTimer(0) // the first pass, at start
	defer next.Stop()
	for {
		select {
		case <-stop:
			return
		case <-p.kicks:
		case <-next.C:
		}
		wait := eventBackstop
		if err := p.pass(); err != nil {
			p.log.Error("queue callback events", "error", err)
			wait = time.Second
		}
		next.Reset(wait)
	}
}

// pass queues events until no changed row is left.
func (p *eventPump) pass() error {
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		n, err := p.queue(ctx, eventBatch)
		cancel()
		if err != nil || n < eventBatch {
			return err
		}
	}
}

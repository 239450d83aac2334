package kanneltest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Fixed names of the configuration. The passwords are random per gateway.
const (
	// Username is the main sendsms account: concatenation on, up to
	// MaxParts parts, receivers starting with BlackListedPrefix refused.
	Username = "tester"
	// SingleUsername is an account with Kannel's defaults (max-messages 1,
	// no concatenation): a long text is silently truncated to one part and
	// still answered 202.
	SingleUsername = "single"
	// MaxParts is max-messages of the Username account.
	MaxParts = 10
	// SMSCID is the smsc-id of the fake SMSC.
	SMSCID = "FAKE"
	// DeniedPrefix is the fake SMSC's denied-prefix: a receiver starting
	// with it is answered 403 "Not routable. Do not try again.".
	DeniedPrefix = "999"
	// BlackListedPrefix is black-listed for Username: such a receiver is
	// answered 400 "Number(s) has/have been denied by white- and/or
	// black-lists.".
	BlackListedPrefix = "000"
	// DefaultSender is smsbox's global-sender, used when a request has no
	// from.
	DefaultSender = "12345"
	// DefaultQueueLimit is the default sms-outgoing-queue-limit. Kannel
	// applies this one limit twice: to the global queue while the SMSC is
	// away (the 503 path of StopSMSC) and to the connected SMSC's own queue,
	// which bursts to dozens of messages under concurrent sending (65 seen
	// with 16 senders on a loaded machine). A small limit such as 5 makes a
	// concurrent mailing fail with spurious 503s; 500 lets mailings through
	// and still reaches the 503 path after 500 queued sends (a fraction of
	// a second). Use WithQueueLimit(5) in a gateway kept for outage tests.
	DefaultQueueLimit = 500
	// DLRRetries is how many times smsbox fetches a delivery report's
	// callback URL (dlr-url) again after it failed: refused, or answered
	// other than 200 or 202.
	DLRRetries = 60
	// DLRRetryDelay is the wait between those fetches.
	DLRRetryDelay = time.Second
	// RequireEnv names the environment variable that turns a missing Kannel
	// into a test failure instead of a skip when set to "1".
	RequireEnv = "SMS_REQUIRE_KANNEL"
)

// Paths of the Debian packages kannel (bearerbox, smsbox) and
// kannel-extras (fakesmsc).
const (
	bearerboxPath = "/usr/sbin/bearerbox"
	smsboxPath    = "/usr/sbin/smsbox"
	fakesmscPath  = "/usr/lib/kannel/test/fakesmsc"
)

const (
	startAttempts = 3                     // fresh ports each time
	startTimeout  = 20 * time.Second      // per attempt
	pollInterval  = 20 * time.Millisecond // readiness and WaitReceived
	probeTimeout  = 5 * time.Second       // one readiness HTTP request
	smscTimeout   = 10 * time.Second      // StopSMSC / StartSMSC
	logTail       = 2048                  // bytes of each log in errors
	fakesmscLog   = "fakesmsc.out"        // what the fake SMSC received
)

// Option changes the configuration of a gateway started by Start.
type Option func(*config)

type config struct {
	queueLimit int
	throughput float64
	// Seams for the harness's own tests.
	bins      binaries
	pickPorts func() (ports, error)
}

// binaries are the paths of the Kannel programs.
type binaries struct {
	bearerbox, smsbox, fakesmsc string
}

func defaultConfig() config {
	return config{
		queueLimit: DefaultQueueLimit,
		bins:       binaries{bearerbox: bearerboxPath, smsbox: smsboxPath, fakesmsc: fakesmscPath},
		pickPorts:  freePorts,
	}
}

// WithQueueLimit sets sms-outgoing-queue-limit: how many messages bearerbox
// queues while the fake SMSC is away (answered 202 "3: Queued for later
// delivery") before sendsms answers 503. The same limit caps the connected
// SMSC's queue, so a small n makes concurrent sends answer 503 now and then
// (see DefaultQueueLimit). n must be positive; otherwise, and by default,
// the limit is DefaultQueueLimit.
func WithQueueLimit(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.queueLimit = n
		}
	}
}

// WithThroughput limits the fake SMSC connection to perSecond messages per
// second (the smsc group's throughput). Zero or negative, the default,
// means unlimited.
func WithThroughput(perSecond float64) Option {
	return func(c *config) { c.throughput = perSecond }
}

// Gateway is a running Kannel: bearerbox with a fake SMSC, fakesmsc
// connected to it, and smsbox serving sendsms, all on 127.0.0.1. Its
// exported fields are read-only. Its methods are safe for concurrent use.
type Gateway struct {
	// SendSMSURL is smsbox's sendsms endpoint,
	// http://127.0.0.1:<port>/cgi-bin/sendsms.
	SendSMSURL string
	// Username and Password are the main account (see Username).
	Username, Password string
	// SingleUsername and SinglePassword are the account with Kannel's
	// defaults (see SingleUsername).
	SingleUsername, SinglePassword string
	// StatusURL is bearerbox's status page with the status password,
	// http://127.0.0.1:<port>/status.txt?password=....
	StatusURL string
	// QueueLimit is the configured sms-outgoing-queue-limit.
	QueueLimit int
	// Dir is the directory holding kannel.conf and the logs: bearerbox.out,
	// smsbox.out, fakesmsc.out, access.log, smsbox-access.log. It is removed
	// with the test's TempDir.
	Dir string
	// StartupTime is how long Start took until the gateway was ready.
	StartupTime time.Duration

	ports  ports
	bins   binaries
	client *http.Client

	mu        sync.Mutex // guards bearerbox, smsbox, fakesmsc
	bearerbox *process
	smsbox    *process
	fakesmsc  *process
}

// Start starts bearerbox, the fake SMSC (fakesmsc from kannel-extras) and
// smsbox in a fresh t.TempDir on free loopback ports, waits until sendsms
// answers and the fake SMSC is online, and stops everything in t.Cleanup
// (SIGTERM to each process group, SIGKILL after 5 s).
//
// When a port turns out to be taken by the time Kannel binds it, Start tries
// again with new ports (three attempts). When the binaries are missing it
// calls t.Skip, or t.Fatal if the environment variable SMS_REQUIRE_KANNEL
// is "1". It must be called from the test's goroutine.
func Start(t testing.TB, opts ...Option) *Gateway {
	t.Helper()
	c := defaultConfig()
	for _, o := range opts {
		o(&c)
	}
	if reason := c.bins.missing(); reason != "" {
		msg := "kanneltest: " + reason + "; install the Debian packages kannel and kannel-extras (see .ci/install-kannel.sh)"
		if os.Getenv(RequireEnv) == "1" {
			t.Fatalf("%s (%s=1 makes this a failure)", msg, RequireEnv)
		}
		t.Skipf("%s, or set %s=1 to fail instead of skipping", msg, RequireEnv)
	}
	begin := time.Now()
	var errs []error
	for attempt := 1; attempt <= startAttempts; attempt++ {
		g, err := start(t.TempDir(), c)
		if err == nil {
			g.StartupTime = time.Since(begin)
			t.Cleanup(g.stop)
			t.Logf("kanneltest: gateway ready in %v at %s (logs in %s)", g.StartupTime.Round(time.Millisecond), g.SendSMSURL, g.Dir)
			return g
		}
		errs = append(errs, fmt.Errorf("attempt %d: %w", attempt, err))
		t.Logf("kanneltest: start attempt %d failed, retrying on new ports: %v", attempt, err)
	}
	t.Fatalf("kanneltest: could not start Kannel: %v", errors.Join(errs...))
	return nil
}

// missing names a missing binary, or returns "".
func (b binaries) missing() string {
	if !supported {
		return "the Kannel harness runs on Linux only"
	}
	for _, p := range []string{b.bearerbox, b.smsbox, b.fakesmsc} {
		if fi, err := os.Stat(p); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return p + " is missing"
		}
	}
	return ""
}

// start makes one attempt in dir. On failure everything it started is
// stopped again.
func start(dir string, c config) (g *Gateway, err error) {
	p, err := c.pickPorts()
	if err != nil {
		return nil, err
	}
	password, statusPassword, adminPassword := randomToken(), randomToken(), randomToken()
	conf, err := writeConfig(configData{
		dir: dir, ports: p, password: password,
		statusPassword: statusPassword, adminPassword: adminPassword,
		queueLimit: c.queueLimit, throughput: c.throughput,
	})
	if err != nil {
		return nil, err
	}
	g = &Gateway{
		SendSMSURL:     fmt.Sprintf("http://127.0.0.1:%d/cgi-bin/sendsms", p.sendsms),
		Username:       Username,
		Password:       password,
		SingleUsername: SingleUsername,
		SinglePassword: password,
		StatusURL:      fmt.Sprintf("http://127.0.0.1:%d/status.txt?password=%s", p.admin, statusPassword),
		QueueLimit:     c.queueLimit,
		Dir:            dir,
		ports:          p,
		bins:           c.bins,
		client:         &http.Client{Timeout: probeTimeout, Transport: &http.Transport{DisableKeepAlives: true}},
	}
	defer func() {
		if err != nil {
			err = fmt.Errorf("%w%s", err, g.logTails())
			g.stop()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()

	g.bearerbox, err = startProcess("bearerbox", dir, filepath.Join(dir, "bearerbox.out"), c.bins.bearerbox, "-v", "1", conf)
	if err != nil {
		return g, err
	}
	// smsbox and fakesmsc give up when bearerbox is not listening yet.
	for _, port := range []int{p.box, p.smsc, p.admin} {
		if err := waitFor(ctx, g.bearerbox, func(context.Context) bool { return listening(port) }); err != nil {
			return g, fmt.Errorf("bearerbox not listening on %d: %w", port, err)
		}
	}
	if g.fakesmsc, err = g.startFakeSMSC(); err != nil {
		return g, err
	}
	g.smsbox, err = startProcess("smsbox", dir, filepath.Join(dir, "smsbox.out"), c.bins.smsbox, "-v", "1", conf)
	if err != nil {
		return g, err
	}
	if err := waitFor(ctx, g.fakesmsc, g.smscOnline); err != nil {
		return g, fmt.Errorf("fake SMSC not online: %w", err)
	}
	if err := waitFor(ctx, g.smsbox, g.sendsmsReady); err != nil {
		return g, fmt.Errorf("sendsms not answering: %w", err)
	}
	if g.bearerbox.exited() {
		return g, errors.New("bearerbox exited")
	}
	return g, nil
}

// freePorts reserves four distinct loopback ports and releases them. Kannel
// binds them a moment later; Start retries if another process was faster.
func freePorts() (ports, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var nums [4]int
	for i := range nums {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return ports{}, err
		}
		ls = append(ls, l)
		nums[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports{admin: nums[0], box: nums[1], smsc: nums[2], sendsms: nums[3]}, nil
}

func randomToken() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

func listening(port int) bool {
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), probeTimeout)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// waitFor polls ready until it is true, the process p exits, or ctx ends.
// The context passed to ready is cancelled as soon as p exits, so that a
// probe stuck on a port held by someone else does not wait for its timeout.
func waitFor(ctx context.Context, p *process, ready func(context.Context) bool) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if p != nil {
		go func() {
			select {
			case <-p.done:
				cancel()
			case <-ctx.Done():
			}
		}()
	}
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		if ready(ctx) {
			return nil
		}
		if p != nil && p.exited() {
			return fmt.Errorf("%s exited: %v", p.name, p.err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// get fetches u and returns the status and at most 64 KiB of the body.
func (g *Gateway) get(ctx context.Context, u string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := g.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, string(b), err
}

// smscOnline reports whether bearerbox's status page shows the fake SMSC
// as connected.
func (g *Gateway) smscOnline(ctx context.Context) bool {
	status, body, err := g.get(ctx, g.StatusURL)
	if err != nil || status != http.StatusOK {
		return false
	}
	return smscState(body, g.ports.smsc) == "online"
}

// smscState returns the state word of the fake SMSC's line in status.txt
// ("online", "re-connecting", "connecting", ...), or "" if there is none.
// The line looks like "FAKE[FAKE] FAKE:23010 (online 0s, rcvd: ...".
func smscState(status string, port int) string {
	prefix := fmt.Sprintf("%s:%d (", SMSCID, port)
	for _, line := range strings.Split(status, "\n") {
		_, after, ok := strings.Cut(line, prefix)
		if !ok {
			continue
		}
		state, _, _ := strings.Cut(after, " ")
		return strings.TrimRight(state, ",)")
	}
	return ""
}

// sendsmsReady probes sendsms with this gateway's credentials and a
// receiver the fake SMSC denies: the answer "Not routable" proves that
// this smsbox, its bearerbox and the routing are up, and sends nothing.
func (g *Gateway) sendsmsReady(ctx context.Context) bool {
	q := url.Values{"username": {g.Username}, "password": {g.Password}, "to": {DeniedPrefix + "0"}, "text": {"probe"}}
	status, body, err := g.get(ctx, g.SendSMSURL+"?"+q.Encode())
	return err == nil && status == http.StatusForbidden && strings.HasPrefix(body, "Not routable")
}

// startFakeSMSC starts fakesmsc, appending to fakesmsc.out. With -m 0 it
// sends no MO messages; -v 0 makes it log each message it receives.
func (g *Gateway) startFakeSMSC() (*process, error) {
	return startProcess("fakesmsc", g.Dir, filepath.Join(g.Dir, fakesmscLog), g.bins.fakesmsc,
		"-v", "0", "-H", "127.0.0.1", "-r", strconv.Itoa(g.ports.smsc), "-m", "0", "12345 67890 text unused")
}

// stop stops smsbox, fakesmsc and bearerbox, in that order.
func (g *Gateway) stop() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, p := range []*process{g.smsbox, g.fakesmsc, g.bearerbox} {
		if p != nil {
			p.stop()
		}
	}
	if g.client != nil {
		g.client.CloseIdleConnections()
	}
}

// StopSMSC stops only the fake SMSC, to simulate an outage, and waits until
// bearerbox has noticed. Afterwards sendsms answers 202 "3: Queued for later
// delivery" for QueueLimit messages, then 503 "Temporal failure, try again
// later.". It does nothing if the fake SMSC is already stopped.
func (g *Gateway) StopSMSC(t testing.TB) {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.fakesmsc == nil || g.fakesmsc.exited() {
		return
	}
	g.fakesmsc.stop()
	ctx, cancel := context.WithTimeout(context.Background(), smscTimeout)
	defer cancel()
	if err := waitFor(ctx, g.bearerbox, func(ctx context.Context) bool { return !g.smscOnline(ctx) }); err != nil {
		t.Fatalf("kanneltest: bearerbox still shows the fake SMSC online: %v%s", err, g.logTails())
	}
}

// StartSMSC restarts the fake SMSC after StopSMSC and waits until it is
// online; bearerbox then delivers the queued messages. Its counter (Seq)
// starts at 1 again. It does nothing if the fake SMSC is running.
func (g *Gateway) StartSMSC(t testing.TB) {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.fakesmsc != nil && !g.fakesmsc.exited() {
		return
	}
	p, err := g.startFakeSMSC()
	if err != nil {
		t.Fatalf("kanneltest: %v", err)
	}
	g.fakesmsc = p
	ctx, cancel := context.WithTimeout(context.Background(), smscTimeout)
	defer cancel()
	if err := waitFor(ctx, p, g.smscOnline); err != nil {
		t.Fatalf("kanneltest: fake SMSC not online again: %v%s", err, g.logTails())
	}
}

// Received returns every message the fake SMSC has logged so far, in the
// order it got them, one Message per part (see Assemble). fakesmsc reads
// messages line by line, so a text containing a newline is logged as two
// lines; a line that does not parse is taken as the continuation of the
// text before it.
func (g *Gateway) Received() []Message {
	b, err := os.ReadFile(filepath.Join(g.Dir, fakesmscLog))
	if err != nil {
		return nil
	}
	return parseLog(b)
}

// ReceivedFor waits until the fake SMSC has logged at least n messages
// (parts) for receiver to, and returns them; it fails t after 15 seconds.
func (g *Gateway) ReceivedFor(t testing.TB, to string, n int) []Message {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var got []Message
		for _, m := range g.Received() {
			if m.To == to {
				got = append(got, m)
			}
		}
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("kanneltest: %d message(s) to %s after 15s, want %d", len(got), to, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// parseLog parses fakesmsc's output; an unfinished last line is ignored.
func parseLog(b []byte) []Message {
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		b = b[:i+1]
	} else {
		return nil
	}
	var msgs []Message
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		m, err := ParseLine(line)
		switch {
		case err == nil:
			msgs = append(msgs, m)
		case errors.Is(err, ErrMalformed) && len(msgs) > 0 && msgs[len(msgs)-1].Coding == CodingText && msgs[len(msgs)-1].UDH == nil:
			if _, body, serr := splitLine(line); serr == nil {
				last := &msgs[len(msgs)-1]
				last.Text += "\n" + body
				last.Payload = []byte(last.Text)
			}
		}
	}
	return msgs
}

// WaitReceived waits until the fake SMSC has logged at least n messages
// (parts, as in Received) and returns them all. When ctx ends first it
// returns what has arrived so far and ctx.Err().
func (g *Gateway) WaitReceived(ctx context.Context, n int) ([]Message, error) {
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		msgs := g.Received()
		if len(msgs) >= n {
			return msgs, nil
		}
		select {
		case <-ctx.Done():
			return msgs, ctx.Err()
		case <-t.C:
		}
	}
}

// logTails returns the end of each log, for error messages.
func (g *Gateway) logTails() string {
	var b strings.Builder
	for _, name := range []string{"bearerbox.out", "smsbox.out", fakesmscLog} {
		data, err := os.ReadFile(filepath.Join(g.Dir, name))
		if err != nil || len(data) == 0 {
			continue
		}
		if len(data) > logTail {
			data = data[len(data)-logTail:]
		}
		fmt.Fprintf(&b, "\n--- %s:\n%s", name, data)
	}
	return b.String()
}

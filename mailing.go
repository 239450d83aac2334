package sms

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/smsgateway/sms/internal/mask"
)

// Mailing is one text for many numbers.
type Mailing struct {
	Text string
	From string
	// To lists the recipients. Report.Results[i] belongs to To[i].
	To []string
	// ID, when not empty, gives the message to To[i] the Message.ID
	// ID + "/" + i. Choose it unique per mailing: with an
	// IdempotentProvider it makes retrying an ambiguous outcome safe, and
	// a repeat of the whole mailing with the same ID is deduplicated by the
	// gateway. Empty means no IDs.
	ID string
}

// Stream is a mailing whose entries come from an iterator, for lists too
// large to hold in memory, or for texts that differ per recipient.
type Stream struct {
	// Messages yields the entries; it is read once, in order, and not past
	// the point where the mailing stops. Each is validated and sent as Send
	// would: its To normalized, its ID handed to the provider as given.
	Messages iter.Seq[Message]
	// AllowDuplicates turns off the duplicate filter. Without it, an entry
	// whose number (after normalization) and text repeat an earlier
	// entry's is skipped with ErrDuplicate, and the filter keeps one map
	// entry per distinct message; with it, memory is bounded by the
	// concurrency alone.
	AllowDuplicates bool
}

// Summary counts a mailing's Results by status.
type Summary struct {
	// Total is the number of entries handled, which is every entry for
	// Mailing; for MailingStream, those read before it stopped.
	Total        int
	Sent         int
	Failed       int
	Skipped      int
	NotAttempted int
	// Parts is the SMS parts of the sent messages: what the mailing cost.
	// (A failed message of KindAmbiguous may have cost its parts too.)
	Parts int
	// Duration is the wall time of the whole mailing.
	Duration time.Duration
}

func (s *Summary) add(r *Result) {
	s.Total++
	switch r.Status {
	case StatusSent:
		s.Sent++
		s.Parts += r.Parts
	case StatusFailed:
		s.Failed++
	case StatusSkipped:
		s.Skipped++
	default:
		s.NotAttempted++
	}
}

// Report is the outcome of a Mailing.
type Report struct {
	// Text is the analysis of the mailing's text: the encoding and the parts
	// of each message (Summary.Parts is the total of the sent ones).
	Text TextInfo
	// Results has one entry for every number of Mailing.To, in the same
	// order.
	Results []Result
	Summary
}

// Err joins the errors of every entry that was not sent, except numbers
// skipped as duplicates (which were sent once). Its text has one line per
// failed or invalid entry with its index and masked number, and one line for
// all the entries not attempted with the cause; errors.Is and errors.As see
// every one of those entries' errors. It is nil when nothing failed.
func (r *Report) Err() error {
	e := &reportError{firstNotAttempted: -1}
	for i := range r.Results {
		res := &r.Results[i]
		switch {
		case res.Status == StatusSent:
		case res.Status == StatusNotAttempted:
			if e.notAttempted == 0 {
				e.firstNotAttempted = i
				e.errs = append(e.errs, res.Err)
			}
			e.notAttempted++
		case res.Status == StatusSkipped && errors.Is(res.Err, ErrDuplicate):
		default:
			e.failed = append(e.failed, entry{i, res.To})
			e.errs = append(e.errs, res.Err)
		}
	}
	if len(e.errs) == 0 {
		return nil
	}
	return e
}

// reportError is the error of Report.Err. Its text is built only when
// asked for: a mailing with many failures costs no formatting unless the
// error is printed.
type reportError struct {
	failed            []entry // index and number of each failed entry
	errs              []error // their errors, in order, then the first not attempted's
	notAttempted      int
	firstNotAttempted int
}

// entry locates one Result of a mailing.
type entry struct {
	index int
	to    string
}

func (e *reportError) Error() string {
	var b strings.Builder
	for i, f := range e.failed {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "#%d %s: %v", f.index, mask.Number(f.to), e.errs[i])
	}
	if e.notAttempted > 0 {
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%d entries (#%d first) %v", e.notAttempted, e.firstNotAttempted, e.errs[len(e.errs)-1])
	}
	return b.String()
}

func (e *reportError) Unwrap() []error { return e.errs }

// Mailing sends m.Text to every number of m.To, at most WithConcurrency at a
// time. The Report has a Result for every entry, in input order; see the
// package doc for what each status means. The error is Report.Err(): nil
// when every entry was sent or skipped as a duplicate.
//
// When ctx is cancelled, Mailing returns promptly: messages in flight end as
// the provider reports them, the rest are not attempted. A KindFatal outcome
// stops the mailing the same way. The Report is never nil.
func (c *Client) Mailing(ctx context.Context, m Mailing) (*Report, error) {
	start := c.now()
	rep := c.Check(m)
	var pending []int
	for i := range rep.Results {
		if r := &rep.Results[i]; r.Status == StatusSkipped {
			c.finish(ctx, r)
		} else {
			pending = append(pending, i)
		}
	}
	entries := func(yield func(int, Message) bool) {
		for _, i := range pending {
			msg := Message{To: m.To[i], Text: m.Text, From: m.From}
			if m.ID != "" {
				msg.ID = m.ID + "/" + strconv.Itoa(i)
			}
			if !yield(i, msg) {
				return
			}
		}
	}
	_, cause := c.run(ctx, entries, false, len(pending), func(r Result) { rep.Results[r.Index] = r })
	// Entries no worker took were not attempted.
	for _, i := range pending {
		if r := &rep.Results[i]; r.Status == StatusNotAttempted && r.Err == nil {
			r.Err = notAttempted(cause)
			c.finish(ctx, r)
		}
	}
	for i := range rep.Results {
		rep.add(&rep.Results[i])
	}
	rep.Duration = c.now().Sub(start)
	return rep, rep.Err()
}

// Check validates a mailing without sending anything, as Mailing does
// before its first send. Every entry of the Report is normalized
// (Result.Number); an invalid number, an invalid text, or a number that
// repeats an earlier entry is StatusSkipped with the error Mailing would
// report; every other entry is StatusNotAttempted with a nil Err: it would
// be sent. Nothing is logged and no hook is called.
func (c *Client) Check(m Mailing) *Report {
	info, textErr := c.checkText(m.Text)
	rep := &Report{Text: info, Results: make([]Result, len(m.To))}
	seen := make(map[string]int, len(m.To))
	for i, to := range m.To {
		res, ok := c.validate(to, info, textErr)
		res.Index = i
		if ok {
			if first, dup := seen[res.Number]; dup {
				res = duplicate(res, first)
			} else {
				seen[res.Number] = i
			}
		}
		rep.Results[i] = res
	}
	return rep
}

// MailingStream sends every message s.Messages yields, at most
// WithConcurrency at a time, and calls fn with each Result (Result.Index is
// the entry's position) as soon as it is final, so in completion order. fn is
// called from one goroutine at a time and must not block for long: it holds
// back the workers. Memory is bounded by the concurrency: the messages in
// flight, and at most 64 per worker set aside until their recipient's
// throttle has passed (see Error.PerRecipient); plus the duplicate filter,
// see Stream.AllowDuplicates.
//
// When the mailing stops early (ctx cancelled, the Client closed, a KindFatal
// outcome), entries already read are reported as not attempted (or, if set
// aside for a retry, failed with their last outcome), s.Messages is not read
// further, and the error says why it stopped. Otherwise the
// error is nil, and failures are in the Results.
func (c *Client) MailingStream(ctx context.Context, s Stream, fn func(Result)) (Summary, error) {
	entries := func(yield func(int, Message) bool) {
		i := 0
		for msg := range s.Messages {
			if !yield(i, msg) {
				return
			}
			i++
		}
	}
	return c.run(ctx, entries, !s.AllowDuplicates, -1, fn)
}

// run is the mailing engine behind Mailing and MailingStream: it sends the
// entries (index, message) workers read from entries, concurrently, with no
// dispatcher goroutine and no channel. dedup turns the duplicate filter on.
// size is the number of entries when known (-1 otherwise), to start no more
// workers than entries. fn, when not nil, gets each Result, one call at a
// time.
//
// It returns the summary of what it emitted and why it stopped early (nil
// when it did not).
func (c *Client) run(ctx context.Context, entries iter.Seq2[int, Message], dedup bool, size int, fn func(Result)) (Summary, error) {
	start := c.now()
	var sum Summary
	if !c.begin() {
		return sum, ErrClosed
	}
	defer c.calls.Done()

	stop, cancel, release := c.stopContext(ctx)
	defer release()

	workers := c.concurrency
	if size >= 0 && size < workers {
		workers = size
	}
	f := newFeeder(c, entries, dedup, asidePerWorker*workers)
	defer f.close()
	var mu sync.Mutex // guards sum and fn
	emit := func(r *Result) {
		c.finish(ctx, r)
		mu.Lock()
		defer mu.Unlock()
		sum.add(r)
		if fn != nil {
			fn(*r)
		}
	}
	work := func() {
		for {
			j, wait, more := f.take()
			switch {
			case !more:
				return
			case wait > 0:
				// Only messages set aside are left, none of them due.
				if c.sleep(stop, wait) != nil {
					f.stop()
				}
				continue
			case !j.send:
				emit(&j.res) // skipped
				continue
			}
			if cause := stopCause(ctx, stop); cause != nil {
				f.stop() // read no further; hand out what was set aside
				cutShort(&j.res, cause)
				emit(&j.res)
				continue
			}
			if c.deliver(ctx, stop, &j.res, j.msg, f) {
				continue
			}
			if e, ok := j.res.Err.(*Error); ok && e.Kind == KindFatal && j.res.Status == StatusFailed {
				cancel(e)
			}
			emit(&j.res)
		}
	}

	var wg sync.WaitGroup
	for w := 1; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			work()
		}()
	}
	if workers > 0 {
		work() // the calling goroutine is a worker too
	}
	wg.Wait()
	sum.Duration = c.now().Sub(start)
	return sum, stopCause(ctx, stop)
}

// duplicate turns res into the Result of a number first seen at index first.
func duplicate(res Result, first int) Result {
	res.Status = StatusSkipped
	res.Err = fmt.Errorf("%w (first at #%d)", ErrDuplicate, first)
	return res
}

// asidePerWorker bounds the messages a mailing sets aside (see
// feeder.setAside), per worker: beyond it, a worker waits out its message's
// throttle itself.
const asidePerWorker = 64

// feeder hands a mailing's entries to its workers one at a time, under a
// lock: it reads, validates and (with a duplicate filter) deduplicates them
// in order, so that the first of two equal messages is the one sent. It also
// holds the messages set aside until their recipient's throttle has passed,
// and hands each out again when it is due.
type feeder struct {
	c    *Client
	seen map[seenKey]int // nil: duplicates allowed

	mu      sync.Mutex
	next    func() (int, Message, bool)
	close   func()
	stopped bool   // read no further, and hand out what is set aside at once
	drained bool   // the input has no entry left
	aside   []*job // set aside, the first due first
	limit   int    // of len(aside)
	// The last text checked, and its verdict: a mailing's entries usually
	// share one text, which is then analyzed once.
	text    string
	info    TextInfo
	textErr error
	checked bool
}

// job is one entry for a worker: its Result so far and the message to send
// (To normalized). When send is false, res is final (skipped).
type job struct {
	res  Result
	msg  Message
	send bool
	due  time.Time // when set aside: the time it may be sent again
}

// seenKey identifies a message for the duplicate filter.
type seenKey struct{ number, text string }

func newFeeder(c *Client, entries iter.Seq2[int, Message], dedup bool, limit int) *feeder {
	f := &feeder{c: c, limit: limit}
	f.next, f.close = iter.Pull2(entries)
	if dedup {
		f.seen = make(map[seenKey]int)
	}
	return f
}

// take returns the next job: a message set aside that is due (or any of
// them once the mailing stopped), else the next entry of the input. When
// only messages set aside but not yet due are left, it returns how long to
// wait before asking again. more is false when nothing is left.
func (f *feeder) take() (j job, wait time.Duration, more bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var now time.Time
	if len(f.aside) > 0 {
		now = f.c.now() // read only when something is set aside
		if f.stopped || !f.aside[0].due.After(now) {
			j := f.aside[0]
			f.aside[0] = nil
			f.aside = f.aside[1:]
			return *j, 0, true
		}
	}
	if !f.stopped && !f.drained {
		if j, ok := f.read(); ok {
			return j, 0, true
		}
		f.drained = true
	}
	if len(f.aside) > 0 {
		return j, f.aside[0].due.Sub(now), true
	}
	return j, 0, false
}

// read reads and checks the next entry of the input; ok is false when there
// is none. f.mu must be held.
func (f *feeder) read() (j job, ok bool) {
	i, msg, ok := f.next()
	if !ok {
		return j, false
	}
	if !f.checked || msg.Text != f.text {
		f.text, f.checked = msg.Text, true
		f.info, f.textErr = f.c.checkText(msg.Text)
	}
	res, send := f.c.validate(msg.To, f.info, f.textErr)
	res.Index = i
	if send {
		msg.To = res.Number
	}
	if send && f.seen != nil {
		k := seenKey{res.Number, msg.Text}
		if first, dup := f.seen[k]; dup {
			res, send = duplicate(res, first), false
		} else {
			f.seen[k] = i
		}
	}
	return job{res: res, msg: msg, send: send}, true
}

// setAside keeps a message whose next attempt must wait until due for its
// recipient alone, so that its worker can go on with other entries. It
// reports false, and keeps nothing, when the mailing stopped or too many
// messages are set aside already.
func (f *feeder) setAside(res Result, msg Message, due time.Time) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped || len(f.aside) >= f.limit {
		return false
	}
	// After those due at the same time or earlier: first set aside, first
	// out.
	i, _ := slices.BinarySearchFunc(f.aside, due, func(a *job, t time.Time) int {
		if a.due.After(t) {
			return 1
		}
		return -1
	})
	f.aside = slices.Insert(f.aside, i, &job{res: res, msg: msg, send: true, due: due})
	return true
}

// stop makes every later take read no further, and hand out the messages
// set aside at once.
func (f *feeder) stop() {
	f.mu.Lock()
	f.stopped = true
	f.mu.Unlock()
}

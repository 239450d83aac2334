package sms

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strconv"
	"sync"
	"sync/atomic"
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

// Stream is a mailing whose numbers come from an iterator, for lists too
// large to hold in memory.
type Stream struct {
	Text string
	From string
	// To yields the recipients; it is read once, in order, and not past
	// the point where the mailing stops.
	To iter.Seq[string]
	// ID gives entry i the Message.ID ID + "/" + i, as Mailing.ID does.
	ID string
	// AllowDuplicates turns off the duplicate filter. With it, memory is
	// bounded by the concurrency alone; without it, the filter keeps one
	// map entry (8 bytes of key) per distinct number.
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

func (s *Summary) merge(o Summary) {
	s.Total += o.Total
	s.Sent += o.Sent
	s.Failed += o.Failed
	s.Skipped += o.Skipped
	s.NotAttempted += o.NotAttempted
	s.Parts += o.Parts
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
// skipped as duplicates (which were sent once): one line per failed or
// invalid entry with its index and masked number, and one line for all the
// entries not attempted with the cause. It is nil when nothing failed.
func (r *Report) Err() error {
	var errs []error
	var notAttempted []int
	for i, res := range r.Results {
		switch {
		case res.Status == StatusSent:
		case res.Status == StatusNotAttempted:
			notAttempted = append(notAttempted, i)
		case errors.Is(res.Err, ErrDuplicate):
		default:
			errs = append(errs, fmt.Errorf("#%d %s: %w", i, mask.Number(res.To), res.Err))
		}
	}
	if len(notAttempted) > 0 {
		first := r.Results[notAttempted[0]].Err
		errs = append(errs, fmt.Errorf("%d entries (#%d first) %w", len(notAttempted), notAttempted[0], first))
	}
	return errors.Join(errs...)
}

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
	info, textErr := c.checkText(m.Text)
	rep := &Report{Text: info, Results: make([]Result, len(m.To))}
	f := &sliceFeeder{results: rep.Results, pending: make([]int, 0, len(m.To))}
	seen := newSeenSet(len(m.To))
	// Validate and deduplicate every entry first, in order, so that the
	// first of two equal numbers is the one sent.
	for i, to := range m.To {
		res, ok := c.validate(to, info, textErr)
		res.Index = i
		if ok {
			if first, dup := seen.add(res.Number, i); dup {
				res, ok = duplicate(res, first), false
			}
		}
		rep.Results[i] = res
		if ok {
			f.pending = append(f.pending, i)
		} else {
			c.finish(ctx, &rep.Results[i])
		}
	}
	// Workers fill in each Result in its slot: there is nothing to pass on.
	_, cause := c.run(ctx, Message{Text: m.Text, From: m.From, ID: m.ID}, f, len(f.pending), nil)
	// Valid entries no worker took were not attempted.
	for _, i := range f.pending {
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

// MailingStream sends s.Text to every number s.To yields, at most
// WithConcurrency at a time, and calls fn with each Result (Result.Index is
// the entry's position) as soon as it is final, so in completion order. fn is
// called from one goroutine at a time and must not block for long: it holds
// back the workers. Memory is bounded by the concurrency (and the duplicate
// filter, see Stream.AllowDuplicates).
//
// When the mailing stops early (ctx cancelled, the Client closed, a KindFatal
// outcome), entries already read are reported as not attempted, s.To is not
// read further, and the error says why it stopped. Otherwise the error is nil,
// and failures are in the Results.
func (c *Client) MailingStream(ctx context.Context, s Stream, fn func(Result)) (Summary, error) {
	next, stop := iter.Pull(s.To)
	defer stop()
	info, textErr := c.checkText(s.Text)
	f := &streamFeeder{c: c, next: next, info: info, textErr: textErr}
	if !s.AllowDuplicates {
		f.dedup = newSeenSet(-1)
	}
	return c.run(ctx, Message{Text: s.Text, From: s.From, ID: s.ID}, f, -1, fn)
}

// run is the mailing engine behind Mailing and MailingStream: it sends tmpl
// (Text, From, and ID as the prefix of each entry's ID) to the entries
// workers take from f, concurrently, with no dispatcher goroutine
// and no channel. size is the number of entries when known (-1 otherwise), to
// start no more workers than entries. fn, when not nil, gets a copy of each
// Result, one call at a time.
//
// It returns the summary of what it emitted and why it stopped early (nil
// when it did not).
func (c *Client) run(ctx context.Context, tmpl Message, f feeder, size int, fn func(Result)) (Summary, error) {
	start := c.now()
	var sum Summary
	if !c.begin() {
		return sum, ErrClosed
	}
	defer c.calls.Done()

	stop, cancel, release := c.stopContext(ctx)
	defer release()

	var fnMu sync.Mutex
	work := func(local *Summary) {
		emit := func(r *Result) {
			c.finish(ctx, r)
			local.add(r)
			if fn != nil {
				fnMu.Lock()
				defer fnMu.Unlock()
				fn(*r)
			}
		}
		var buf Result
		for {
			res, ok, more := f.take(&buf)
			if !more {
				return
			}
			if !ok {
				emit(res) // skipped
				continue
			}
			if cause := stopCause(ctx, stop); cause != nil {
				f.stop() // read no further
				res.Err = notAttempted(cause)
				emit(res)
				return
			}
			msg := tmpl
			msg.To = res.Number
			if tmpl.ID != "" {
				msg.ID = tmpl.ID + "/" + strconv.Itoa(res.Index)
			}
			c.deliver(ctx, stop, res, msg)
			if k, ok := res.Kind(); ok && k == KindFatal && res.Status == StatusFailed {
				cancel(res.Err)
			}
			emit(res)
		}
	}

	workers := c.concurrency
	if size >= 0 && size < workers {
		workers = size
	}
	sums := make([]Summary, max(workers, 1)) // one per worker: no shared counter
	var wg sync.WaitGroup
	for w := 1; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			work(&sums[w])
		}()
	}
	if workers > 0 {
		work(&sums[0]) // the calling goroutine is a worker too
	}
	wg.Wait()

	for _, l := range sums {
		sum.merge(l)
	}
	sum.Duration = c.now().Sub(start)
	return sum, stopCause(ctx, stop)
}

// duplicate turns res into the Result of a number first seen at index first.
func duplicate(res Result, first int) Result {
	res.Status = StatusSkipped
	res.Err = fmt.Errorf("%w (first at #%d)", ErrDuplicate, first)
	return res
}

// feeder hands a mailing's entries to its workers, safe for concurrent use.
type feeder interface {
	// take returns the next entry to send, in buf or in a place of its
	// own. more is false when there is none left or the mailing stopped; ok
	// is false when res is final already (skipped).
	take(buf *Result) (res *Result, ok, more bool)
	// stop makes every later take report no more entries.
	stop()
}

// sliceFeeder hands out the entries of a Mailing, validated beforehand,
// without a lock.
type sliceFeeder struct {
	results []Result // validated entries, by index
	pending []int    // indexes of the entries to send
	next    atomic.Int64
	stopped atomic.Bool
}

func (f *sliceFeeder) take(*Result) (*Result, bool, bool) {
	if f.stopped.Load() {
		return nil, false, false
	}
	i := f.next.Add(1) - 1
	if i >= int64(len(f.pending)) {
		return nil, false, false
	}
	return &f.results[f.pending[i]], true, true
}

func (f *sliceFeeder) stop() { f.stopped.Store(true) }

// streamFeeder reads, validates and deduplicates the entries of a Stream one
// at a time, under a lock, so that the first of two equal numbers is the one
// sent.
type streamFeeder struct {
	c       *Client
	info    TextInfo
	textErr error
	dedup   *seenSet // nil: duplicates allowed

	mu      sync.Mutex
	next    func() (string, bool)
	i       int
	stopped bool
}

func (f *streamFeeder) take(buf *Result) (*Result, bool, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped {
		return nil, false, false
	}
	to, more := f.next()
	if !more {
		f.stopped = true
		return nil, false, false
	}
	res, ok := f.c.validate(to, f.info, f.textErr)
	res.Index = f.i
	f.i++
	if ok && f.dedup != nil {
		if first, dup := f.dedup.add(res.Number, res.Index); dup {
			res, ok = duplicate(res, first), false
		}
	}
	*buf = res
	return buf, ok, true
}

func (f *streamFeeder) stop() {
	f.mu.Lock()
	f.stopped = true
	f.mu.Unlock()
}

// seenSet remembers the numbers of a mailing. A number that the default
// normalizer produced ('+' and up to 15 digits) is packed exactly into a
// uint64; any other string falls back to a map of strings.
type seenSet struct {
	packed map[uint64]int
	other  map[string]int
}

// newSeenSet returns a set sized for size numbers (-1: unknown).
func newSeenSet(size int) *seenSet { return &seenSet{packed: make(map[uint64]int, max(size, 0))} }

// add records number at index i, or returns the index it was first seen at.
func (s *seenSet) add(number string, i int) (first int, dup bool) {
	if k, ok := pack(number); ok {
		if first, dup = s.packed[k]; !dup {
			s.packed[k] = i
		}
		return first, dup
	}
	if s.other == nil {
		s.other = make(map[string]int)
	}
	if first, dup = s.other[number]; !dup {
		s.other[number] = i
	}
	return first, dup
}

// pack encodes an optional '+' and 1 to 17 digits into a uint64 without loss:
// a leading 1 keeps leading zeros, and bit 63 marks the '+'.
func pack(number string) (uint64, bool) {
	var k uint64 = 1
	digits := number
	plus := len(digits) > 0 && digits[0] == '+'
	if plus {
		digits = digits[1:]
	}
	if len(digits) == 0 || len(digits) > 17 {
		return 0, false
	}
	for i := 0; i < len(digits); i++ {
		d := digits[i]
		if d < '0' || d > '9' {
			return 0, false
		}
		k = k*10 + uint64(d-'0')
	}
	if plus {
		k |= 1 << 63
	}
	return k, true
}

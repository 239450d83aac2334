package sms

import (
	"context"
	"errors"
	"fmt"
	"iter"
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
}

// Stream is a mailing whose numbers come from an iterator, for lists too
// large to hold in memory.
type Stream struct {
	Text string
	From string
	// To yields the recipients; it is read once, in order, and not past
	// the point where the mailing stops.
	To iter.Seq[string]
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

func (s *Summary) add(r Result) {
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
	rep := &Report{Results: make([]Result, len(m.To))}
	seq := func(yield func(string) bool) {
		for _, to := range m.To {
			if !yield(to) {
				return
			}
		}
	}
	s, cause := c.run(ctx, Stream{Text: m.Text, From: m.From, To: seq}, len(m.To), func(r Result) {
		rep.Results[r.Index] = r
	})
	// Entries the run did not reach were not attempted.
	for i := s.Total; i < len(m.To); i++ {
		r := Result{Index: i, To: m.To[i], Err: notAttempted(cause)}
		rep.Results[i] = r
		s.add(r)
		c.finish(ctx, r)
	}
	rep.Summary = s
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
	return c.run(ctx, s, -1, fn)
}

// job is one validated entry waiting for a worker.
type job struct {
	index      int
	to, number string
}

func (j job) result(info TextInfo) Result {
	return Result{Index: j.index, To: j.to, Number: j.number, Encoding: info.Encoding, Parts: info.Parts}
}

// run is the mailing engine behind Mailing and MailingStream. size is the
// number of entries when known (-1 otherwise), to start no more workers than
// entries. It returns the summary of what it emitted and why it stopped early
// (nil when it did not).
func (c *Client) run(ctx context.Context, s Stream, size int, fn func(Result)) (Summary, error) {
	start := c.now()
	var sum Summary
	if !c.begin() {
		return sum, ErrClosed
	}
	defer c.calls.Done()

	var mu sync.Mutex // serializes fn and sum
	emit := func(r Result) {
		c.finish(ctx, r)
		mu.Lock()
		sum.add(r)
		fn(r)
		mu.Unlock()
	}

	stop, cancel, release := c.stopContext(ctx)
	defer release()

	info, textErr := c.checkText(s.Text)
	workers := c.concurrency
	if size >= 0 && size < workers {
		workers = size
	}
	jobs := make(chan job)
	var wg sync.WaitGroup
	wg.Add(workers)
	for range workers {
		go func() {
			defer wg.Done()
			for j := range jobs {
				r := j.result(info)
				if cause := stopCause(ctx, stop); cause != nil {
					r.Err = notAttempted(cause)
					emit(r)
					continue
				}
				r = c.deliver(ctx, stop, r, Message{To: j.number, Text: s.Text, From: s.From})
				if k, ok := r.Kind(); ok && k == KindFatal && r.Status == StatusFailed {
					cancel(r.Err)
				}
				emit(r)
			}
		}()
	}

	var dedup *seenSet
	if !s.AllowDuplicates {
		dedup = newSeenSet(size)
	}
	i := 0
	for to := range s.To {
		res, ok := c.validate(to, info, textErr)
		res.Index = i
		i++
		switch {
		case !ok:
			emit(res)
			continue
		case dedup != nil:
			if first, dup := dedup.add(res.Number, res.Index); dup {
				res.Status = StatusSkipped
				res.Err = fmt.Errorf("%w (first at #%d)", ErrDuplicate, first)
				emit(res)
				continue
			}
		}
		if cause := stopCause(ctx, stop); cause != nil {
			res.Err = notAttempted(cause)
			emit(res)
			break
		}
		select {
		case jobs <- job{index: res.Index, to: res.To, number: res.Number}:
			continue
		case <-stop.Done():
			res.Err = notAttempted(stopCause(ctx, stop))
			emit(res)
		}
		break
	}
	close(jobs)
	wg.Wait()

	sum.Duration = c.now().Sub(start)
	return sum, stopCause(ctx, stop)
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

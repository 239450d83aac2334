package sms

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recipients yields one message of text to each number.
func recipients(text string, numbers iter.Seq[string]) iter.Seq[Message] {
	return func(yield func(Message) bool) {
		for n := range numbers {
			if !yield(Message{To: n, Text: text}) {
				return
			}
		}
	}
}

func numbers(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("+49151%08d", i)
	}
	return out
}

func TestMailingResultsInOrder(t *testing.T) {
	to := []string{
		"+49 151 0000 0001",
		"not a number",
		"+4915100000002",
		"+49-151-0000-0001", // the first number again, written differently
		"+4915100000003",
		"",
	}
	fp := &fakeProvider{script: func(n int, msg Message) (Receipt, error) {
		if msg.To == "+4915100000003" {
			return Receipt{}, kindErr(KindRejected)
		}
		return Receipt{MessageID: "m" + msg.To[len(msg.To)-1:]}, nil
	}}
	c, _ := newTestClient(t, fp, WithConcurrency(3))
	rep, err := c.Mailing(context.Background(), Mailing{Text: "hi", To: to})
	require.Len(t, rep.Results, len(to))

	want := []Status{StatusSent, StatusSkipped, StatusSent, StatusSkipped, StatusFailed, StatusSkipped}
	for i, r := range rep.Results {
		assert.Equal(t, i, r.Index)
		assert.Equal(t, to[i], r.To, "Results[%d] belongs to To[%d]", i, i)
		assert.Equal(t, want[i], r.Status, "entry %d", i)
	}
	assert.Equal(t, "m1", rep.Results[0].MessageID)
	assert.ErrorIs(t, rep.Results[1].Err, ErrInvalidNumber)
	assert.ErrorIs(t, rep.Results[3].Err, ErrDuplicate)
	assert.ErrorIs(t, rep.Results[4].Err, ErrRejected)
	assert.ErrorIs(t, rep.Results[5].Err, ErrInvalidNumber)
	assert.Equal(t, 3, fp.callCount(), "the duplicate is sent once")

	assert.Equal(t, Summary{Total: 6, Sent: 2, Failed: 1, Skipped: 3, Parts: 2, Duration: rep.Duration}, rep.Summary)
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrRejected)
	assert.ErrorIs(t, err, ErrInvalidNumber)
	assert.NotErrorIs(t, err, ErrDuplicate, "a duplicate is not a failure")
	assert.NotContains(t, err.Error(), "+4915100000003", "numbers are masked in the joined error")
	assert.Equal(t, []string{
		"#1 no********er: " + rep.Results[1].Err.Error(),
		"#4 +49*********03: " + rep.Results[4].Err.Error(),
		"#5 : " + rep.Results[5].Err.Error(),
	}, strings.Split(err.Error(), "\n"), "one line per entry not sent, duplicates aside")
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Same(t, rep.Results[1].Err, e, "errors.As finds the entries' own errors")
}

func TestMailingAllSent(t *testing.T) {
	fp := &fakeProvider{}
	c, _ := newTestClient(t, fp)
	rep, err := c.Mailing(context.Background(), Mailing{Text: "hi", From: "ACME", To: numbers(100)})
	require.NoError(t, err)
	assert.Equal(t, 100, rep.Sent)
	assert.Equal(t, 100, fp.callCount())
	for _, m := range fp.calls {
		assert.Equal(t, "ACME", m.From)
	}
}

func TestMailingEmptyText(t *testing.T) {
	for _, text := range []string{"", " ", "\n\t "} {
		t.Run(fmt.Sprintf("%q", text), func(t *testing.T) {
			fp := &fakeProvider{}
			c, _ := newTestClient(t, fp)
			rep, err := c.Mailing(context.Background(), Mailing{Text: text, To: numbers(3)})
			assert.ErrorIs(t, err, ErrEmptyText)
			assert.Equal(t, 3, rep.Skipped)

			var results []Result
			sum, err := c.MailingStream(context.Background(), Stream{Messages: recipients(text, slices.Values(numbers(2)))}, func(r Result) { results = append(results, r) })
			require.NoError(t, err)
			assert.Equal(t, 2, sum.Skipped)
			for _, r := range results {
				assert.ErrorIs(t, r.Err, ErrEmptyText)
			}
			assert.Zero(t, fp.callCount())
		})
	}
}

// barrierProvider holds every call until n calls are in flight at once,
// then lets those n return: a Client with fewer workers than n never gets a
// message through (its calls end with their context), one with more is
// caught by maxInFlight.
type barrierProvider struct {
	n int

	mu          sync.Mutex
	inFlight    int
	maxInFlight int
	arrived     int
	open        chan struct{}
}

func (p *barrierProvider) Send(ctx context.Context, _ Message) (Receipt, error) {
	p.mu.Lock()
	p.inFlight++
	p.maxInFlight = max(p.maxInFlight, p.inFlight)
	if p.open == nil {
		p.open = make(chan struct{})
	}
	open := p.open
	if p.arrived++; p.arrived == p.n {
		close(open)
		p.open, p.arrived = nil, 0
	}
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.inFlight--
		p.mu.Unlock()
	}()
	select {
	case <-open:
		return Receipt{}, nil
	case <-ctx.Done():
		return Receipt{}, &Error{Kind: KindTemporary, Err: ctx.Err()}
	}
}

func TestMailingBoundedConcurrency(t *testing.T) {
	for _, n := range []int{1, 4, 16} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			p := &barrierProvider{n: n}
			c, _ := newTestClient(t, p, WithConcurrency(n), WithRetry(RetryPolicy{MaxAttempts: 1}))
			// Only a broken Client waits for this deadline.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			rep, err := c.Mailing(ctx, Mailing{Text: "hi", To: numbers(64)})
			require.NoError(t, err, "every batch of %d sends was in flight at once", n)
			assert.Equal(t, 64, rep.Sent)
			assert.Equal(t, n, p.maxInFlight, "and never more")
		})
	}
}

func TestMailingStopsAfterFatal(t *testing.T) {
	fp := &fakeProvider{script: func(n int, msg Message) (Receipt, error) {
		if msg.To == "+4915100000002" {
			return Receipt{}, &Error{Kind: KindFatal, Code: "401", Err: errors.New("bad credentials")}
		}
		return Receipt{}, nil
	}}
	c, _ := newTestClient(t, fp, WithConcurrency(1))
	rep, err := c.Mailing(context.Background(), Mailing{Text: "hi", To: numbers(1000)})
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrFatal)
	assert.ErrorIs(t, err, ErrNotAttempted)
	assert.Equal(t, StatusSent, rep.Results[0].Status)
	assert.Equal(t, StatusSent, rep.Results[1].Status)
	assert.Equal(t, StatusFailed, rep.Results[2].Status)
	var fatal *Error
	require.ErrorAs(t, rep.Results[2].Err, &fatal)
	assert.Equal(t, "401", fatal.Code)
	for _, r := range rep.Results[3:] {
		require.Equal(t, StatusNotAttempted, r.Status)
		assert.ErrorIs(t, r.Err, ErrNotAttempted)
		assert.ErrorIs(t, r.Err, ErrFatal, "the cause says why")
	}
	assert.Equal(t, 997, rep.NotAttempted)
	assert.Equal(t, []string{
		"#2 +49*********02: " + rep.Results[2].Err.Error(),
		"997 entries (#3 first) " + rep.Results[3].Err.Error(),
	}, strings.Split(err.Error(), "\n"))
	assert.Equal(t, 3, fp.callCount(), "nothing sent after the fatal outcome")
}

func TestMailingCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Every send hangs until ctx ends; the eighth call, when every worker
	// is inside the provider, cancels it.
	fp := &fakeProvider{block: make(chan struct{}), onCall: func(n int) {
		if n == 8 {
			cancel()
		}
	}}
	c, _ := newTestClient(t, fp, WithConcurrency(8))
	rep, err := c.Mailing(ctx, Mailing{Text: "hi", To: numbers(10_000)})
	assert.ErrorIs(t, err, context.Canceled)
	require.Len(t, rep.Results, 10_000)
	assert.Equal(t, 10_000, rep.Total)
	assert.Equal(t, 8, rep.Failed, "the sends in flight end as the provider reports them")
	assert.Equal(t, 10_000-8, rep.NotAttempted)
	for i, r := range rep.Results {
		assert.Equal(t, i, r.Index)
		assert.ErrorIs(t, r.Err, context.Canceled)
	}
}

func TestMailingStream(t *testing.T) {
	fp := &fakeProvider{}
	c, _ := newTestClient(t, fp, WithConcurrency(4))
	src := append(numbers(50), numbers(10)...) // ten repeats
	var mu sync.Mutex
	var got []Result
	sum, err := c.MailingStream(context.Background(), Stream{Messages: recipients("hi", slices.Values(src))}, func(r Result) {
		mu.Lock()
		got = append(got, r)
		mu.Unlock()
	})
	require.NoError(t, err)
	assert.Equal(t, 60, sum.Total)
	assert.Equal(t, 50, sum.Sent)
	assert.Equal(t, 10, sum.Skipped)
	require.Len(t, got, 60)
	seen := map[int]bool{}
	for _, r := range got {
		assert.False(t, seen[r.Index], "one Result per entry")
		seen[r.Index] = true
		assert.Equal(t, src[r.Index], r.To)
	}

	t.Run("duplicates allowed", func(t *testing.T) {
		fp := &fakeProvider{}
		c, _ := newTestClient(t, fp)
		sum, err := c.MailingStream(context.Background(), Stream{Messages: recipients("hi", slices.Values(src)), AllowDuplicates: true}, func(Result) {})
		require.NoError(t, err)
		assert.Equal(t, 60, sum.Sent)
	})
}

func TestMailingStreamStopsReading(t *testing.T) {
	fp := &fakeProvider{script: func(n int, msg Message) (Receipt, error) {
		return Receipt{}, kindErr(KindFatal)
	}}
	c, _ := newTestClient(t, fp, WithConcurrency(2))
	read := 0
	endless := func(yield func(string) bool) {
		for i := 0; ; i++ {
			read++
			if !yield(fmt.Sprintf("+49151%08d", i)) {
				return
			}
		}
	}
	var results int
	sum, err := c.MailingStream(context.Background(), Stream{Messages: recipients("hi", endless)}, func(Result) { results++ })
	assert.ErrorIs(t, err, ErrFatal)
	assert.Equal(t, sum.Total, results, "every entry read has a Result")
	assert.Equal(t, read, results)
	assert.Less(t, read, 100, "the iterator is not read past the stop")
}

func TestMailingIDs(t *testing.T) {
	// The gateway deduplicates by ID and loses the answer to every first
	// attempt: only a retry with the same ID tells the Client it was sent.
	var mu sync.Mutex
	seenIDs := map[string]int{}
	script := func(n int, msg Message) (Receipt, error) {
		mu.Lock()
		defer mu.Unlock()
		key := msg.ID
		if key == "" {
			key = msg.To
		}
		seenIDs[key]++
		if seenIDs[key] == 1 {
			return Receipt{}, kindErr(KindAmbiguous)
		}
		return Receipt{MessageID: "gw-" + key}, nil
	}
	to := []string{"+4915100000001", "+4915100000002", "+4915100000001", "+4915100000003"}

	t.Run("with an ID, ambiguous outcomes are retried", func(t *testing.T) {
		clear(seenIDs)
		c, _ := newTestClient(t, idempotentFake{&fakeProvider{script: script}})
		rep, err := c.Mailing(context.Background(), Mailing{Text: "hi", To: to, ID: "m42"})
		require.NoError(t, err)
		assert.Equal(t, 3, rep.Sent)
		assert.Equal(t, "gw-m42/0", rep.Results[0].MessageID)
		assert.Equal(t, "gw-m42/3", rep.Results[3].MessageID, "the ID is the entry's index")
		assert.Equal(t, map[string]int{"m42/0": 2, "m42/1": 2, "m42/3": 2}, seenIDs)
	})
	t.Run("without an ID, they are not", func(t *testing.T) {
		clear(seenIDs)
		c, _ := newTestClient(t, idempotentFake{&fakeProvider{script: script}})
		rep, err := c.Mailing(context.Background(), Mailing{Text: "hi", To: to})
		assert.ErrorIs(t, err, ErrAmbiguous)
		assert.Equal(t, 3, rep.Failed)
		assert.Equal(t, map[string]int{"+4915100000001": 1, "+4915100000002": 1, "+4915100000003": 1}, seenIDs, "one attempt each")
	})
	t.Run("stream", func(t *testing.T) {
		clear(seenIDs)
		c, _ := newTestClient(t, idempotentFake{&fakeProvider{script: script}})
		msgs := func(yield func(Message) bool) {
			for i, n := range to {
				if !yield(Message{To: n, Text: "hi", ID: fmt.Sprintf("s1/%d", i)}) {
					return
				}
			}
		}
		sum, err := c.MailingStream(context.Background(), Stream{Messages: msgs}, func(Result) {})
		require.NoError(t, err)
		assert.Equal(t, 3, sum.Sent)
		assert.Contains(t, seenIDs, "s1/3")
	})
}

func TestCheck(t *testing.T) {
	fp := &fakeProvider{}
	var hooked atomic.Int64
	c, _ := newTestClient(t, fp, WithHooks(Hooks{
		Attempt: func(Attempt) { hooked.Add(1) },
		Result:  func(Result) { hooked.Add(1) },
	}))
	to := []string{
		"+49 151 0000 0001",
		"call me",
		"+4915100000002",
		"+49-151-0000-0001", // the first number again
		"",
	}
	rep := c.Check(Mailing{Text: "Привет", To: to, ID: "m1"})
	require.Len(t, rep.Results, len(to))
	want := []struct {
		status Status
		number string
		err    error
	}{
		{StatusNotAttempted, "+4915100000001", nil},
		{StatusSkipped, "", ErrInvalidNumber},
		{StatusNotAttempted, "+4915100000002", nil},
		{StatusSkipped, "+4915100000001", ErrDuplicate},
		{StatusSkipped, "", ErrInvalidNumber},
	}
	for i, w := range want {
		r := rep.Results[i]
		assert.Equal(t, i, r.Index)
		assert.Equal(t, to[i], r.To)
		assert.Equal(t, w.status, r.Status, "entry %d", i)
		assert.Equal(t, w.number, r.Number, "entry %d", i)
		assert.Equal(t, UCS2, r.Encoding, "entry %d", i)
		assert.Equal(t, 1, r.Parts, "entry %d", i)
		if w.err == nil {
			assert.NoError(t, r.Err, "entry %d would be sent", i)
		} else {
			assert.ErrorIs(t, r.Err, w.err, "entry %d", i)
		}
	}
	assert.ErrorIs(t, rep.Results[1].Err, ErrInvalid)
	assert.Equal(t, TextInfo{Encoding: UCS2, Units: 6, Parts: 1}, rep.Text)
	assert.Zero(t, fp.callCount(), "Check sends nothing")
	assert.Zero(t, hooked.Load(), "and calls no hook")

	t.Run("invalid text", func(t *testing.T) {
		rep := c.Check(Mailing{Text: "", To: numbers(2)})
		for _, r := range rep.Results {
			assert.Equal(t, StatusSkipped, r.Status)
			assert.ErrorIs(t, r.Err, ErrEmptyText)
		}
	})
	t.Run("agrees with Mailing", func(t *testing.T) {
		rep, _ := c.Mailing(context.Background(), Mailing{Text: "Привет", To: to})
		checked := c.Check(Mailing{Text: "Привет", To: to})
		for i, r := range checked.Results {
			if r.Status == StatusSkipped {
				assert.Equal(t, r.Err.Error(), rep.Results[i].Err.Error(), "entry %d", i)
			} else {
				assert.Equal(t, StatusSent, rep.Results[i].Status, "entry %d", i)
			}
		}
	})
}

func TestStreamMessages(t *testing.T) {
	fp := &fakeProvider{}
	c, _ := newTestClient(t, fp, WithConcurrency(1))
	msgs := []Message{
		{To: "+4915100000001", Text: "hi", ID: "a"},
		{To: "+49 151 0000 0001", Text: "hi", ID: "b"},   // same number and text: skipped
		{To: "+4915100000001", Text: "bye", ID: "c"},     // same number, other text: sent
		{To: "+4915100000002", Text: "hi", From: "ACME"}, // no ID
		{To: "+49151-0000-0002", Text: "bye", ID: "e"},   // the second number's other text
		{To: "+4915100000002", Text: "bye", ID: "f"},     // and that again: skipped
	}
	results := make([]Result, len(msgs))
	sum, err := c.MailingStream(context.Background(), Stream{Messages: slices.Values(msgs)}, func(r Result) { results[r.Index] = r })
	require.NoError(t, err)
	assert.Equal(t, Summary{Total: 6, Sent: 4, Skipped: 2, Parts: 4, Duration: sum.Duration}, sum)

	want := []Message{
		{To: "+4915100000001", Text: "hi", ID: "a"},
		{To: "+4915100000001", Text: "bye", ID: "c"},
		{To: "+4915100000002", Text: "hi", From: "ACME"},
		{To: "+4915100000002", Text: "bye", ID: "e"},
	}
	assert.Equal(t, want, fp.calls, "each entry's own ID, text and sender reach the provider, the number normalized")
	for _, i := range []int{1, 5} {
		assert.Equal(t, StatusSkipped, results[i].Status, "entry %d", i)
		assert.ErrorIs(t, results[i].Err, ErrDuplicate, "entry %d", i)
	}
	assert.Contains(t, results[1].Err.Error(), "#0", "names the entry sent")
	assert.Contains(t, results[5].Err.Error(), "#4")
}

// A retry cut short by another entry's fatal outcome keeps its own kind:
// errors.Is agrees with Result.Kind, although the fatal *Error is joined to
// its cause to say why the retrying stopped.
func TestRetryStoppedByFatalKeepsItsKind(t *testing.T) {
	const flaky, dead = "+4915100000001", "+4915100000002"
	inBackoff := make(chan struct{})
	fp := &fakeProvider{script: func(_ int, msg Message) (Receipt, error) {
		if msg.To == dead {
			<-inBackoff // fail once the flaky entry waits to retry
			return Receipt{}, &Error{Kind: KindFatal, Code: "401"}
		}
		return Receipt{}, kindErr(KindTemporary)
	}}
	c, _ := newTestClient(t, fp, WithConcurrency(2))
	// The flaky entry's backoff lasts until the mailing stops.
	c.sleep = func(ctx context.Context, _ time.Duration) error {
		close(inBackoff)
		<-ctx.Done()
		return context.Cause(ctx)
	}
	rep, err := c.Mailing(context.Background(), Mailing{Text: "hi", To: []string{flaky, dead}})
	require.ErrorIs(t, err, ErrFatal)

	r := rep.Results[0]
	assert.Equal(t, StatusFailed, r.Status)
	assert.Equal(t, 1, r.Attempts)
	k, ok := r.Kind()
	assert.True(t, ok)
	assert.Equal(t, KindTemporary, k)
	assert.ErrorIs(t, r.Err, ErrTemporary)
	assert.NotErrorIs(t, r.Err, ErrFatal, "the other entry's kind is not this one's")
	var fatal *Error
	require.ErrorAs(t, r.Err.(*Error).Err, &fatal, "but the cause says why retrying stopped")
	assert.Equal(t, "401", fatal.Code)
}

// throttleFirst throttles the first attempt to each number that busy says,
// for that recipient alone, and accepts everything else.
func throttleFirst(busy func(to string) bool, retryAfter time.Duration) func(int, Message) (Receipt, error) {
	var mu sync.Mutex
	tried := map[string]bool{}
	return func(_ int, msg Message) (Receipt, error) {
		mu.Lock()
		defer mu.Unlock()
		if busy(msg.To) && !tried[msg.To] {
			tried[msg.To] = true
			return Receipt{}, &Error{Kind: KindThrottled, RetryAfter: retryAfter, PerRecipient: true}
		}
		return Receipt{}, nil
	}
}

func TestMailingSetsAsideRecipientThrottle(t *testing.T) {
	t.Run("others go first", func(t *testing.T) {
		to := []string{"+4915100000001", "+4915100000002", "+4915100000003"}
		fp := &fakeProvider{script: throttleFirst(func(n string) bool { return n == to[0] }, 5*time.Second)}
		c, fc := newTestClient(t, fp, WithConcurrency(1))
		rep, err := c.Mailing(context.Background(), Mailing{Text: "hi", To: to})
		require.NoError(t, err)
		assert.Equal(t, []string{to[0], to[1], to[2], to[0]}, callNumbers(fp), "the throttled message waits while the others are sent")
		assert.Equal(t, []time.Duration{5 * time.Second}, fc.slept(), "then the worker waits for it")
		assert.Equal(t, 2, rep.Results[0].Attempts)
		assert.Equal(t, 3, rep.Sent)
	})
	t.Run("a due message goes before new entries", func(t *testing.T) {
		to := numbers(4)
		fp := &fakeProvider{script: func(n int, msg Message) (Receipt, error) {
			if n == 1 {
				return Receipt{}, &Error{Kind: KindThrottled, PerRecipient: true} // backoff: 500ms
			}
			return Receipt{}, nil
		}}
		c, fc := newTestClient(t, fp, WithConcurrency(1))
		c.sleep = func(ctx context.Context, d time.Duration) error { t.Errorf("slept %v", d); return nil }
		c.hooks.Attempt = func(Attempt) { fc.sleep(context.Background(), 300*time.Millisecond) } // each attempt takes 300ms
		_, err := c.Mailing(context.Background(), Mailing{Text: "hi", To: to})
		require.NoError(t, err)
		assert.Equal(t, []string{to[0], to[1], to[2], to[0], to[3]}, callNumbers(fp))
	})
	t.Run("bounded", func(t *testing.T) {
		to := numbers(asidePerWorker + 6)
		fp := &fakeProvider{script: throttleFirst(func(string) bool { return true }, 5*time.Second)}
		c, fc := newTestClient(t, fp, WithConcurrency(1))
		rep, err := c.Mailing(context.Background(), Mailing{Text: "hi", To: to})
		require.NoError(t, err)
		assert.Equal(t, len(to), rep.Sent)
		calls := callNumbers(fp)
		require.Len(t, calls, 2*len(to))
		assert.Equal(t, to[:asidePerWorker+1], calls[:asidePerWorker+1], "every first attempt until the set is full")
		assert.Equal(t, to[asidePerWorker], calls[asidePerWorker+1], "the next message's worker waits itself")
		assert.Equal(t, to[:asidePerWorker], calls[asidePerWorker+2:2*asidePerWorker+2], "then the ones set aside, due by now, first in first out")
		assert.Equal(t, []time.Duration{5 * time.Second, 5 * time.Second}, fc.slept())
	})
	t.Run("cancelled while set aside", func(t *testing.T) {
		to := []string{"+4915100000001", "+4915100000002"}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		throttle := throttleFirst(func(n string) bool { return n == to[0] }, time.Minute)
		fp := &fakeProvider{script: func(n int, msg Message) (Receipt, error) {
			if msg.To == to[1] {
				cancel()
			}
			return throttle(n, msg)
		}}
		c, _ := newTestClient(t, fp, WithConcurrency(1))
		rep, err := c.Mailing(ctx, Mailing{Text: "hi", To: to})
		assert.ErrorIs(t, err, context.Canceled)
		r := rep.Results[0]
		assert.Equal(t, StatusFailed, r.Status, "the last outcome stands")
		assert.Equal(t, 1, r.Attempts)
		assert.ErrorIs(t, r.Err, ErrThrottled)
		assert.ErrorIs(t, r.Err, context.Canceled, "and says why it was not retried")
		assert.Equal(t, StatusSent, rep.Results[1].Status)
		assert.Equal(t, 2, fp.callCount())
	})
	t.Run("closed while set aside", func(t *testing.T) {
		to := []string{"+4915100000001", "+4915100000002"}
		var c *Client
		throttle := throttleFirst(func(n string) bool { return n == to[0] }, 10*time.Second)
		fp := &fakeProvider{script: func(n int, msg Message) (Receipt, error) {
			if msg.To == to[1] {
				go c.Close()
			}
			return throttle(n, msg)
		}}
		c, _ = newTestClient(t, fp, WithConcurrency(1))
		c.sleep = sleepCtx // real seconds, which Close must end
		sum, err := c.MailingStream(context.Background(), Stream{Messages: recipients("hi", slices.Values(to))}, func(r Result) {
			if r.Index == 0 {
				assert.ErrorIs(t, r.Err, ErrClosed)
				assert.ErrorIs(t, r.Err, ErrThrottled)
			}
		})
		assert.ErrorIs(t, err, ErrClosed)
		assert.Equal(t, Summary{Total: 2, Sent: 1, Failed: 1, Parts: 1, Duration: sum.Duration}, sum)
	})
	t.Run("stream, many workers", func(t *testing.T) {
		to := numbers(500)
		fp := &fakeProvider{script: throttleFirst(func(n string) bool { return n[len(n)-1] == '7' }, time.Second)}
		c, _ := newTestClient(t, fp, WithConcurrency(8))
		seen := make([]int, len(to))
		sum, err := c.MailingStream(context.Background(), Stream{Messages: recipients("hi", slices.Values(to))}, func(r Result) { seen[r.Index]++ })
		require.NoError(t, err)
		assert.Equal(t, len(to), sum.Sent)
		assert.Equal(t, len(to)+50, fp.callCount())
		for i, n := range seen {
			assert.Equal(t, 1, n, "one Result for entry %d", i)
		}
	})
}

// callNumbers lists the numbers of fp's calls, in order.
func callNumbers(fp *fakeProvider) []string {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	out := make([]string, len(fp.calls))
	for i, m := range fp.calls {
		out[i] = m.To
	}
	return out
}

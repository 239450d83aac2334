package sms

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Message is one text for one recipient.
type Message struct {
	// To is the recipient's number. The Client normalizes it before a
	// Provider sees it (see WithNormalizer).
	To string
	// Text is the message body, as UTF-8. It must not be empty or only
	// white space.
	Text string
	// From is the sender (a number or an alphanumeric sender ID). Empty
	// means the gateway's default.
	From string
	// ID is an optional caller-chosen key. A Provider that deduplicates by
	// it (see IdempotentProvider) makes a retry after an ambiguous outcome
	// safe. Empty means none.
	ID string
	// ReportURL, when not empty, asks a DeliveryReporter to have the gateway
	// report the message's delivery to this URL. A Client with
	// WithDeliveryReports sets it for every message with an ID.
	ReportURL string
}

// Receipt describes one attempt as the gateway answered it.
//
// On success it carries the gateway's message ID when there is one. A
// Provider may fill the descriptive fields (StatusCode, URL) on failure too,
// so that callers can see what the gateway said.
type Receipt struct {
	// MessageID is the gateway's ID for the accepted message; empty when the
	// gateway gives none.
	MessageID string
	// Provider names the vendor that handled the attempt, when a Provider
	// knows it (failover and routing set it). Empty otherwise.
	Provider string
	// StatusCode is the gateway's own status for the attempt, such as the
	// HTTP status of an HTTP gateway; 0 when there is none.
	StatusCode int
	// URL is the request URL with every secret redacted, for HTTP gateways;
	// empty otherwise.
	URL string
}

// Provider hands messages to one SMS gateway. The Client adds validation,
// retries, rate limiting and mailing on top; a Provider does none of these.
//
// The contract:
//
//   - One call to Send is one attempt to hand one message to the gateway.
//     Send must not retry anything that may have reached the gateway. It may
//     repeat, within the same call, only steps that provably did not reach it
//     (a failed dial, DNS lookup or TLS handshake): retries are the
//     Client's.
//   - Send honours ctx: when ctx is done it returns promptly, with an error
//     that matches ctx.Err() under errors.Is.
//   - A failure is returned as an *Error whose Kind tells whether the message
//     may have been accepted (KindAmbiguous), was provably not accepted and
//     may be retried (KindTemporary, KindThrottled), can never be accepted
//     (KindRejected), or no message can be (KindFatal). An error that is not
//     an *Error counts as KindAmbiguous, since it may have been sent.
//   - Send is safe for concurrent use by multiple goroutines.
//   - Send does not retain msg, and no error, log line or Receipt it produces
//     contains a credential.
type Provider interface {
	Send(ctx context.Context, msg Message) (Receipt, error)
}

// IdempotentProvider is implemented by Providers whose gateway deduplicates
// messages by Message.ID. When Idempotent reports true, the Client retries a
// message with a non-empty ID after an ambiguous outcome, since the gateway
// will not deliver it twice.
type IdempotentProvider interface {
	Provider
	Idempotent() bool
}

// Kind classifies why a message was not sent. Callers act on the kind, never
// on an error's text.
type Kind int

// The kinds of failure. The zero Kind is KindAmbiguous: when nothing is known,
// the message may have been sent.
const (
	// KindAmbiguous: the message may have been accepted (a timeout after
	// the request was written, a reset before the answer, an unclassified
	// error). Not retried unless the provider is idempotent and the message
	// has an ID, or RetryPolicy.RetryAmbiguous is set.
	KindAmbiguous Kind = iota
	// KindRejected: permanently refused for this message (bad number, not
	// routable, too long). Never retried.
	KindRejected
	// KindTemporary: provably not accepted (connection refused, DNS
	// failure, "queue full"). Retried.
	KindTemporary
	// KindThrottled: not accepted because of rate. Retried after the whole
	// Client slows down, or only this message's retry waits when
	// Error.PerRecipient says the limit is about its recipient;
	// Error.RetryAfter holds the gateway's hint.
	KindThrottled
	// KindFatal: no message can succeed (wrong credentials, no balance). Never
	// retried, and a mailing stops at the first one.
	KindFatal
	// KindInvalid: refused by the Client before any provider saw it (empty
	// text, invalid number, too many parts). Never retried.
	KindInvalid
)

var kindNames = [...]string{
	KindAmbiguous: "ambiguous",
	KindRejected:  "rejected",
	KindTemporary: "temporary",
	KindThrottled: "throttled",
	KindFatal:     "fatal",
	KindInvalid:   "invalid",
}

// String returns the kind's lower-case name, such as "throttled".
func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// MarshalText writes the kind's name, as String does.
func (k Kind) MarshalText() ([]byte, error) {
	if k < 0 || int(k) >= len(kindNames) {
		return nil, fmt.Errorf("sms: no name for %v", k)
	}
	return []byte(kindNames[k]), nil
}

// UnmarshalText reads a kind's name, such as "throttled": the one text form
// of a Kind in configuration files and scripts.
func (k *Kind) UnmarshalText(b []byte) error {
	for i, name := range kindNames {
		if name == string(b) {
			*k = Kind(i)
			return nil
		}
	}
	return fmt.Errorf("sms: unknown kind %q (known: %s)", b, strings.Join(kindNames[:], ", "))
}

// Sentinel errors, one per Kind, for errors.Is. Every *Error matches the
// sentinel of its Kind.
var (
	ErrAmbiguous = errors.New("sms: outcome ambiguous, the message may have been sent")
	ErrRejected  = errors.New("sms: message rejected")
	ErrTemporary = errors.New("sms: temporary failure, message not sent")
	ErrThrottled = errors.New("sms: throttled, message not sent")
	ErrFatal     = errors.New("sms: fatal failure, no message can be sent")
	ErrInvalid   = errors.New("sms: invalid message")
)

// Causes of KindInvalid, wrapped in the *Error's Err.
var (
	// ErrEmptyText: the text is empty or only white space (as
	// unicode.IsSpace says: spaces, tabs, line breaks, no-break spaces).
	ErrEmptyText     = errors.New("empty text")
	ErrInvalidNumber = errors.New("invalid number")
	ErrTooManyParts  = errors.New("too many parts")
)

// Errors about a whole call rather than one message's outcome.
var (
	// ErrClosed is returned by calls on a Client after Close.
	ErrClosed = errors.New("sms: client closed")
	// ErrDuplicate is the error of a mailing entry skipped because its
	// number, after normalization, appeared earlier in the same mailing.
	ErrDuplicate = errors.New("sms: duplicate number in mailing, sent once")
	// ErrNotAttempted wraps the cause (a context error, ErrClosed, or the
	// fatal *Error that stopped a mailing) of an entry that was never
	// handed to the provider.
	ErrNotAttempted = errors.New("sms: not attempted")
)

var kindSentinels = [...]error{
	KindAmbiguous: ErrAmbiguous,
	KindRejected:  ErrRejected,
	KindTemporary: ErrTemporary,
	KindThrottled: ErrThrottled,
	KindFatal:     ErrFatal,
	KindInvalid:   ErrInvalid,
}

// Error is a classified failure. Providers return it from Send; the Client
// returns it in Result.Err with Attempts filled in. It always unwraps to its
// cause, and matches the sentinel of its Kind under errors.Is.
//
// When *Errors are nested (a provider that wraps a vendor's *Error in its
// own), the outermost one decides the kind: errors.Is matches its sentinel
// and no other kind's, errors.As finds it first, and Result.Kind reports it.
// The inner errors and their causes stay reachable with errors.Is and
// errors.As.
type Error struct {
	// Kind says what the failure means for the message.
	Kind Kind
	// Code is the gateway's own code for the failure (an HTTP status, a
	// vendor status code), empty when there is none.
	Code string
	// RetryAfter is the gateway's hint for when to try again; 0 when none.
	RetryAfter time.Duration
	// PerRecipient, for KindThrottled, says the limit is about this
	// recipient (the same text to this number too often, too many messages
	// to it today), not the account: the Client then delays this message's
	// retry alone and lets every other message go on. False (the safe
	// default) holds back every worker of the Client. It means nothing for
	// the other kinds.
	PerRecipient bool
	// Attempts is how many times the Client handed the message to the
	// provider; 0 in errors that come straight from a Provider.
	Attempts int
	// Err is the underlying cause; may be nil. It never contains secrets.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("sms: ")
	b.WriteString(e.Kind.String())
	var details []string
	if e.Code != "" {
		details = append(details, "code "+e.Code)
	}
	if e.PerRecipient && e.Kind == KindThrottled {
		details = append(details, "this recipient")
	}
	if e.RetryAfter > 0 {
		details = append(details, "retry after "+e.RetryAfter.String())
	}
	if e.Attempts > 0 {
		details = append(details, fmt.Sprintf("%d attempt(s)", e.Attempts))
	}
	if len(details) > 0 {
		b.WriteString(" (" + strings.Join(details, ", ") + ")")
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the cause. When the cause holds other *Errors (a
// provider that wraps each vendor's *Error in its own, or a retry cut short
// by another message's fatal outcome), it comes back behind a layer that
// hides their kinds from errors.Is and keeps everything else: e alone
// decides the kind of an error it is the first *Error of, for errors.Is as
// for errors.As and Result.Kind.
func (e *Error) Unwrap() error {
	var inner *Error
	if e.Err != nil && errors.As(e.Err, &inner) {
		return innerErrors{e.Err}
	}
	return e.Err
}

// Is reports whether target is the sentinel of e's Kind (ErrRejected for
// KindRejected, and so on).
func (e *Error) Is(target error) bool {
	return e.Kind >= 0 && int(e.Kind) < len(kindSentinels) && target == kindSentinels[e.Kind]
}

// innerErrors is the cause of an *Error that holds other *Errors. Under
// errors.Is it matches what the cause matches but the kind sentinels; under
// errors.As it finds what the cause holds. It has no Unwrap, so errors.Is
// and errors.As go no deeper than its own methods take them.
type innerErrors struct{ err error }

func (w innerErrors) Error() string { return w.err.Error() }

func (w innerErrors) Is(target error) bool {
	for _, s := range kindSentinels {
		if target == s {
			return false
		}
	}
	return errors.Is(w.err, target)
}

func (w innerErrors) As(target any) bool { return errors.As(w.err, target) }

// classify turns whatever a Provider returned into an *Error the Client owns.
// The result is a copy, so the Client can set Attempts without touching the
// provider's value.
func classify(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		c := *e
		return &c
	}
	return &Error{Kind: KindAmbiguous, Err: err}
}

// contextErr reports whether err is (or wraps) a context error.
func contextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

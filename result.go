package sms

import (
	"errors"
	"fmt"
	"time"
)

// Status is what became of one message.
type Status int

// The statuses. The zero Status is StatusNotAttempted: a message nobody
// handled was not sent.
const (
	// StatusNotAttempted: never handed to the provider (the context was
	// cancelled, the Client closed, or a mailing stopped after a fatal
	// error). Result.Err wraps ErrNotAttempted and the cause.
	StatusNotAttempted Status = iota
	// StatusSent: the gateway accepted the message.
	StatusSent
	// StatusFailed: the provider was tried and the message was not accepted,
	// or (KindAmbiguous) may have been. Result.Err is an *Error.
	StatusFailed
	// StatusSkipped: refused before any provider saw it: an invalid number
	// or text (Result.Err is an *Error of KindInvalid), or a number repeated
	// in a mailing (Result.Err is ErrDuplicate).
	StatusSkipped
)

var statusNames = [...]string{
	StatusNotAttempted: "not attempted",
	StatusSent:         "sent",
	StatusFailed:       "failed",
	StatusSkipped:      "skipped",
}

// String returns the status's name, such as "sent".
func (s Status) String() string {
	if s >= 0 && int(s) < len(statusNames) {
		return statusNames[s]
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// Result is the outcome of one message: a Send, or one entry of a mailing.
type Result struct {
	// Index is the entry's position in the mailing's input; 0 for Send.
	Index int
	// To is the number as the caller gave it.
	To string
	// Number is To after normalization; empty when To was invalid.
	Number string
	// Status says whether the message was sent.
	Status Status
	// Receipt is the gateway's answer to the last attempt (its MessageID
	// when sent). Zero when there was no attempt.
	Receipt
	// Attempts is how many times the message was handed to the provider.
	Attempts int
	// Encoding and Parts describe the text as Analyze does: what one
	// delivery costs.
	Encoding Encoding
	Parts    int
	// Err is nil when the message was sent, and says why not otherwise (see
	// Status for what it holds).
	Err error
}

// Kind returns the Kind of the *Error in r.Err (the outermost one, when
// several are nested), and false when r.Err holds none: when the message
// was sent, skipped as a duplicate, or not attempted for any reason but a
// fatal outcome that stopped its mailing (that one reports KindFatal).
// Every failed message has a Kind: the Client classifies what a provider
// returns, and an error that is not an *Error is KindAmbiguous.
func (r Result) Kind() (Kind, bool) {
	var e *Error
	if errors.As(r.Err, &e) {
		return e.Kind, true
	}
	return KindAmbiguous, false
}

// Attempt describes one call to the provider, for Hooks.Attempt.
type Attempt struct {
	// Number is the normalized recipient.
	Number string
	// N counts the attempts of this message, from 1.
	N int
	// Receipt is what the provider returned.
	Receipt Receipt
	// Err is nil on success, else the classified *Error.
	Err error
	// Duration is how long the provider's Send took.
	Duration time.Duration
}

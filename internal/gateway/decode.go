package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/smsgateway/sms"
)

// request is a decoded and validated POST /sending or /mailing.
type request struct {
	Address string
	Text    string
	// To are the numbers as given; Numbers the same after normalization.
	To      []string
	Numbers []string
	// SendAt is when to send; zero means now.
	SendAt time.Time
	// Wait is how long to wait for the result before answering.
	Wait time.Duration
}

// limits are what decodeRequest checks against.
type limits struct {
	known       []string // configured provider names, sorted
	maxMailing  int
	maxText     int
	defaultWait time.Duration
	maxWait     time.Duration
}

// maxDelay caps delay and send_at, to keep times representable.
const maxDelay = 366 * 24 * time.Hour

// apiError is an error answer: {"error": "...", "details": [...]}.
type apiError struct {
	Status  int          `json:"-"`
	Message string       `json:"error"`
	Details []fieldError `json:"details,omitempty"`
}

// fieldError says what is wrong with one field of a request.
type fieldError struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

func (e *apiError) Error() string { return e.Message }

// maxDetails bounds the list of field errors in one answer.
const maxDetails = 20

// decodeRequest reads the fields of a sending (mailing false) or mailing
// request from the query and the body, the body winning where both give a
// field. The body is empty, a JSON object, or (mailing only) a JSON array of
// numbers. It returns an *apiError: 400 for a body that is not JSON, 422 for
// fields that are missing or invalid, each listed with the reason.
func decodeRequest(query url.Values, body []byte, mailing bool, lim limits, now time.Time) (request, *apiError) {
	var req request
	var errs []fieldError
	bad := func(field, format string, args ...any) {
		if len(errs) < maxDetails {
			errs = append(errs, fieldError{Field: field, Reason: fmt.Sprintf(format, args...)})
		}
	}
	numbersField := "phone_number"
	if mailing {
		numbersField = "phone_numbers"
	}

	// Fields as raw strings from the query, then overridden by the body.
	fields := map[string]string{}
	for _, k := range []string{"address", "message", "delay", "send_at", "wait", "phone_number"} {
		if v, ok := query[k]; ok && len(v) > 0 {
			fields[k] = v[0]
		}
	}
	if !mailing {
		if v, ok := fields["phone_number"]; ok {
			req.To = []string{v}
		}
	} else if _, ok := fields["phone_number"]; ok {
		bad("phone_number", "a mailing takes phone_numbers: a JSON array in the body")
	}
	var numbersGiven bool
	trimmed := bytes.TrimSpace(body)
	switch {
	case len(trimmed) == 0:
	case trimmed[0] == '[':
		if !mailing {
			return req, &apiError{Status: http.StatusUnprocessableEntity, Message: "validation failed",
				Details: []fieldError{{Field: "body", Reason: "a list of numbers is for /mailing; /sending takes one phone_number"}}}
		}
		var list []json.RawMessage
		if err := decodeJSON(trimmed, &list); err != nil {
			return req, malformed(err)
		}
		numbersGiven = true
		req.To = decodeNumbers(list, bad)
	case trimmed[0] == '{':
		var obj map[string]json.RawMessage
		if err := decodeJSON(trimmed, &obj); err != nil {
			return req, malformed(err)
		}
		for _, k := range sortedKeys(obj) {
			v := obj[k]
			switch {
			case k == "address" || k == "message" || k == "send_at":
				var s string
				if err := json.Unmarshal(v, &s); err != nil {
					bad(k, "must be a string")
					continue
				}
				fields[k] = s
			case k == "delay" || k == "wait":
				s, ok := jsonDuration(v)
				if !ok {
					bad(k, "must be a duration such as \"30s\" or a number of seconds")
					continue
				}
				fields[k] = s
			case k == numbersField && !mailing:
				n, ok := jsonNumber(v)
				if !ok {
					bad(k, "must be an integer or a string")
					continue
				}
				req.To = []string{n}
			case k == numbersField && mailing:
				var list []json.RawMessage
				if err := json.Unmarshal(v, &list); err != nil {
					bad(k, "must be a list of integers or strings")
					continue
				}
				numbersGiven = true
				req.To = decodeNumbers(list, bad)
			default:
				bad(k, "unknown field")
			}
		}
	default:
		return req, malformed(errors.New("the body must be JSON: an object, or for /mailing a list of numbers"))
	}

	// address
	req.Address = fields["address"]
	if req.Address == "" && len(lim.known) == 1 {
		req.Address = lim.known[0]
	}
	switch {
	case req.Address == "":
		bad("address", "required; known: %s", strings.Join(lim.known, ", "))
	case !slices.Contains(lim.known, req.Address):
		bad("address", "unknown address %q; known: %s", truncate(req.Address, 64), strings.Join(lim.known, ", "))
	}

	// message
	req.Text = fields["message"]
	switch {
	case req.Text == "":
		bad("message", "required, and must not be empty")
	case len(req.Text) > lim.maxText:
		bad("message", "longer than %d bytes", lim.maxText)
	case !utf8.ValidString(req.Text):
		bad("message", "not valid UTF-8")
	}

	// numbers
	switch {
	case len(req.To) == 0 && !numbersGiven:
		bad(numbersField, "required")
	case len(req.To) == 0:
		bad(numbersField, "must not be empty")
	case len(req.To) > lim.maxMailing:
		bad(numbersField, "%d numbers; at most %d allowed", len(req.To), lim.maxMailing)
	default:
		req.Numbers = make([]string, len(req.To))
		for i, to := range req.To {
			field := numbersField
			if mailing {
				field = fmt.Sprintf("phone_numbers[%d]", i)
			}
			n, err := sms.NormalizeNumber(to)
			if err != nil {
				bad(field, "%v", err)
				continue
			}
			req.Numbers[i] = n
		}
	}

	// delay, send_at
	delay, hasDelay := fields["delay"]
	sendAt, hasSendAt := fields["send_at"]
	switch {
	case hasDelay && hasSendAt:
		bad("delay", "give delay or send_at, not both")
	case hasDelay:
		d, err := parseSeconds(delay)
		if err != nil || d < 0 || d > maxDelay {
			bad("delay", "must be a duration from 0 to %v, such as \"30s\"", maxDelay)
		} else if d > 0 {
			req.SendAt = now.Add(d)
		}
	case hasSendAt:
		t, err := time.Parse(time.RFC3339, sendAt)
		switch {
		case err != nil:
			bad("send_at", "must be an RFC 3339 time such as \"2030-01-02T15:04:05Z\"")
		case t.Sub(now) > maxDelay:
			bad("send_at", "more than %v ahead", maxDelay)
		case t.After(now):
			req.SendAt = t
		}
	}

	// wait
	req.Wait = lim.defaultWait
	if w, ok := fields["wait"]; ok {
		d, err := parseSeconds(w)
		if err != nil || d < 0 {
			bad("wait", "must be a non-negative duration such as \"5s\"")
		}
		req.Wait = min(max(d, 0), lim.maxWait)
	}

	if len(errs) > 0 {
		return req, &apiError{Status: http.StatusUnprocessableEntity, Message: "validation failed", Details: errs}
	}
	return req, nil
}

// decodeNumbers reads a list of integers or strings.
func decodeNumbers(list []json.RawMessage, bad func(field, format string, args ...any)) []string {
	out := make([]string, len(list))
	for i, v := range list {
		n, ok := jsonNumber(v)
		if !ok {
			bad(fmt.Sprintf("phone_numbers[%d]", i), "must be an integer or a string")
		}
		out[i] = n
	}
	return out
}

// jsonNumber reads a phone number given as a JSON integer or string.
func jsonNumber(v json.RawMessage) (string, bool) {
	var s string
	if err := json.Unmarshal(v, &s); err == nil {
		return s, true
	}
	var n json.Number
	if err := json.Unmarshal(v, &n); err != nil {
		return "", false
	}
	for _, r := range n.String() {
		if r < '0' || r > '9' {
			return "", false // fraction, exponent or sign: not a phone number
		}
	}
	return n.String(), true
}

// jsonDuration reads a duration given as a JSON string or number (seconds),
// as a string for parseSeconds.
func jsonDuration(v json.RawMessage) (string, bool) {
	var s string
	if err := json.Unmarshal(v, &s); err == nil {
		return s, true
	}
	var f float64
	if err := json.Unmarshal(v, &f); err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return "", false
	}
	return string(v), true
}

// decodeJSON decodes exactly one JSON value.
func decodeJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("unexpected data after the JSON value")
	}
	return nil
}

func malformed(err error) *apiError {
	return &apiError{Status: http.StatusBadRequest, Message: "malformed body: " + err.Error()}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

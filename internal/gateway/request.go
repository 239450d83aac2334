package gateway

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/smsgateway/sms"
	"github.com/smsgateway/sms/internal/gateway/store"
)

// request is a POST /sending or /mailing: its fields from the query string
// and the JSON body (the body wins where both give one), then validated.
type request struct {
	Address      string        `json:"address"`
	Message      string        `json:"message"`
	PhoneNumber  phoneNumber   `json:"phone_number"`  // /sending
	PhoneNumbers []phoneNumber `json:"phone_numbers"` // /mailing
	Delay        sms.Duration  `json:"delay"`
	SendAt       time.Time     `json:"send_at"`
	Wait         sms.Duration  `json:"wait"`
	CallbackURL  string        `json:"callback_url"`

	// given records the fields the request gave, by name.
	given map[string]bool
	// Set by validation: the numbers as the provider's Client judged
	// them (one Result per number, duplicates skipped), and when to send
	// (zero: now).
	report *sms.Report
	at     time.Time
}

// phoneNumber is a number as a request gives it: a JSON string, or a JSON
// integer (the original API's form). bad says why it is neither.
type phoneNumber struct {
	s   string
	bad bool
}

// UnmarshalText takes the query string's form.
func (n *phoneNumber) UnmarshalText(b []byte) error {
	*n = phoneNumber{s: string(b)}
	return nil
}

// UnmarshalJSON takes a string or an integer; anything else (a fraction, an
// exponent, a sign, a list) is remembered as bad, for validation to report
// with the field's name.
func (n *phoneNumber) UnmarshalJSON(b []byte) error {
	*n = phoneNumber{}
	if len(b) > 0 && b[0] == '"' {
		n.bad = json.Unmarshal(b, &n.s) != nil
		return nil
	}
	n.s = string(b)
	n.bad = len(b) == 0 || strings.Trim(n.s, "0123456789") != ""
	return nil
}

// field returns a pointer to the field of r whose JSON name is name, or nil.
func (r *request) field(name string) any {
	switch name {
	case "address":
		return &r.Address
	case "message":
		return &r.Message
	case "phone_number":
		return &r.PhoneNumber
	case "phone_numbers":
		return &r.PhoneNumbers
	case "delay":
		return &r.Delay
	case "send_at":
		return &r.SendAt
	case "wait":
		return &r.Wait
	case "callback_url":
		return &r.CallbackURL
	}
	return nil
}

// limits are what a request is validated against.
type limits struct {
	known       []string // configured provider names, sorted
	maxMailing  int
	maxText     int
	defaultWait time.Duration
	maxWait     time.Duration
	// check asks the named provider's sms.Client what it makes of a
	// mailing: the numbers normalized, the invalid and repeated ones
	// skipped, the text checked.
	check func(address string, m sms.Mailing) *sms.Report
	// callback checks a callback_url; nil when the service has no
	// callback secret, so none is taken.
	callback func(rawURL string) error
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

// problems collects the field errors of one request, one per field.
type problems []fieldError

func (p *problems) add(field, format string, args ...any) {
	if len(*p) < maxDetails && !slices.ContainsFunc(*p, func(e fieldError) bool { return e.Field == field }) {
		*p = append(*p, fieldError{Field: field, Reason: fmt.Sprintf(format, args...)})
	}
}

func (p problems) err() *apiError {
	if len(p) == 0 {
		return nil
	}
	return &apiError{Status: http.StatusUnprocessableEntity, Message: "validation failed", Details: p}
}

// decodeRequest reads a sending (mailing false) or mailing request from the
// query and the body, and validates it. The body is empty, a JSON object,
// or (mailing only) a JSON array of numbers. It returns an *apiError: 400
// for a body that is not JSON, 422 for fields that are unknown, repeated,
// missing or invalid, each listed once with the reason.
func decodeRequest(query url.Values, body []byte, mailing bool, lim limits, now time.Time) (*request, *apiError) {
	r := &request{given: map[string]bool{}}
	var errs problems
	for _, k := range slices.Sorted(maps.Keys(query)) {
		switch v := query[k]; {
		case r.field(k) == nil:
			errs.add(k, "unknown parameter")
		case len(v) > 1:
			errs.add(k, "given more than once")
		case k == "phone_numbers":
			r.given[k] = true
			for _, n := range strings.Split(v[0], ",") {
				r.PhoneNumbers = append(r.PhoneNumbers, phoneNumber{s: strings.TrimSpace(n)})
			}
		default:
			r.given[k] = true
			if err := setText(r.field(k), v[0]); err != nil {
				errs.add(k, "%v", err)
			}
		}
	}
	if aerr := r.decodeBody(body, &errs); aerr != nil {
		return nil, aerr
	}
	r.validate(mailing, lim, now, &errs)
	return r, errs.err()
}

// setText sets the field ptr points to from a query parameter.
func setText(ptr any, v string) error {
	if s, ok := ptr.(*string); ok {
		*s = v
		return nil
	}
	if err := ptr.(encoding.TextUnmarshaler).UnmarshalText([]byte(v)); err != nil {
		return errors.New(fieldFormat(ptr))
	}
	return nil
}

// fieldFormat describes the form a field takes, for error answers.
func fieldFormat(ptr any) string {
	switch ptr.(type) {
	case *sms.Duration:
		return `must be a duration such as "30s" or a number of seconds`
	case *time.Time:
		return `must be an RFC 3339 time such as "2030-01-02T15:04:05Z"`
	case *phoneNumber:
		return "must be an integer or a string"
	case *[]phoneNumber:
		return "must be a list of integers or strings"
	default:
		return "must be a string"
	}
}

// decodeBody decodes a JSON body over the query's fields. A body that is
// not JSON is a 400; fields that do not fit are added to errs.
func (r *request) decodeBody(body []byte, errs *problems) *apiError {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil
	}
	if !utf8.Valid(body) {
		return &apiError{Status: http.StatusUnprocessableEntity, Message: "validation failed", Details: []fieldError{{Field: "body", Reason: "not valid UTF-8"}}}
	}
	var fields map[string]json.RawMessage
	switch body[0] {
	case '[':
		fields = map[string]json.RawMessage{"phone_numbers": body}
	case '{':
		if err := decodeJSON(body, &fields); err != nil {
			return malformed(err)
		}
	default:
		return malformed(errors.New("the body must be JSON: an object, or for /mailing a list of numbers"))
	}
	if err := decodeJSON(body, new(any)); err != nil {
		return malformed(err)
	}
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		ptr := r.field(k)
		if ptr == nil {
			errs.add(k, "unknown field")
			continue
		}
		r.given[k] = true
		if err := json.Unmarshal(fields[k], ptr); err != nil {
			errs.add(k, "%s", fieldFormat(ptr))
		}
	}
	return nil
}

// validate checks the fields of a decoded request and asks the provider's
// Client about the numbers and the text; it sets r.report and r.at.
func (r *request) validate(mailing bool, lim limits, now time.Time, errs *problems) {
	if r.Address == "" && len(lim.known) == 1 {
		r.Address = lim.known[0]
	}
	switch {
	case r.Address == "":
		errs.add("address", "required; known: %s", strings.Join(lim.known, ", "))
	case !slices.Contains(lim.known, r.Address):
		errs.add("address", "unknown address %q; known: %s", truncate(r.Address, 64), strings.Join(lim.known, ", "))
	}

	switch {
	case r.Message == "":
		errs.add("message", "required, and must not be empty")
	case len(r.Message) > lim.maxText:
		errs.add("message", "longer than %d bytes", lim.maxText)
	case !utf8.ValidString(r.Message):
		errs.add("message", "not valid UTF-8")
	case strings.ContainsRune(r.Message, 0):
		errs.add("message", "must not contain NUL characters")
	}

	field, numbers := r.numbers(mailing, errs)
	switch {
	case numbers == nil && !r.given[field]:
		errs.add(field, "required")
	case len(numbers) == 0:
		errs.add(field, "must not be empty")
	case len(numbers) > lim.maxMailing:
		errs.add(field, "%d numbers; at most %d allowed", len(numbers), lim.maxMailing)
	}

	switch {
	case r.given["delay"] && r.given["send_at"]:
		errs.add("delay", "give delay or send_at, not both")
	case r.given["delay"]:
		if d := time.Duration(r.Delay); d < 0 || d > maxDelay {
			errs.add("delay", "must be a duration from 0 to %v, such as \"30s\"", maxDelay)
		} else if d > 0 {
			r.at = now.Add(d)
		}
	case r.given["send_at"]:
		if r.SendAt.Sub(now) > maxDelay {
			errs.add("send_at", "more than %v ahead", maxDelay)
		} else if r.SendAt.After(now) {
			r.at = r.SendAt
		}
	}

	if !r.given["wait"] {
		r.Wait = sms.Duration(lim.defaultWait)
	} else if r.Wait < 0 {
		errs.add("wait", "must be a non-negative duration such as \"5s\"")
	}
	r.Wait = min(max(r.Wait, 0), sms.Duration(lim.maxWait))

	switch {
	case !r.given["callback_url"]:
	case lim.callback == nil:
		errs.add("callback_url", "not taken: the service has no callback_secret to sign events with")
	default:
		if err := lim.callback(r.CallbackURL); err != nil {
			errs.add("callback_url", "%v", err)
		}
	}

	if len(*errs) > 0 || r.Message == "" {
		return
	}
	// The Client decides what a number is and which ones repeat.
	to := make([]string, len(numbers))
	for i, n := range numbers {
		to[i] = n.s
	}
	r.report = lim.check(r.Address, sms.Mailing{Text: r.Message, To: to})
	for i, res := range r.report.Results {
		switch {
		case res.Status != sms.StatusSkipped || errors.Is(res.Err, sms.ErrDuplicate):
		case errors.Is(res.Err, sms.ErrInvalidNumber):
			name := field
			if mailing {
				name = fmt.Sprintf("%s[%d]", field, i)
			}
			errs.add(name, "%s", reason(res.Err))
		default: // the text
			errs.add("message", "%s", reason(res.Err))
		}
	}
}

// numbers returns the name of the numbers field and its entries, adding
// the entries that are neither strings nor integers to errs.
func (r *request) numbers(mailing bool, errs *problems) (string, []phoneNumber) {
	field, other := "phone_number", "phone_numbers"
	numbers := []phoneNumber{r.PhoneNumber}
	if !r.given[field] {
		numbers = nil
	}
	if mailing {
		field, other = other, field
		numbers = r.PhoneNumbers
	}
	if r.given[other] {
		errs.add(other, "not for this endpoint: /sending takes phone_number, /mailing takes phone_numbers")
	}
	for i, n := range numbers {
		if n.bad {
			name := field
			if mailing {
				name = fmt.Sprintf("%s[%d]", field, i)
			}
			errs.add(name, "must be an integer or a string")
		}
	}
	return field, numbers
}

// reason is the text of a validation error without the library's prefix.
func reason(err error) string {
	var e *sms.Error
	if errors.As(err, &e) && e.Err != nil {
		return e.Err.Error()
	}
	return err.Error()
}

// task builds the task and its message rows from a validated request.
func (r *request) task(id string, mailing bool) (store.Task, []store.Message) {
	t := store.Task{ID: id, Kind: store.KindSending, Address: r.Address, Total: len(r.report.Results), CallbackURL: r.CallbackURL}
	if mailing {
		t.Kind = store.KindMailing
	}
	msgs := make([]store.Message, len(r.report.Results))
	for i, res := range r.report.Results {
		m := store.Message{Index: i, To: res.To, Number: res.Number, Status: store.StateQueued, Parts: res.Parts}
		if res.Status == sms.StatusSkipped {
			m.Status, m.Error = store.StateSkipped, res.Err.Error()
		}
		msgs[i] = m
	}
	return t, msgs
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

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

package httpquery

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/smsgateway/sms"
)

// Outcome is what a gateway's answer means for the message: Accepted, or a
// failure of one of the sms.Kinds a gateway can give. Its text form, as
// written in a Config file, is "accepted" or the kind's own text form
// (sms.Kind.MarshalText): "rejected", "temporary", "throttled", "fatal" or
// "ambiguous". The zero Outcome is none: invalid in a Rule, in Codes and
// in Status; Outcomes.UnknownCode reads it as Ambiguous.
type Outcome int

// The outcomes. Each but Accepted is a failure of the sms.Kind of the same
// name.
const (
	Accepted  Outcome = 1
	Rejected          = failure + Outcome(sms.KindRejected)
	Temporary         = failure + Outcome(sms.KindTemporary)
	Throttled         = failure + Outcome(sms.KindThrottled)
	Fatal             = failure + Outcome(sms.KindFatal)
	Ambiguous         = failure + Outcome(sms.KindAmbiguous)
)

// failure is where the failure outcomes start: failure+Outcome(k) is a
// failure of sms.Kind k, so that every name and every kind comes from
// sms.Kind.
const failure Outcome = 2

// acceptedText is the text form of Accepted, the one outcome that is not a
// kind.
const acceptedText = "accepted"

// kind returns the sms.Kind of a failure outcome. ok is false for Accepted
// and for what is no outcome: the zero Outcome, numbers past the last kind,
// and sms.KindInvalid, which only the Client gives.
func (o Outcome) kind() (k sms.Kind, ok bool) {
	if o < failure {
		return 0, false
	}
	k = sms.Kind(o - failure)
	_, err := k.MarshalText()
	return k, err == nil && k != sms.KindInvalid
}

func (o Outcome) valid() bool {
	_, ok := o.kind()
	return ok || o == Accepted
}

// MarshalText writes "accepted" or the failure's sms.Kind as
// sms.Kind.MarshalText does.
func (o Outcome) MarshalText() ([]byte, error) {
	if o == Accepted {
		return []byte(acceptedText), nil
	}
	if k, ok := o.kind(); ok {
		return k.MarshalText()
	}
	return nil, fmt.Errorf("httpquery: no outcome %d", int(o))
}

// UnmarshalText reads "accepted" or an sms.Kind's text form, other than
// "invalid".
func (o *Outcome) UnmarshalText(b []byte) error {
	if string(b) == acceptedText {
		*o = Accepted
		return nil
	}
	var k sms.Kind
	if err := k.UnmarshalText(b); err != nil {
		return fmt.Errorf("httpquery: outcome %q: want %q or an sms.Kind: %w", b, acceptedText, err)
	}
	out := failure + Outcome(k)
	if !out.valid() {
		return fmt.Errorf("httpquery: outcome %q: no gateway answer means that", b)
	}
	*o = out
	return nil
}

// String returns the text form, or "Outcome(n)" for what is no outcome.
func (o Outcome) String() string {
	b, err := o.MarshalText()
	if err != nil {
		return fmt.Sprintf("Outcome(%d)", int(o))
	}
	return string(b)
}

// Outcomes says how an answer is classified. They are tried in this order,
// and the first that decides wins:
//
//  1. Rules, in order: the first whose Status and Body both match.
//  2. CodePaths: the first JSON path found in the body gives the vendor's
//     code, looked up in Codes (UnknownCode when it is not listed).
//  3. Status: the answer's HTTP status, exact ("503") before its class
//     ("5xx").
//  4. The default table: see the package doc.
//
// The zero value classifies by HTTP status alone.
type Outcomes struct {
	// Rules match the HTTP status and a regular expression on the body.
	Rules []Rule `json:"rules,omitempty"`
	// CodePaths are dot-separated paths into a JSON body ("status_code",
	// "sms.{to}.status_code", "messages.0.status"), where "{to}" stands for
	// the number as sent, a number for an array's element, and "*" for
	// every element of an array ("messages.*.status": one code per part of
	// a long message). With "*", the codes found decide together: when
	// their outcomes agree, that outcome; when some are Accepted and some
	// not, Ambiguous (part of the message left, so sending it again would
	// repeat that part), with the code of the first failure; otherwise the
	// first code's outcome.
	CodePaths []string `json:"code_paths,omitempty"`
	// Codes maps the vendor's codes found at CodePaths to outcomes.
	Codes map[string]Outcome `json:"codes,omitempty"`
	// UnknownCode is the outcome of a code found but not in Codes; zero
	// (empty in JSON) means Ambiguous.
	UnknownCode Outcome `json:"unknown_code,omitempty"`
	// UnknownCodeByStatus classifies an answer whose code is not in Codes
	// by its HTTP status (Status, then the default table) instead of
	// UnknownCode: for APIs whose HTTP status already says what happened
	// and whose codes only refine it (Twilio).
	UnknownCodeByStatus bool `json:"unknown_code_by_status,omitempty"`
	// Status maps HTTP statuses ("429") or classes ("4xx") to outcomes,
	// overriding the default table.
	Status map[string]Outcome `json:"status,omitempty"`
	// PerRecipient lists the codes (vendor codes found at CodePaths, else
	// HTTP statuses such as "429") whose Throttled outcome is about the
	// recipient alone, not the account (the same text to this number too
	// often): the *sms.Error has PerRecipient set, and the sms.Client
	// holds back only that message. Other throttles hold back every
	// message of the Client.
	PerRecipient []string `json:"per_recipient,omitempty"`
	// MessageID is a regular expression on the body of an accepted answer
	// whose first capture group is the gateway's message ID.
	MessageID string `json:"message_id,omitempty"`
	// MessageIDPath is a JSON path (as in CodePaths) to the message ID;
	// with "*", the first element's. Tried after MessageID. An accepted answer without an ID is accepted
	// all the same, with an empty Receipt.MessageID.
	MessageIDPath string `json:"message_id_path,omitempty"`
}

// Rule classifies answers whose status and body match.
type Rule struct {
	// Status is an HTTP status ("403") or class ("4xx"); empty matches any.
	Status string `json:"status,omitempty"`
	// Body is a regular expression (Go syntax) searched in the body; empty
	// matches any body.
	Body string `json:"body,omitempty"`
	// Outcome is what a match means.
	Outcome Outcome `json:"outcome"`
}

type compiledRule struct {
	status string
	body   *regexp.Regexp
	out    Outcome
}

type outcomes struct {
	rules        []compiledRule
	codePaths    []string
	codes        map[string]Outcome
	unknownCode  Outcome
	byStatus     bool // UnknownCodeByStatus
	status       map[string]Outcome
	msgID        *regexp.Regexp
	msgIDPath    string
	needJSON     bool
	perRecipient map[string]bool
}

func (o *Outcomes) compile() (*outcomes, error) {
	c := &outcomes{
		codePaths:   o.CodePaths,
		codes:       o.Codes,
		unknownCode: o.UnknownCode,
		byStatus:    o.UnknownCodeByStatus,
		status:      o.Status,
		msgIDPath:   o.MessageIDPath,
	}
	if c.unknownCode == 0 {
		c.unknownCode = Ambiguous
	}
	if !c.unknownCode.valid() {
		return nil, configError("Outcomes.UnknownCode: unknown outcome %v", o.UnknownCode)
	}
	for i, r := range o.Rules {
		if r.Status != "" && !ruleStatus.MatchString(r.Status) {
			return nil, configError("Outcomes.Rules[%d].Status must be like 403 or 4xx, got %q", i, r.Status)
		}
		if !r.Outcome.valid() {
			return nil, configError("Outcomes.Rules[%d]: outcome missing or unknown (%v)", i, r.Outcome)
		}
		cr := compiledRule{status: r.Status, out: r.Outcome}
		if r.Body != "" {
			re, err := regexp.Compile(r.Body)
			if err != nil {
				return nil, configError("Outcomes.Rules[%d].Body: %v", i, err)
			}
			cr.body = re
		}
		c.rules = append(c.rules, cr)
	}
	for code, out := range o.Codes {
		if !out.valid() {
			return nil, configError("Outcomes.Codes[%q]: unknown outcome %v", code, out)
		}
	}
	for st, out := range o.Status {
		if !ruleStatus.MatchString(st) {
			return nil, configError("Outcomes.Status key must be like 429 or 5xx, got %q", st)
		}
		if !out.valid() {
			return nil, configError("Outcomes.Status[%q]: unknown outcome %v", st, out)
		}
	}
	if o.MessageID != "" {
		re, err := regexp.Compile(o.MessageID)
		if err != nil {
			return nil, configError("Outcomes.MessageID: %v", err)
		}
		if re.NumSubexp() < 1 {
			return nil, configError("Outcomes.MessageID needs a capture group")
		}
		c.msgID = re
	}
	c.needJSON = len(c.codePaths) > 0 || c.msgIDPath != ""
	c.perRecipient = map[string]bool{}
	for _, code := range o.PerRecipient {
		c.perRecipient[code] = true
	}
	return c, nil
}

// verdict is a classified answer.
type verdict struct {
	out          Outcome
	code         string // vendor code, or the HTTP status
	messageID    string
	perRecipient bool // a throttle about the recipient alone
}

// classify decides what an answer with this status and body means for the
// message sent to number.
func (o *outcomes) classify(status int, body []byte, number string) verdict {
	v := verdict{code: strconv.Itoa(status)}
	var doc any
	if o.needJSON {
		doc = parseJSON(body)
	}
	v.out = o.decide(status, body, doc, number, &v.code)
	switch v.out {
	case Accepted:
		v.messageID = o.messageID(body, doc, number)
	case Throttled:
		v.perRecipient = o.perRecipient[v.code]
	}
	return v
}

func (o *outcomes) decide(status int, body []byte, doc any, number string, code *string) Outcome {
	for _, r := range o.rules {
		if r.status != "" && !statusMatches(r.status, status) {
			continue
		}
		if r.body != nil && !r.body.Match(body) {
			continue
		}
		return r.out
	}
	if doc != nil {
		for _, p := range o.codePaths {
			codes := lookupAll(doc, p, number)
			if len(codes) == 0 {
				continue
			}
			if out, c, ok := o.codesOutcome(codes); ok {
				*code = c
				return out
			}
			*code = codes[0]
			break // an unknown code, classified by status
		}
	}
	st := strconv.Itoa(status)
	if out, ok := o.status[st]; ok {
		return out
	}
	if out, ok := o.status[st[:1]+"xx"]; ok {
		return out
	}
	return defaultOutcome(status)
}

// defaultOutcome is the table applied when nothing in the Config decides.
func defaultOutcome(status int) Outcome {
	switch {
	case status >= 200 && status < 300:
		return Accepted
	case status == http.StatusTooManyRequests:
		return Throttled
	case status == http.StatusUnauthorized, status == http.StatusForbidden,
		status == http.StatusProxyAuthRequired, status == http.StatusMethodNotAllowed:
		// Credentials or configuration: no message can succeed.
		return Fatal
	case status == http.StatusRequestTimeout:
		// The server gave up waiting for the request: not processed.
		return Temporary
	case status >= 400 && status < 500:
		return Rejected
	case status == http.StatusServiceUnavailable:
		return Temporary
	case status == http.StatusNotImplemented, status == http.StatusHTTPVersionNotSupported:
		return Fatal
	case status >= 300 && status < 400:
		// Redirects are not followed: the URL is wrong for every message.
		return Fatal
	default:
		// 500, 502, 504 and anything else: the gateway (or a proxy before
		// it) may have handled the request before failing.
		return Ambiguous
	}
}

// codesOutcome decides what the codes found at one path mean together (see
// Outcomes.CodePaths) and returns the code to report. ok is false when the
// first code is unknown and UnknownCodeByStatus says the status decides.
func (o *outcomes) codesOutcome(codes []string) (out Outcome, code string, ok bool) {
	out, known := o.code(codes[0])
	if !known && o.byStatus {
		return 0, "", false
	}
	code = codes[0]
	accepted := out == Accepted
	for _, c := range codes[1:] {
		next, _ := o.code(c)
		switch {
		case next == out:
		case accepted || next == Accepted:
			// Part accepted, part not.
			if accepted {
				code = c
			}
			return Ambiguous, code, true
		}
	}
	return out, code, true
}

// code returns the outcome of one vendor code; known is false when it is
// not in Codes (the outcome is then UnknownCode).
func (o *outcomes) code(c string) (out Outcome, known bool) {
	if out, ok := o.codes[c]; ok {
		return out, true
	}
	return o.unknownCode, false
}

func statusMatches(pattern string, status int) bool {
	st := strconv.Itoa(status)
	if strings.HasSuffix(pattern, "xx") {
		return len(st) == 3 && st[0] == pattern[0]
	}
	return pattern == st
}

func (o *outcomes) messageID(body []byte, doc any, number string) string {
	if o.msgID != nil {
		if m := o.msgID.FindSubmatch(body); m != nil {
			return string(m[1])
		}
	}
	if doc != nil && o.msgIDPath != "" {
		if id, ok := lookup(doc, o.msgIDPath, number); ok {
			return id
		}
	}
	return ""
}

func parseJSON(body []byte) any {
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	var doc any
	if err := d.Decode(&doc); err != nil {
		return nil
	}
	return doc
}

// lookup returns the first scalar lookupAll finds.
func lookup(doc any, path, number string) (string, bool) {
	if vs := lookupAll(doc, path, number); len(vs) > 0 {
		return vs[0], true
	}
	return "", false
}

// lookupAll follows a dot-separated path through JSON objects (and arrays,
// by index, or every element for "*") and returns the scalars found as
// strings, in document order. "{to}" in a path element stands for number,
// tried as given and without its leading '+'.
func lookupAll(doc any, path, number string) []string {
	return walk(doc, strings.Split(path, "."), number, nil)
}

func walk(cur any, keys []string, number string, found []string) []string {
	for i, key := range keys {
		switch node := cur.(type) {
		case map[string]any:
			next, ok := node[key]
			if key == "{to}" {
				next, ok = node[number]
				if !ok {
					next, ok = node[strings.TrimPrefix(number, "+")]
				}
			}
			if !ok {
				return found
			}
			cur = next
		case []any:
			if key == "*" {
				for _, el := range node {
					found = walk(el, keys[i+1:], number, found)
				}
				return found
			}
			n, err := strconv.Atoi(key)
			if err != nil || n < 0 || n >= len(node) {
				return found
			}
			cur = node[n]
		default:
			return found
		}
	}
	switch v := cur.(type) {
	case string:
		return append(found, v)
	case json.Number:
		return append(found, v.String())
	case bool:
		return append(found, strconv.FormatBool(v))
	default:
		return found
	}
}

package httpquery

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/smsgateway/sms"
	"github.com/smsgateway/sms/internal/redact"
)

// The errors of ParseDelivery: every error it returns matches one of them
// under errors.Is. None quotes the callback's URL or the report URL, whose
// token is a secret, so they can be logged and answered.
var (
	// ErrReportMalformed: the request is not a callback this Provider
	// understands (no Config.Delivery, a method or body from somewhere
	// Delivery.Sources does not list, no status field, a body that does
	// not parse or is too large).
	ErrReportMalformed = errors.New("httpquery: malformed delivery report")
	// ErrReportStatus: the status is not in Delivery.Statuses.
	ErrReportStatus = errors.New("httpquery: delivery report with a status not in Delivery.Statuses")
	// ErrReportSignature: Delivery.Signature is set and the callback's
	// signature is missing or wrong.
	ErrReportSignature = errors.New("httpquery: delivery report signature missing or wrong")
)

// maxQuoted bounds how much of a value from the callback an error quotes.
const maxQuoted = 40

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrReportMalformed}, args...)...)
}

// ParseDelivery reads one callback that the gateway made to reportURL (the
// message's ReportURL) as Config.Delivery describes it, and returns its
// report; MessageID is left to the caller (sms.DeliveryHandler knows it from
// the URL's token). It reads at most 64 KiB of the body. An error (see
// ErrReportMalformed, ErrReportStatus, ErrReportSignature) means the
// request is no report to act on.
func (p *Provider) ParseDelivery(r *http.Request, reportURL string) (sms.DeliveryReport, error) {
	d := p.s.delivery
	if d == nil {
		return sms.DeliveryReport{}, malformed("Config.Delivery is not set")
	}
	quote := func(v string) string { return d.quote(v, reportURL) }
	src, fields, err := d.fields(r, quote)
	if err != nil {
		return sms.DeliveryReport{}, err
	}
	if err := d.verify(r.Header, src, fields, reportURL); err != nil {
		return sms.DeliveryReport{}, err
	}
	return d.report(fields, quote)
}

// quote returns the start of a value from the callback for an error to
// quote, with the report URL's token masked: whoever sent the callback had
// it, and may have put it anywhere.
func (d *deliverySettings) quote(v, reportURL string) string {
	if reportURL != "" {
		v = redact.New(d.reportSecrets(reportURL)...).String(v)
	}
	return clip(v)
}

// fields returns where the callback's fields are and what they are.
func (d *deliverySettings) fields(r *http.Request, quote func(string) string) (string, url.Values, error) {
	src, err := callbackSource(r, quote)
	if err != nil {
		return "", nil, err
	}
	if !d.sources[src] {
		return "", nil, malformed("the callback's fields are in its %s; this gateway's come in %s", src, d.sourceList())
	}
	if src == SourceQuery {
		fields, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			// The parser's error quotes the query's bad part: keep it out.
			return "", nil, malformed("the query does not parse")
		}
		return src, fields, nil
	}
	body, err := readReportBody(r)
	if err != nil {
		return "", nil, err
	}
	if src == SourceJSON {
		fields, err := jsonFields(body)
		return src, fields, err
	}
	fields, err := url.ParseQuery(string(body))
	if err != nil {
		return "", nil, malformed("the form body does not parse")
	}
	return src, fields, nil
}

// sourceList names the accepted sources, for errors.
func (d *deliverySettings) sourceList() string {
	var names []string
	for _, src := range []string{SourceQuery, SourceForm, SourceJSON} {
		if d.sources[src] {
			names = append(names, src)
		}
	}
	return strings.Join(names, " or ")
}

// callbackSource decides where a callback's fields are: the query of a GET,
// or the body of a POST, by its Content-Type.
func callbackSource(r *http.Request, quote func(string) string) (string, error) {
	switch r.Method {
	case http.MethodGet:
		return SourceQuery, nil
	case http.MethodPost:
		ct := r.Header.Get("Content-Type")
		mt, _, err := mime.ParseMediaType(ct)
		switch {
		case err != nil && ct != "":
			return "", malformed("Content-Type does not parse")
		case mt == "application/x-www-form-urlencoded":
			return SourceForm, nil
		case mt == "application/json" || strings.HasSuffix(mt, "+json"):
			return SourceJSON, nil
		}
		return "", malformed("a POST of %q: want a form or JSON body", quote(mt))
	}
	return "", malformed("method %q: want GET or POST", quote(r.Method))
}

// readReportBody reads the body, at most maxBodyBytes.
func readReportBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		return nil, malformed("the body could not be read")
	}
	if len(b) > maxBodyBytes {
		return nil, malformed("the body is larger than %d bytes", maxBodyBytes)
	}
	return b, nil
}

// jsonFields returns the top-level strings, numbers (as written) and
// booleans of a JSON object.
func jsonFields(body []byte) (url.Values, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return nil, malformed("the body is not a JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, malformed("the body has more than one JSON value")
	}
	fields := url.Values{}
	for k, v := range obj {
		switch v := v.(type) {
		case string:
			fields.Set(k, v)
		case json.Number:
			fields.Set(k, v.String())
		case bool:
			fields.Set(k, strconv.FormatBool(v))
		}
	}
	return fields, nil
}

// verify checks the callback's signature, when Delivery.Signature asks for
// one. compile made sure that a signed callback comes as a form.
func (d *deliverySettings) verify(h http.Header, src string, fields url.Values, reportURL string) error {
	if d.signature != SignatureTwilio {
		return nil
	}
	sig := h.Get(twilioSignatureHeader)
	switch {
	case src != SourceForm:
		return fmt.Errorf("%w: Twilio signs form bodies only", ErrReportSignature)
	case sig == "":
		return fmt.Errorf("%w: no %s header", ErrReportSignature, twilioSignatureHeader)
	case !twilioSignatureValid(d.signatureKey, reportURL, fields, sig):
		return fmt.Errorf("%w: %s does not match", ErrReportSignature, twilioSignatureHeader)
	}
	return nil
}

// report makes the report of a callback's fields.
func (d *deliverySettings) report(fields url.Values, quote func(string) string) (sms.DeliveryReport, error) {
	raw := fields.Get(d.statusField)
	if raw == "" {
		return sms.DeliveryReport{}, malformed("no %s field", d.statusField)
	}
	st, ok := d.statuses[raw]
	if !ok {
		return sms.DeliveryReport{}, fmt.Errorf("%w: %s %q", ErrReportStatus, d.statusField, quote(raw))
	}
	rep := sms.DeliveryReport{Status: st, Code: raw, At: d.at(fields.Get(d.timeField))}
	if d.codeField != "" {
		if c := fields.Get(d.codeField); c != "" {
			rep.Code = c
		}
	}
	if d.idField != "" {
		rep.GatewayID = fields.Get(d.idField)
	}
	if d.textField != "" {
		rep.Text = fields.Get(d.textField)
	}
	return rep, nil
}

// at reads a callback's time in Delivery.TimeLayout; zero when it is
// missing or does not parse.
func (d *deliverySettings) at(v string) time.Time {
	if v == "" || d.timeField == "" {
		return time.Time{}
	}
	if d.timeLayout == "unix" {
		secs, err := strconv.ParseInt(v, 10, 64)
		if err != nil || secs <= 0 {
			return time.Time{}
		}
		return time.Unix(secs, 0).UTC()
	}
	t, err := time.Parse(d.timeLayout, v)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

// clip returns the start of s, at most maxQuoted bytes and "...".
func clip(s string) string {
	if len(s) <= maxQuoted {
		return s
	}
	// Not inside a UTF-8 sequence: %q would show a broken one as bytes.
	cut := maxQuoted
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

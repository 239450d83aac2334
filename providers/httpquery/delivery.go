package httpquery

import (
	"maps"
	"net/url"
	"slices"
	"strings"

	"github.com/smsgateway/sms"
	"github.com/smsgateway/sms/internal/redact"
)

// ReportURLVar stands for a message's report URL (sms.Message.ReportURL) in
// the values of Delivery.Params.
const ReportURLVar = "{report_url}"

// Where a callback's fields can be, for Delivery.Sources.
const (
	SourceQuery = "query" // the query string of the callback's URL (GET)
	SourceForm  = "form"  // an application/x-www-form-urlencoded body (POST)
	SourceJSON  = "json"  // a JSON object in the body (POST)
)

// SignatureTwilio is the Delivery.Signature of Twilio's callbacks: the
// header X-Twilio-Signature holds the base64 of the HMAC-SHA1, keyed with
// the account's auth token, of the report URL followed by every form field's
// name and value, sorted by name.
const SignatureTwilio = "twilio"

// Delivery says how to ask the gateway for delivery reports, and how to read
// the reports it then sends: with it set in Config, the Provider is an
// sms.DeliveryReporter. Like the rest of Config it is plain data with JSON
// tags; the presets of gateways that take a report URL with each message
// fill it (see the package doc).
type Delivery struct {
	// Params are added to the request of a message whose ReportURL is set,
	// after every other parameter. Each ReportURLVar ("{report_url}") in a
	// value is replaced by the report URL, such as Kannel's dlr-url
	// "{report_url}&type=%d&ts=%T". Since a report URL usually has a query
	// already, parameters appended to it start with '&'; when it has none,
	// the '&' right after ReportURLVar is sent as '?'. At least one value
	// must hold ReportURLVar. Values that do are masked in Receipt.URL, as
	// secret parameters are: the URL's token lets whoever holds it report
	// on the message.
	Params url.Values `json:"params"`
	// EscapePercent writes each '%' of the report URL as "%%", for
	// gateways that expand their own %-escapes in the URL they call back
	// (Kannel: %d, %A, %C...), which would otherwise eat the URL's
	// percent-encoded bytes.
	EscapePercent bool `json:"escape_percent,omitempty"`
	// Sources lists where a callback's fields may be: SourceQuery ("query":
	// the query string, as a GET carries them), SourceForm ("form": a form
	// POST body) or SourceJSON ("json": a JSON object in a POST body, whose
	// top-level strings, numbers and booleans are the fields). Empty means
	// all three. The fields are read from one place, chosen by the request:
	// the body of a POST (by its Content-Type), else the query. A callback
	// from anywhere else is an error.
	Sources []string `json:"sources,omitempty"`
	// StatusField names the field with the gateway's status, which
	// Statuses maps to an sms.DeliveryStatus. Required.
	StatusField string `json:"status_field"`
	// Statuses maps the gateway's status values to delivery statuses. A
	// value it does not list makes the callback an error (ErrReportStatus),
	// so that a status nobody expected is seen rather than guessed.
	// Required.
	Statuses map[string]sms.DeliveryStatus `json:"statuses"`
	// IDField names the field with the gateway's or the SMSC's ID for the
	// message (DeliveryReport.GatewayID); empty means none.
	IDField string `json:"id_field,omitempty"`
	// CodeField names the field with the gateway's error code. The
	// report's Code is its value when the callback has one, else the status
	// value as the gateway sent it. Empty means none.
	CodeField string `json:"code_field,omitempty"`
	// TextField names the field with the gateway's or the SMSC's words
	// about the status (DeliveryReport.Text); empty means none.
	TextField string `json:"text_field,omitempty"`
	// TimeField names the field with the time the status was reached
	// (DeliveryReport.At), in TimeLayout; empty means none. A time that
	// is missing or does not parse leaves At zero: the status counts more
	// than its time.
	TimeField string `json:"time_field,omitempty"`
	// TimeLayout is "unix" (seconds since 1970) or a layout for
	// time.Parse, such as "2006-01-02 15:04:05"; a layout without a zone
	// reads the time as UTC. Required with TimeField.
	TimeLayout string `json:"time_layout,omitempty"`
	// Signature is how a callback proves it comes from the gateway, beyond
	// the token in its URL: "" for nothing more, or SignatureTwilio
	// ("twilio"), which needs Sources to be form bodies only. A callback
	// whose signature is missing or wrong is an error (ErrReportSignature).
	Signature string `json:"signature,omitempty"`
	// SignatureKey is the key of Signature (Twilio's auth token); empty
	// means Config.Password. It is a secret.
	SignatureKey string `json:"signature_key,omitempty"`
	// Ack is the body to answer a genuine callback with, for gateways that
	// want one (Jasmin: "ACK/Jasmin"); see Provider.DeliveryAck. Empty
	// means none.
	Ack string `json:"ack,omitempty"`
}

// deliverySettings is a Delivery checked and ready, shared read-only.
type deliverySettings struct {
	params        url.Values      // a copy of Delivery.Params
	urlParams     map[string]bool // the names of Params whose values hold ReportURLVar
	escapePercent bool
	sources       map[string]bool
	statusField   string
	statuses      map[string]sms.DeliveryStatus
	idField       string
	codeField     string
	textField     string
	timeField     string
	timeLayout    string
	signature     string
	signatureKey  string
	ack           string
}

// compile checks d; password is Config.Password, the default SignatureKey.
func (d *Delivery) compile(password string) (*deliverySettings, error) {
	ds := &deliverySettings{
		params:        url.Values{},
		urlParams:     map[string]bool{},
		escapePercent: d.EscapePercent,
		sources:       map[string]bool{},
		statusField:   d.StatusField,
		statuses:      maps.Clone(d.Statuses),
		idField:       d.IDField,
		codeField:     d.CodeField,
		textField:     d.TextField,
		timeField:     d.TimeField,
		timeLayout:    d.TimeLayout,
		signature:     d.Signature,
		signatureKey:  or(d.SignatureKey, password),
		ack:           d.Ack,
	}
	// Copies, so that a Config changed after New changes nothing here.
	for name, vs := range d.Params {
		ds.params[name] = slices.Clone(vs)
		if slices.ContainsFunc(vs, func(v string) bool { return strings.Contains(v, ReportURLVar) }) {
			ds.urlParams[name] = true
		}
	}
	if len(ds.urlParams) == 0 {
		return nil, configError("Delivery.Params: no value holds %s, so the gateway would never learn where to report", ReportURLVar)
	}
	sources := d.Sources
	if len(sources) == 0 {
		sources = []string{SourceQuery, SourceForm, SourceJSON}
	}
	for _, src := range sources {
		switch src {
		case SourceQuery, SourceForm, SourceJSON:
			ds.sources[src] = true
		default:
			return nil, configError("Delivery.Sources: %q is none of query, form, json", src)
		}
	}
	if d.StatusField == "" {
		return nil, configError("Delivery.StatusField is empty")
	}
	if len(d.Statuses) == 0 {
		return nil, configError("Delivery.Statuses is empty")
	}
	for code, st := range d.Statuses {
		if !st.Known() {
			return nil, configError("Delivery.Statuses[%q]: unknown delivery status %q", code, st)
		}
	}
	if d.TimeField != "" && d.TimeLayout == "" {
		return nil, configError("Delivery.TimeField is set without a TimeLayout")
	}
	switch d.Signature {
	case "":
	case SignatureTwilio:
		if ds.signatureKey == "" {
			return nil, configError("Delivery.Signature %q needs a SignatureKey (or Config.Password)", d.Signature)
		}
		if len(ds.sources) != 1 || !ds.sources[SourceForm] {
			return nil, configError("Delivery.Signature %q signs form bodies: Sources must be [form]", d.Signature)
		}
	default:
		return nil, configError("Delivery.Signature must be empty or %q, got %q", SignatureTwilio, d.Signature)
	}
	return ds, nil
}

// DeliveryReports reports whether the Provider asks for delivery reports:
// whether Config.Delivery is set. It makes *Provider an
// sms.DeliveryReporter.
func (p *Provider) DeliveryReports() bool { return p.s.delivery != nil }

// DeliveryAck returns the body with which a receiver should answer a
// genuine callback (Delivery.Ack, such as Jasmin's "ACK/Jasmin"), or "" when
// the gateway wants none.
func (p *Provider) DeliveryAck() string {
	if p.s.delivery == nil {
		return ""
	}
	return p.s.delivery.ack
}

// validReportURL reports whether u can be a report URL: absolute http or
// https, with a host and no fragment (parameters appended after a fragment
// would never reach the receiver).
func validReportURL(u string) bool {
	pu, err := url.Parse(u)
	return err == nil && (pu.Scheme == "http" || pu.Scheme == "https") && pu.Host != "" && !strings.Contains(u, "#")
}

// query returns the encoded Params for a message reported to reportURL,
// and the same with the values holding the URL (and secret parameters)
// masked.
func (d *deliverySettings) query(reportURL string, secret func(name string) bool) (q, printable string) {
	v := make(url.Values, len(d.params))
	for name, vs := range d.params {
		for _, tmpl := range vs {
			v.Add(name, d.expand(tmpl, reportURL))
		}
	}
	q = v.Encode()
	return q, redact.Query(q, func(name string) bool { return d.urlParams[name] || secret(name) })
}

// expand replaces ReportURLVar in tmpl with reportURL (see Delivery.Params
// and Delivery.EscapePercent).
func (d *deliverySettings) expand(tmpl, reportURL string) string {
	if !strings.Contains(reportURL, "?") {
		tmpl = strings.ReplaceAll(tmpl, ReportURLVar+"&", ReportURLVar+"?")
	}
	if d.escapePercent {
		reportURL = strings.ReplaceAll(reportURL, "%", "%%")
	}
	return strings.ReplaceAll(tmpl, ReportURLVar, reportURL)
}

// reportSecrets returns what of a report URL must not appear in an error or
// a log line: the URL itself, each value Params make of it, and its token
// (the value of sms.ReportQueryParam, and of every parameter with a secret
// name), whole and the code after its last '.'.
func (d *deliverySettings) reportSecrets(reportURL string) []string {
	out := []string{reportURL}
	for _, vs := range d.params {
		for _, tmpl := range vs {
			if strings.Contains(tmpl, ReportURLVar) {
				out = append(out, d.expand(tmpl, reportURL))
			}
		}
	}
	if pu, err := url.Parse(reportURL); err == nil {
		for name, vs := range pu.Query() {
			if name != sms.ReportQueryParam && !redact.IsSecretName(name) {
				continue
			}
			for _, v := range vs {
				out = append(out, v)
				if i := strings.LastIndexByte(v, '.'); i >= 0 {
					out = append(out, v[i+1:])
				}
			}
		}
	}
	return out
}

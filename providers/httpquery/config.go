package httpquery

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/smsgateway/sms"
	"github.com/smsgateway/sms/internal/redact"
)

// Defaults for the zero values of Config.
const (
	DefaultMethod        = http.MethodGet
	DefaultToParam       = "to"
	DefaultTextParam     = "text"
	DefaultTimeout       = 30 * time.Second
	DefaultDialTimeout   = 10 * time.Second
	DefaultDialRetries   = 2
	DefaultDialRetryWait = 100 * time.Millisecond
	DefaultMaxConns      = 64
	// DefaultIdleConnTimeout is how long an idle connection is kept.
	DefaultIdleConnTimeout = 90 * time.Second
	// maxBodyBytes is how much of an answer is read and matched.
	maxBodyBytes = 64 << 10
)

// Config describes one HTTP gateway. It is plain data with JSON tags,
// loadable from a file; every zero value means the documented default. Presets such as Kannel return a filled Config that can be
// adjusted before New.
type Config struct {
	// URL is the gateway's endpoint, such as
	// "http://127.0.0.1:13013/cgi-bin/sendsms". Its own query parameters
	// are kept and sent with every request. Required.
	URL string `json:"url"`
	// Method is "GET" (the default: every parameter in the query string) or
	// "POST" (parameters in an application/x-www-form-urlencoded body; the
	// URL's own query stays in the URL).
	Method string `json:"method,omitempty"`
	// ToParam names the recipient's parameter; empty means "to".
	ToParam string `json:"to_param,omitempty"`
	// TextParam names the text's parameter; empty means "text".
	TextParam string `json:"text_param,omitempty"`
	// FromParam names the sender's parameter. Empty means the sender is not
	// sent; a message's empty From is never sent either.
	FromParam string `json:"from_param,omitempty"`
	// Params are static parameters sent with every message, such as
	// credentials. A name may have several values, and may equal ToParam
	// or TextParam: values are then sent in this order: Params, the text,
	// the number, the sender, UCS2Params. So with ToParam and TextParam
	// both "q" a request carries "q=TEXT&q=NUMBER".
	Params url.Values `json:"params,omitempty"`
	// UCS2Params are added when the text needs UCS-2 (sms.Analyze reports
	// sms.UCS2), such as Kannel's "coding=2&charset=UTF-8".
	UCS2Params url.Values `json:"ucs2_params,omitempty"`
	// UCS2Text says how a UCS-2 text is written into TextParam: "" or
	// "utf-8" as UTF-8 (the default), "utf-16be" as raw UTF-16BE bytes
	// (Jasmin with coding=8). GSM texts are always sent as UTF-8.
	UCS2Text string `json:"ucs2_text,omitempty"`
	// StripPlus sends numbers without their leading '+', for gateways that
	// want bare digits (SMS.ru).
	StripPlus bool `json:"strip_plus,omitempty"`
	// Headers are static request headers. Their values are treated as
	// secrets: they never appear in errors, Receipts or logs.
	Headers map[string]string `json:"headers,omitempty"`
	// Username and Password are sent with HTTP basic authentication when
	// Username is not empty. The password is a secret.
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	// SecretParams names the parameters whose values are secrets, in
	// addition to those whose names contain password, pass, pwd, token, key,
	// secret, api_id, apiid or auth (in any case), which are always secret.
	// Their values never appear in errors, logs, or Receipt.URL.
	SecretParams []string `json:"secret_params,omitempty"`
	// Outcomes says how answers are classified; see the package doc.
	Outcomes Outcomes `json:"outcomes,omitempty"`
	// Delivery, when set, makes the Provider ask the gateway for delivery
	// reports on every message with a ReportURL, and read the gateway's
	// callbacks (see Delivery and the package doc). Nil means no reports:
	// DeliveryReports is false and a message's ReportURL is not sent.
	Delivery *Delivery `json:"delivery,omitempty"`
	// Timeout bounds one HTTP request, from dialing to reading the answer;
	// zero means DefaultTimeout (30s). In JSON, like every duration here,
	// a string such as "30s" or a number of seconds such as 30.
	Timeout sms.Duration `json:"timeout,omitempty"`
	// DialTimeout bounds establishing one connection (TCP and TLS); zero
	// means DefaultDialTimeout (10s).
	DialTimeout sms.Duration `json:"dial_timeout,omitempty"`
	// DialRetries is how many more requests one Send may make when the
	// earlier ones provably never reached the gateway (refused connection,
	// DNS failure, failed TLS handshake). Zero means DefaultDialRetries (2),
	// so a Send makes at most 3 requests; a negative value disables them.
	DialRetries int `json:"dial_retries,omitempty"`
	// DialRetryWait is the backoff before the first dial retry; it doubles
	// for each further one, capped at 16 times its value, with jitter. Zero
	// means DefaultDialRetryWait (100ms).
	DialRetryWait sms.Duration `json:"dial_retry_wait,omitempty"`
	// MaxConns bounds the connections to the gateway and the idle ones kept
	// for reuse; set it at least to the sms.Client's concurrency. Zero
	// means DefaultMaxConns (64).
	MaxConns int `json:"max_conns,omitempty"`
	// HTTPClient replaces the tuned client built from the fields above.
	// Nil means the built one. With a client of your own, Timeout,
	// DialTimeout and MaxConns are not applied, redirects follow its
	// CheckRedirect, and a failure counts as provably unsent (temporary,
	// retried within DialRetries) only when it is a dial or DNS error.
	HTTPClient *http.Client `json:"-"`
	// Logger receives one debug line per request (method, host, path,
	// status, outcome, masked number, error), never a query string, a
	// secret, or the message's number or text. Nil means nothing is logged.
	Logger *slog.Logger `json:"-"`
}

// settings is a Config with defaults applied and everything parsed, shared
// read-only by every Send.
type settings struct {
	method   string
	to, text string
	from     string

	// The parts of every request that do not depend on the message,
	// encoded once, each also with secret values masked (Printable).
	staticQuery, staticPrintable string // Params (and the URL's own query, for GET)
	ucs2Query, ucs2Printable     string // UCS2Params
	requestURL, receiptURL       string // the URL, without query for GET
	errorURL                     string // the URL without any query, for errors and logs
	dynamicSecret                bool   // whether ToParam, TextParam or FromParam is secret

	ucs2UTF16   bool
	stripPlus   bool
	headers     http.Header
	username    string
	password    string
	secretNames map[string]bool
	outcomes    *outcomes
	delivery    *deliverySettings // nil without Config.Delivery
	timeout     time.Duration
	dialTimeout time.Duration
	dialRetries int
	retryWait   time.Duration
	maxConns    int
	secrets     []string         // every secret value, in the forms sent
	redactor    *redact.Redactor // of secrets
}

// errConfig is wrapped by every error of New.
var errConfig = errors.New("httpquery: invalid Config")

func configError(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errConfig}, args...)...)
}

func (c *Config) settings() (*settings, error) {
	if c.URL == "" {
		return nil, configError("URL is empty")
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		// url.Parse's error quotes the whole URL, credentials included.
		return nil, configError("URL does not parse")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, configError("URL scheme must be http or https, got %q", u.Scheme)
	}
	if u.Host == "" {
		return nil, configError("URL has no host")
	}
	base, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, configError("URL query does not parse")
	}
	ru := *u // the request URL; url.Userinfo is immutable, so sharing it is fine
	s := &settings{
		method:      strings.ToUpper(c.Method),
		to:          or(c.ToParam, DefaultToParam),
		text:        or(c.TextParam, DefaultTextParam),
		from:        c.FromParam,
		stripPlus:   c.StripPlus,
		username:    c.Username,
		password:    c.Password,
		timeout:     orDur(c.Timeout, DefaultTimeout),
		dialTimeout: orDur(c.DialTimeout, DefaultDialTimeout),
		retryWait:   orDur(c.DialRetryWait, DefaultDialRetryWait),
		dialRetries: c.DialRetries,
		maxConns:    c.MaxConns,
		ucs2Query:   c.UCS2Params.Encode(),
	}
	switch s.method {
	case "":
		s.method = DefaultMethod
	case http.MethodGet, http.MethodPost:
	default:
		return nil, configError("Method must be GET or POST, got %q", c.Method)
	}
	switch strings.ToLower(c.UCS2Text) {
	case "", "utf-8", "utf8":
	case "utf-16be", "utf16be":
		s.ucs2UTF16 = true
	default:
		return nil, configError("UCS2Text must be utf-8 or utf-16be, got %q", c.UCS2Text)
	}
	switch {
	case s.dialRetries == 0:
		s.dialRetries = DefaultDialRetries
	case s.dialRetries < 0:
		s.dialRetries = 0
	}
	if s.maxConns == 0 {
		s.maxConns = DefaultMaxConns
	}
	if s.maxConns < 0 || s.timeout < 0 || s.dialTimeout < 0 || s.retryWait < 0 {
		return nil, configError("negative MaxConns, Timeout, DialTimeout or DialRetryWait")
	}

	// The URL's own query goes with Params for GET (the query is rebuilt);
	// for POST it stays in the URL.
	params := url.Values{}
	if s.method == http.MethodGet {
		for k, vs := range base {
			params[k] = append(params[k], vs...)
		}
		ru.RawQuery, ru.ForceQuery = "", false
	}
	ru.Fragment, ru.RawFragment = "", ""
	for k, vs := range c.Params {
		params[k] = append(params[k], vs...)
	}
	s.staticQuery = params.Encode()

	s.secretNames = map[string]bool{}
	for _, n := range c.SecretParams {
		s.secretNames[n] = true
	}
	// Every form in which the provider puts a secret on the wire; the
	// Redactor adds their URL-encoded forms.
	secrets := []string{c.Password}
	if c.Username != "" {
		secrets = append(secrets, basicAuth(c.Username, c.Password)...)
	}
	if p, ok := u.User.Password(); ok {
		// net/http sends the URL's user info as basic authentication.
		secrets = append(secrets, p)
		secrets = append(secrets, basicAuth(u.User.Username(), p)...)
	}
	for _, vals := range []url.Values{base, c.Params, c.UCS2Params} {
		for k, vs := range vals {
			if s.secret(k) {
				secrets = append(secrets, vs...)
			}
		}
	}
	s.headers = http.Header{}
	for k, v := range c.Headers {
		s.headers.Set(k, v)
		secrets = append(secrets, v)
		if k := http.CanonicalHeaderKey(k); k == "Authorization" || k == "Proxy-Authorization" {
			// "Bearer TOKEN": the token alone too.
			if _, cred, ok := strings.Cut(v, " "); ok {
				secrets = append(secrets, strings.TrimSpace(cred))
			}
		}
	}
	if c.Delivery != nil {
		secrets = append(secrets, c.Delivery.SignatureKey)
	}
	s.secrets = secrets
	s.redactor = redact.New(secrets...)

	s.outcomes, err = c.Outcomes.compile()
	if err != nil {
		return nil, err
	}
	if c.Delivery != nil {
		if s.delivery, err = c.Delivery.compile(c.Password); err != nil {
			return nil, err
		}
	}
	s.staticPrintable = redact.Query(s.staticQuery, s.secret)
	s.ucs2Printable = redact.Query(s.ucs2Query, s.secret)
	s.dynamicSecret = s.secret(s.to) || s.secret(s.text) || s.from != "" && s.secret(s.from)
	s.requestURL = ru.String()
	s.receiptURL = redact.URL(&ru, s.secret)
	eu := ru
	eu.RawQuery, eu.ForceQuery = "", false
	s.errorURL = s.redactor.String(redact.URL(&eu, s.secret))
	return s, nil
}

// secret reports whether parameter name holds a secret.
func (s *settings) secret(name string) bool {
	return s.secretNames[name] || redact.IsSecretName(name)
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func orDur(v sms.Duration, def time.Duration) time.Duration {
	if v == 0 {
		return def
	}
	return time.Duration(v)
}

// ruleStatus matches a Rule's or Outcomes.Status's key: "404" or "4xx".
var ruleStatus = regexp.MustCompile(`^[1-5](\d\d|xx)$`)

// Package redact keeps credentials, and other values that must not be
// shown, out of URLs, error texts and log lines.
//
// A Redactor knows the secret values of one configuration (a password, an
// API key, a header value), or of one message (its number and text), and
// replaces every occurrence of them, raw or in any of the forms net/url
// writes them, with Mask. URL builds the printable form of a request URL
// with secret query parameters masked by name.
package redact

import (
	"net/url"
	"regexp"
	"sort"
	"strings"
)

// Mask replaces a secret.
const Mask = "REDACTED"

// secretName matches parameter names that are secret by default.
var secretName = regexp.MustCompile(`(?i)pass|pwd|token|key|secret|api_?id|auth`)

// IsSecretName reports whether a parameter called name holds a secret by
// default: its name contains, in any case, password, pass, pwd, token, key,
// secret, api_id, apiid or auth (so apikey, access_token and X-Auth-Token
// are secret too).
func IsSecretName(name string) bool { return secretName.MatchString(name) }

// Redactor replaces known secret values in text. The zero value and nil
// redact nothing. It is safe for concurrent use.
type Redactor struct {
	r *strings.Replacer
}

// New returns a Redactor for the given secret values. Empty values are
// ignored. Each value is also matched in the forms url.QueryEscape and
// url.PathEscape give it, so a secret is found inside an encoded URL.
func New(secrets ...string) *Redactor {
	seen := map[string]bool{}
	var forms []string
	for _, s := range secrets {
		if s == "" {
			continue
		}
		for _, f := range []string{s, url.QueryEscape(s), url.PathEscape(s), strings.ReplaceAll(url.QueryEscape(s), "+", "%20")} {
			if !seen[f] {
				seen[f] = true
				forms = append(forms, f)
			}
		}
	}
	if len(forms) == 0 {
		return &Redactor{}
	}
	// Longest first, so that a secret containing another is masked whole.
	sort.Slice(forms, func(i, j int) bool { return len(forms[i]) > len(forms[j]) })
	pairs := make([]string, 0, 2*len(forms))
	for _, f := range forms {
		pairs = append(pairs, f, Mask)
	}
	return &Redactor{r: strings.NewReplacer(pairs...)}
}

// String returns s with every secret replaced by Mask.
func (r *Redactor) String(s string) string {
	if r == nil || r.r == nil {
		return s
	}
	return r.r.Replace(s)
}

// Error returns err when no error in its chain (err, what it unwraps to,
// and so on) has a secret in its text, so that errors.Is and errors.As see
// the chain as it is. Otherwise it returns an error whose text is err's with
// every secret replaced by Mask, and which unwraps to nothing: every error
// of the chain may quote the secret. It returns nil for a nil err.
func (r *Redactor) Error(err error) error {
	if err == nil || r == nil || r.r == nil || r.clean(err) {
		return err
	}
	return &redactedError{msg: r.String(err.Error())}
}

// clean reports whether no error in err's chain has a secret in its text.
func (r *Redactor) clean(err error) bool {
	if err == nil {
		return true
	}
	if msg := err.Error(); r.String(msg) != msg {
		return false
	}
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		return r.clean(u.Unwrap())
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			if !r.clean(e) {
				return false
			}
		}
	}
	return true
}

type redactedError struct{ msg string }

func (e *redactedError) Error() string { return e.msg }

// URL returns u as a string with the password of its user info and the
// value of every query parameter for which secret reports true replaced by
// Mask. u is not modified.
func URL(u *url.URL, secret func(name string) bool) string {
	if u == nil {
		return ""
	}
	c := *u
	if c.User != nil {
		if _, ok := c.User.Password(); ok {
			c.User = url.UserPassword(c.User.Username(), Mask)
		}
	}
	if c.RawQuery != "" {
		c.RawQuery = Query(c.RawQuery, secret)
	}
	return c.String()
}

// Query returns the encoded query rawQuery with the values of secret
// parameters replaced by Mask. Parameters keep their order; a query that
// does not parse is replaced whole by Mask, since it cannot be checked.
func Query(rawQuery string, secret func(name string) bool) string {
	parts := strings.Split(rawQuery, "&")
	for i, p := range parts {
		if p == "" {
			continue
		}
		k, _, hasValue := strings.Cut(p, "=")
		name, err := url.QueryUnescape(k)
		if err != nil {
			return Mask
		}
		if hasValue && secret(name) {
			parts[i] = k + "=" + Mask
		}
	}
	return strings.Join(parts, "&")
}

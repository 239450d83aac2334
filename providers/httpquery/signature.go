package httpquery

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"maps"
	"net/url"
	"slices"
	"strings"
)

// twilioSignatureHeader carries Twilio's signature of a callback.
const twilioSignatureHeader = "X-Twilio-Signature"

// twilioSignatureValid reports whether sig is Twilio's signature, keyed
// with the auth token key, of a form callback to reportURL.
func twilioSignatureValid(key, reportURL string, form url.Values, sig string) bool {
	got, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		return false
	}
	for _, u := range twilioURLs(reportURL) {
		if hmac.Equal(got, twilioSignature(key, u, form)) {
			return true
		}
	}
	return false
}

// twilioSignature is the HMAC-SHA1, keyed with key, of u followed by each
// form field's name and value, without separators, sorted by name (and the
// values of one name sorted, each once, as Twilio's helper libraries do).
func twilioSignature(key, u string, form url.Values) []byte {
	m := hmac.New(sha1.New, []byte(key))
	m.Write([]byte(u))
	for _, name := range slices.Sorted(maps.Keys(form)) {
		values := slices.Compact(slices.Sorted(slices.Values(form[name])))
		for _, v := range values {
			m.Write([]byte(name))
			m.Write([]byte(v))
		}
	}
	return m.Sum(nil)
}

// twilioURLs returns the URLs whose signature Twilio's callback to u may
// carry: u, and u with its default port added or removed (Twilio's helper
// libraries check both, since Twilio may sign either).
func twilioURLs(u string) []string {
	pu, err := url.Parse(u)
	if err != nil {
		return []string{u}
	}
	def := map[string]string{"http": "80", "https": "443"}[pu.Scheme]
	alt := *pu
	switch pu.Port() {
	case "":
		if def == "" {
			return []string{u}
		}
		alt.Host = pu.Host + ":" + def
	case def:
		alt.Host = pu.Hostname()
		if strings.Contains(alt.Host, ":") {
			alt.Host = "[" + alt.Host + "]"
		}
	default:
		return []string{u}
	}
	return slices.Compact([]string{u, alt.String()})
}

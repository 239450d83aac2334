package httpquery

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smsgateway/sms"
	"github.com/smsgateway/sms/internal/prismtest"
)

// The specifications' example answers carry these message IDs.
const (
	twilioExampleSID = "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	vonageExampleID  = "0A0000000123ABCD1"
)

const (
	twilioSpec = "testdata/vendors/twilio/twilio_api_v2010.json"
	vonageSpec = "testdata/vendors/vonage/sms.yml"
)

// contractMessages are sent through each preset: every one must pass the
// vendor's specification.
var contractMessages = []struct {
	name string
	msg  sms.Message
}{
	{"gsm", sms.Message{To: "+447700900000", Text: "Hello world", From: "+14155552345"}},
	{"ucs2", sms.Message{To: "+447700900001", Text: "Привет 👍", From: "+14155552345"}},
	{"injection stays text", sms.Message{To: "+447700900002", Text: "hi&To=+1999&to=1999", From: "+14155552345"}},
	{"multipart", sms.Message{To: "+447700900003", Text: strings.Repeat("long text ", 40), From: "+14155552345"}},
	{"report URL", reportedMessage},
}

// reportedMessage asks for delivery reports, with a report URL as an
// sms.DeliveryHandler makes them: the specifications check the parameter
// that carries it (Twilio's StatusCallback must be a URI).
var reportedMessage = sms.Message{To: "+447700900004", Text: "Hello", From: "+14155552345",
	ReportURL: "https://hooks.example.com/sms/dlr?site=a&" + sms.ReportQueryParam + "=bXNnLTE.bWFjLW1hYy1tYWMtbWFjLW1h"}

// contractProblems sends msg through cfg to Prism with an sms.Client (one
// attempt) and returns what breaks the contract: a request Prism's
// validator finds fault with (in its log), or an answer that is not a sent
// Result with the example's message ID.
func contractProblems(t *testing.T, m *prismtest.Mock, cfg Config, msg sms.Message, wantID string) []string {
	t.Helper()
	p := newProvider(t, cfg, nil)
	c, err := sms.New(p, sms.WithRetry(sms.RetryPolicy{MaxAttempts: 1}))
	require.NoError(t, err)
	defer c.Close()
	res, err := c.Send(context.Background(), msg)
	var problems []string
	if err != nil {
		problems = append(problems, fmt.Sprintf("send: %v", err))
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		problems = append(problems, fmt.Sprintf("Prism answered %d", res.StatusCode))
	}
	if res.Status != sms.StatusSent {
		problems = append(problems, fmt.Sprintf("result %v, not sent", res.Status))
	}
	if res.MessageID != wantID {
		problems = append(problems, fmt.Sprintf("message ID %q, want %q", res.MessageID, wantID))
	}
	log := m.Take(t)
	if !strings.Contains(log, "Request received") {
		problems = append(problems, "Prism logged no request")
	}
	return append(problems, prismtest.Violations(log)...)
}

// runContract sends every contract message through the preset, and then
// the wrong configurations, each of which must be caught.
// wrongRequest is a configuration broken on purpose and the violation
// Prism's log must name for it; the message is contractMessages[0]'s
// unless msg has a number.
type wrongRequest struct {
	breakIt   func(*Config)
	violation string
	msg       sms.Message
}

func runContract(t *testing.T, m *prismtest.Mock, mk func(base string) Config, wantID string, wrong map[string]wrongRequest) {
	for _, tc := range contractMessages {
		t.Run(tc.name, func(t *testing.T) {
			assert.Empty(t, contractProblems(t, m, mk(m.URL), tc.msg, wantID))
		})
	}
	for name, w := range wrong {
		t.Run("caught/"+name, func(t *testing.T) {
			cfg := mk(m.URL)
			w.breakIt(&cfg)
			msg := w.msg
			if msg.To == "" {
				msg = contractMessages[0].msg
			}
			problems := contractProblems(t, m, cfg, msg, wantID)
			assert.NotEmpty(t, problems, "a request built wrong passes the contract test")
			assert.Contains(t, strings.Join(problems, "\n"), w.violation, "Prism's log names the violation")
		})
	}
}

// TestTwilioContract sends through the Twilio preset to Prism serving
// Twilio's own OpenAPI description: every request must pass its
// validation, and the example answer must read as sent with its SID.
func TestTwilioContract(t *testing.T) {
	m := prismtest.Start(t, twilioSpec)
	runContract(t, m, func(base string) Config {
		c := Twilio(testAccountSID, "auth-token")
		c.URL = TwilioURL(base, testAccountSID)
		return c
	}, twilioExampleSID, map[string]wrongRequest{
		"no basic authentication":      {func(c *Config) { c.Username = "" }, "Invalid security scheme used", sms.Message{}},
		"recipient under another name": {func(c *Config) { c.ToParam = "to" }, "required property 'To'", sms.Message{}},
		"account SID malformed":        {func(c *Config) { c.URL = TwilioURL(m.URL, "AC123") }, "must match pattern", sms.Message{}},
		"report URL not a URI": {func(c *Config) {
			c.Delivery.Params = url.Values{"StatusCallback": {"not a URI: " + ReportURLVar}}
		}, "must match format", reportedMessage},
	})
}

// TestVonageContract does the same with Vonage's SMS API description.
func TestVonageContract(t *testing.T) {
	m := prismtest.Start(t, vonageSpec)
	runContract(t, m, func(base string) Config {
		c := Vonage("abcd1234", "abcdef0123456789")
		c.URL = base + "/json"
		return c
	}, vonageExampleID, map[string]wrongRequest{
		"no from":                      {func(c *Config) { c.FromParam = "" }, "required property 'from'", sms.Message{}},
		"no api_key":                   {func(c *Config) { delete(c.Params, "api_key") }, "required property 'api_key'", sms.Message{}},
		"recipient under another name": {func(c *Config) { c.ToParam = "msisdn" }, "required property 'to'", sms.Message{}},
	})
}

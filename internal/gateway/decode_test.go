package gateway

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smsgateway/sms"
)

var testLimits = limits{known: []string{"Google", "log"}, maxMailing: 100, maxText: 1000, defaultWait: 3 * time.Second, maxWait: 30 * time.Second}

func TestDecodeRequest(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		query   string
		body    string
		mailing bool
		want    request
	}{
		{"original sending", "address=log&phone_number=88005553535&message=Hello", "", false,
			request{Address: "log", Text: "Hello", To: []string{"88005553535"}, Numbers: []string{"88005553535"}, Wait: 3 * time.Second}},
		{"original mailing", "address=log&message=Welcome!", "[88005553535, 85539317914264]", true,
			request{Address: "log", Text: "Welcome!", To: []string{"88005553535", "85539317914264"}, Numbers: []string{"88005553535", "85539317914264"}, Wait: 3 * time.Second}},
		{"JSON sending with send_at", "", `{"address":"Google","phone_number":"+7 916 123-45-67","message":"hi","send_at":"2030-01-02T03:05:05Z"}`, false,
			request{Address: "Google", Text: "hi", To: []string{"+7 916 123-45-67"}, Numbers: []string{"+79161234567"}, SendAt: now.Add(time.Minute), Wait: 3 * time.Second}},
		{"JSON mailing with delay in seconds and a wait", "", `{"address":"log","message":"m","phone_numbers":[88005553535],"delay":90,"wait":"0"}`, true,
			request{Address: "log", Text: "m", To: []string{"88005553535"}, Numbers: []string{"88005553535"}, SendAt: now.Add(90 * time.Second)}},
		{"body wins over query", "address=Google&message=q", `{"address":"log","phone_number":88005553535}`, false,
			request{Address: "log", Text: "q", To: []string{"88005553535"}, Numbers: []string{"88005553535"}, Wait: 3 * time.Second}},
		{"wait is capped", "address=log&phone_number=88005553535&message=x&wait=5m", "", false,
			request{Address: "log", Text: "x", To: []string{"88005553535"}, Numbers: []string{"88005553535"}, Wait: 30 * time.Second}},
		{"send_at in the past means now", "address=log&phone_number=88005553535&message=x&send_at=2000-01-01T00:00:00Z", "", false,
			request{Address: "log", Text: "x", To: []string{"88005553535"}, Numbers: []string{"88005553535"}, Wait: 3 * time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q, err := url.ParseQuery(tc.query)
			require.NoError(t, err)
			got, aerr := decodeRequest(q, []byte(tc.body), tc.mailing, testLimits, now)
			require.Nil(t, aerr)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestDecodeRequestDefaultAddress(t *testing.T) {
	lim := testLimits
	lim.known = []string{"only"}
	got, aerr := decodeRequest(url.Values{"phone_number": {"88005553535"}, "message": {"x"}}, nil, false, lim, time.Now())
	require.Nil(t, aerr)
	assert.Equal(t, "only", got.Address, "with one provider, address may be left out")
}

// FuzzDecodeRequest feeds arbitrary queries and bodies to the decoder: it
// never panics, answers 400 or 422 on failure, and on success returns a
// request that the rest of the service can trust.
func FuzzDecodeRequest(f *testing.F) {
	f.Add("address=log&phone_number=88005553535&message=Hello", []byte(nil), false)
	f.Add("address=log&message=Welcome!", []byte("[88005553535, 85539317914264]"), true)
	f.Add("", []byte(`{"address":"log","phone_number":"+7 916","message":"x","delay":"1s"}`), false)
	f.Add("", []byte(`{"address":"log","message":"m","phone_numbers":[1e3, "8800", null],"wait":-1}`), true)
	f.Add("send_at=2030-01-01T00:00:00Z&delay=NaN", []byte(`{"message":"\ud800"}`), false)
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, query string, body []byte, mailing bool) {
		q, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		req, aerr := decodeRequest(q, body, mailing, testLimits, now)
		if aerr != nil {
			if aerr.Status != http.StatusBadRequest && aerr.Status != http.StatusUnprocessableEntity {
				t.Fatalf("status %d", aerr.Status)
			}
			if aerr.Status == http.StatusUnprocessableEntity && len(aerr.Details) == 0 {
				t.Fatal("422 without details")
			}
			return
		}
		if req.Text == "" || len(req.Text) > testLimits.maxText {
			t.Fatalf("text %q accepted", req.Text)
		}
		if req.Address != "Google" && req.Address != "log" {
			t.Fatalf("address %q accepted", req.Address)
		}
		if len(req.Numbers) == 0 || len(req.Numbers) != len(req.To) || len(req.Numbers) > testLimits.maxMailing || (!mailing && len(req.Numbers) != 1) {
			t.Fatalf("numbers %q accepted", req.Numbers)
		}
		for _, n := range req.Numbers {
			if again, err := sms.NormalizeNumber(n); err != nil || again != n {
				t.Fatalf("number %q not normalized", n)
			}
			if strings.TrimPrefix(n, "+") == "" {
				t.Fatalf("number %q has no digits", n)
			}
		}
		if req.Wait < 0 || req.Wait > testLimits.maxWait {
			t.Fatalf("wait %v", req.Wait)
		}
		if !req.SendAt.IsZero() && (req.SendAt.Before(now) || req.SendAt.Sub(now) > maxDelay) {
			t.Fatalf("send_at %v", req.SendAt)
		}
	})
}

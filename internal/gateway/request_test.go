package gateway

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smsgateway/sms"
	"github.com/smsgateway/sms/internal/gateway/store"
	"github.com/smsgateway/sms/providers/mock"
)

// testLimits validates against two providers, "Google" and "log", whose
// Client is the library's with its defaults.
func testLimits(t testing.TB) limits {
	c, err := sms.New(mock.New())
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return limits{known: []string{"Google", "log"}, maxMailing: 100, maxText: 1000, defaultWait: 3 * time.Second, maxWait: 30 * time.Second,
		check: func(_ string, m sms.Mailing) *sms.Report { return c.Check(m) }}
}

// decoded is what a test compares of a valid request.
type decoded struct {
	Address, Message string
	To, Numbers      []string
	At               time.Time
	Wait             time.Duration
}

func decodedOf(r *request) decoded {
	d := decoded{Address: r.Address, Message: r.Message, At: r.at, Wait: time.Duration(r.Wait)}
	for _, res := range r.report.Results {
		d.To = append(d.To, res.To)
		d.Numbers = append(d.Numbers, res.Number)
	}
	return d
}

func TestDecodeRequest(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		query   string
		body    string
		mailing bool
		want    decoded
	}{
		{"original sending", "address=log&phone_number=88005553535&message=Hello", "", false,
			decoded{Address: "log", Message: "Hello", To: []string{"88005553535"}, Numbers: []string{"88005553535"}, Wait: 3 * time.Second}},
		{"original mailing", "address=log&message=Welcome!", "[88005553535, 85539317914264]", true,
			decoded{Address: "log", Message: "Welcome!", To: []string{"88005553535", "85539317914264"}, Numbers: []string{"88005553535", "85539317914264"}, Wait: 3 * time.Second}},
		{"mailing numbers in the query", "address=log&message=m&phone_numbers=88005553535,%2B7%20916%20123-45-67", "", true,
			decoded{Address: "log", Message: "m", To: []string{"88005553535", "+7 916 123-45-67"}, Numbers: []string{"88005553535", "+79161234567"}, Wait: 3 * time.Second}},
		{"JSON sending with send_at", "", `{"address":"Google","phone_number":"+7 916 123-45-67","message":"hi","send_at":"2030-01-02T03:05:05Z"}`, false,
			decoded{Address: "Google", Message: "hi", To: []string{"+7 916 123-45-67"}, Numbers: []string{"+79161234567"}, At: now.Add(time.Minute), Wait: 3 * time.Second}},
		{"JSON mailing with delay in seconds and a wait", "", `{"address":"log","message":"m","phone_numbers":[88005553535],"delay":90,"wait":"0"}`, true,
			decoded{Address: "log", Message: "m", To: []string{"88005553535"}, Numbers: []string{"88005553535"}, At: now.Add(90 * time.Second)}},
		{"body wins over query", "address=Google&message=q", `{"address":"log","phone_number":88005553535}`, false,
			decoded{Address: "log", Message: "q", To: []string{"88005553535"}, Numbers: []string{"88005553535"}, Wait: 3 * time.Second}},
		{"wait is capped", "address=log&phone_number=88005553535&message=x&wait=5m", "", false,
			decoded{Address: "log", Message: "x", To: []string{"88005553535"}, Numbers: []string{"88005553535"}, Wait: 30 * time.Second}},
		{"wait in seconds", "address=log&phone_number=88005553535&message=x&wait=1.5", "", false,
			decoded{Address: "log", Message: "x", To: []string{"88005553535"}, Numbers: []string{"88005553535"}, Wait: 1500 * time.Millisecond}},
		{"send_at in the past means now", "address=log&phone_number=88005553535&message=x&send_at=2000-01-01T00:00:00Z", "", false,
			decoded{Address: "log", Message: "x", To: []string{"88005553535"}, Numbers: []string{"88005553535"}, Wait: 3 * time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q, err := url.ParseQuery(tc.query)
			require.NoError(t, err)
			got, aerr := decodeRequest(q, []byte(tc.body), tc.mailing, testLimits(t), now)
			require.Nil(t, aerr)
			assert.Equal(t, tc.want, decodedOf(got))
		})
	}
}

func TestDecodeRequestDuplicates(t *testing.T) {
	got, aerr := decodeRequest(url.Values{"address": {"log"}, "message": {"x"}}, []byte(`[88005553535, "+7 800 555-35-35", "8 800 555 35 35"]`), true, testLimits(t), time.Now())
	require.Nil(t, aerr)
	_, msgs := got.task("t1", true)
	require.Len(t, msgs, 3)
	assert.Equal(t, store.StateQueued, msgs[0].Status)
	assert.Equal(t, store.StateQueued, msgs[1].Status, "+78005553535 is another number than 88005553535")
	assert.Equal(t, store.StateSkipped, msgs[2].Status)
	assert.Contains(t, msgs[2].Error, "first at #0", "the library's duplicate filter decided")
}

// TestDecodeRequestProblems: each problem of a request is listed once, on
// the field it is about, in the query and in JSON alike.
func TestDecodeRequestProblems(t *testing.T) {
	for _, tc := range []struct {
		name, query, body string
		mailing           bool
		fields            []string
	}{
		{"negative integer in JSON", "", `{"address":"log","message":"x","phone_number":-88005553535}`, false, []string{"phone_number"}},
		{"negative number in the query", "address=log&message=x&phone_number=-88005553535", "", false, []string{"phone_number"}},
		{"fraction in the query", "address=log&message=x&phone_number=88005553535.0", "", false, []string{"phone_number"}},
		{"fraction as a JSON string", "", `{"address":"log","message":"x","phone_number":"88005553535.0"}`, false, []string{"phone_number"}},
		{"exponent in the query", "address=log&message=x&phone_number=8.8005553535e10", "", false, []string{"phone_number"}},
		{"whitespace-only message", "address=log&message=%20%0A&phone_number=88005553535", "", false, []string{"message"}},
		{"fraction in JSON", "", `{"address":"log","message":"x","phone_number":88005553535.0}`, false, []string{"phone_number"}},
		{"exponent in JSON", "", `{"address":"log","message":"x","phone_number":8.8005553535e10}`, false, []string{"phone_number"}},
		{"lists of lists", "address=log&message=x", `[[1],[2]]`, true, []string{"phone_numbers[0]", "phone_numbers[1]"}},
		{"unknown query parameter", "address=log&message=x&phone_number=88005553535&tpyo=1", "", false, []string{"tpyo"}},
		{"repeated query parameter", "address=log&message=x&phone_number=88005553535&phone_number=88005553536", "", false, []string{"phone_number"}},
		{"NUL in the query", "address=log&message=a%00b&phone_number=88005553535", "", false, []string{"message"}},
		{"NUL in JSON", "", `{"address":"log","message":"x\u0000y","phone_number":88005553535}`, false, []string{"message"}},
		{"invalid UTF-8 in the query", "address=log&message=%ff&phone_number=88005553535", "", false, []string{"message"}},
		{"numbers for the other endpoint", "address=log&message=x&phone_number=88005553535", "", true, []string{"phone_number", "phone_numbers"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q, err := url.ParseQuery(tc.query)
			require.NoError(t, err)
			_, aerr := decodeRequest(q, []byte(tc.body), tc.mailing, testLimits(t), time.Now())
			require.NotNil(t, aerr)
			require.Equal(t, http.StatusUnprocessableEntity, aerr.Status)
			var fields []string
			for _, d := range aerr.Details {
				fields = append(fields, d.Field)
			}
			assert.ElementsMatch(t, tc.fields, fields, "%+v", aerr.Details)
		})
	}
	t.Run("invalid UTF-8 in JSON", func(t *testing.T) {
		_, aerr := decodeRequest(url.Values{}, []byte("{\"address\":\"log\",\"message\":\"\xff\",\"phone_number\":88005553535}"), false, testLimits(t), time.Now())
		require.NotNil(t, aerr)
		assert.Equal(t, http.StatusUnprocessableEntity, aerr.Status)
	})
}

func TestDecodeRequestDefaultAddress(t *testing.T) {
	lim := testLimits(t)
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
	lim := testLimits(f)
	f.Fuzz(func(t *testing.T, query string, body []byte, mailing bool) {
		q, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		req, aerr := decodeRequest(q, body, mailing, lim, now)
		if aerr != nil {
			if aerr.Status != http.StatusBadRequest && aerr.Status != http.StatusUnprocessableEntity {
				t.Fatalf("status %d", aerr.Status)
			}
			if aerr.Status == http.StatusUnprocessableEntity && len(aerr.Details) == 0 {
				t.Fatal("422 without details")
			}
			return
		}
		if req.Message == "" || len(req.Message) > lim.maxText || !utf8.ValidString(req.Message) || strings.ContainsRune(req.Message, 0) {
			t.Fatalf("text %q accepted", req.Message)
		}
		if req.Address != "Google" && req.Address != "log" {
			t.Fatalf("address %q accepted", req.Address)
		}
		res := req.report.Results
		if len(res) == 0 || len(res) > lim.maxMailing || (!mailing && len(res) != 1) {
			t.Fatalf("numbers %v accepted", res)
		}
		for _, r := range res {
			if r.Status == sms.StatusSkipped && !errors.Is(r.Err, sms.ErrDuplicate) {
				t.Fatalf("entry %+v accepted", r)
			}
			if again, err := sms.NormalizeNumber(r.Number); err != nil || again != r.Number {
				t.Fatalf("number %q not normalized", r.Number)
			}
		}
		if w := time.Duration(req.Wait); w < 0 || w > lim.maxWait {
			t.Fatalf("wait %v", w)
		}
		if !req.at.IsZero() && (req.at.Before(now) || req.at.Sub(now) > maxDelay) {
			t.Fatalf("send_at %v", req.at)
		}
	})
}

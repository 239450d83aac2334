package gateway

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smsgateway/sms/internal/gateway/store"
	"github.com/smsgateway/sms/internal/kanneltest"
)

// kannelOptions are the Options of a service on backend whose provider
// "kannel" is httpquery's Kannel preset against g.
func kannelOptions(t *testing.T, backend string, g *kanneltest.Gateway) Options {
	opts := fmt.Sprintf(`{"preset": "kannel", "url": %q, "username": %q, "password": %q}`, g.SendSMSURL, g.Username, g.Password)
	o := reportOptions(t, backend, nil, nil)
	o.Config.Providers = map[string]ProviderConfig{"kannel": {Type: "httpquery", Concurrency: 32, Options: []byte(opts)}}
	o.Types = nil
	return o
}

// awaitDeliveries waits until the task is final and its progress shows
// want delivered messages (reports can come before the outcomes are
// recorded), and returns it.
func (s *servedService) awaitDeliveries(t *testing.T, taskID string, want int, within time.Duration) answer {
	t.Helper()
	var a answer
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		a = answer{}
		assert.Equal(c, http.StatusOK, s.do(c, "GET", "/tasks/"+taskID, "", &a))
		assert.True(c, store.Final(a.TaskStatus))
		if assert.NotNil(c, a.Progress) {
			assert.Equal(c, want, a.Progress.Delivery["delivered"], "delivery counts %v", a.Progress.Delivery)
		}
	}, within, 100*time.Millisecond)
	return a
}

// TestKannelDeliveryReports sends through a real Kannel with public_url
// set: a send ends delivered, with its time, and a 1,000-number mailing
// ends with 1,000 delivered and none pending, although the fake SMSC's two
// reports per message (type 8 and type 1) come in either order.
func TestKannelDeliveryReports(t *testing.T) {
	g := kanneltest.Start(t)
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			ss := serveAt(t, kannelOptions(t, backend, g), "127.0.0.1:0")

			var a answer
			require.Equal(t, http.StatusOK, ss.do(t, "POST", "/sending?address=kannel&message=Hello&phone_number=4912345", "", &a))
			require.EventuallyWithT(t, func(c *assert.CollectT) {
				var page messagesPage
				assert.Equal(c, http.StatusOK, ss.do(c, "GET", "/messages?task_id="+a.TaskID, "", &page))
				if assert.Len(c, page.Messages, 1) {
					m := page.Messages[0]
					assert.Equal(c, store.StateSent, m.Status)
					assert.Equal(c, "delivered", m.Delivery)
					assert.Equal(c, "1", m.DeliveryCode, "Kannel's type 1 decides")
					assert.NotNil(c, m.DeliveredAt)
				}
			}, 20*time.Second, 50*time.Millisecond)

			numbers := make([]string, 1000)
			for i := range numbers {
				numbers[i] = fmt.Sprintf("49170%07d", i)
			}
			require.Equal(t, http.StatusOK, ss.do(t, "POST", "/mailing?address=kannel&message=Hi&wait=0", "["+strings.Join(numbers, ",")+"]", &a))
			got := ss.awaitDeliveries(t, a.TaskID, 1000, 60*time.Second)
			assert.Equal(t, map[string]int{"delivered": 1000}, got.Progress.Delivery, "none pending")
			assert.Equal(t, 1000, got.Progress.Counts[store.StateSent])
			m := ss.svc.api.metrics
			assert.Zero(t, testutil.ToFloat64(m.reportsRefused.WithLabelValues("kannel")), "no genuine report refused")
			assert.Zero(t, testutil.ToFloat64(m.reportsUnmatched.WithLabelValues("kannel")))
			assert.Eventually(t, func() bool { return testutil.ToFloat64(m.reports.WithLabelValues("kannel", "accepted")) == 1001 },
				20*time.Second, 50*time.Millisecond, "the type-8 reports are taken too")
		})
	}
}

package routing_test

import (
	"context"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smsgateway/sms"
	"github.com/smsgateway/sms/providers/failover"
	"github.com/smsgateway/sms/providers/mock"
	"github.com/smsgateway/sms/providers/routing"
)

// TestDeliveryReportsThroughRouting: each message's reports come from the
// vendor its number was routed to, through the router's one report URL.
func TestDeliveryReportsThroughRouting(t *testing.T) {
	de := mock.New(mock.ReportAll(0, sms.DeliveryDelivered))
	rest := mock.New(mock.ReportAll(0, sms.DeliveryExpired))
	p, err := routing.New(routing.Config{
		Routes:  []routing.Route{{Prefix: "+49", Vendor: failover.Vendor{Name: "de", Provider: de}}},
		Default: &failover.Vendor{Name: "rest", Provider: rest},
	})
	require.NoError(t, err)
	require.True(t, p.DeliveryReports())

	var mu sync.Mutex
	got := map[string]sms.DeliveryReport{}
	srv := httptest.NewUnstartedServer(nil)
	h, err := sms.NewDeliveryHandler(p, []byte("a secret of sixteen bytes or more"), "http://"+srv.Listener.Addr().String()+"/dlr",
		func(_ context.Context, r sms.DeliveryReport) error {
			mu.Lock()
			got[r.MessageID] = r
			mu.Unlock()
			return nil
		})
	require.NoError(t, err)
	srv.Config.Handler = h
	srv.Start()
	defer srv.Close()
	c, err := sms.New(p, sms.WithDeliveryReports(h))
	require.NoError(t, err)
	defer c.Close()

	_, err = c.Mailing(context.Background(), sms.Mailing{To: []string{"+4915112345678", "+33612345678"}, Text: "hi", ID: "m"})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, de.WaitReports(ctx))
	require.NoError(t, rest.WaitReports(ctx))
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, sms.DeliveryDelivered, got["m/0"].Status)
	assert.Equal(t, "de/mock", got["m/0"].Provider)
	assert.Equal(t, sms.DeliveryExpired, got["m/1"].Status)
	assert.Equal(t, "rest/mock", got["m/1"].Provider)
}

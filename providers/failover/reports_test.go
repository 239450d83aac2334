package failover_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smsgateway/sms"
	"github.com/smsgateway/sms/providers/failover"
	"github.com/smsgateway/sms/providers/mock"
)

// reports serves a DeliveryHandler for p and collects what it delivers.
type reports struct {
	h   *sms.DeliveryHandler
	mu  sync.Mutex
	got []sms.DeliveryReport
}

func serveReports(t *testing.T, p sms.DeliveryReporter) *reports {
	t.Helper()
	rs := &reports{}
	srv := httptest.NewUnstartedServer(nil)
	h, err := sms.NewDeliveryHandler(p, []byte("a secret of sixteen bytes or more"), "http://"+srv.Listener.Addr().String()+"/dlr",
		func(_ context.Context, r sms.DeliveryReport) error {
			rs.mu.Lock()
			rs.got = append(rs.got, r)
			rs.mu.Unlock()
			return nil
		})
	require.NoError(t, err)
	rs.h = h
	srv.Config.Handler = h
	srv.Start()
	t.Cleanup(srv.Close)
	return rs
}

func (rs *reports) all() []sms.DeliveryReport {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return append([]sms.DeliveryReport(nil), rs.got...)
}

// TestDeliveryReportsThroughFailover: a message gets its reports from the
// vendor that accepted it, through the failover's one report URL; a vendor
// that does not ask for reports gets no ReportURL.
func TestDeliveryReportsThroughFailover(t *testing.T) {
	down := mock.New(mock.FailNumber("+4915112345678", mock.Err(sms.KindTemporary)), mock.ReportAll(0, sms.DeliveryDelivered))
	backup := mock.New(mock.ReportAll(0, sms.DeliveryAccepted, sms.DeliveryDelivered))
	silent := mock.New()
	p, err := failover.New(failover.Vendor{Name: "down", Provider: down}, failover.Vendor{Name: "backup", Provider: backup})
	require.NoError(t, err)
	assert.True(t, p.DeliveryReports())
	rs := serveReports(t, p)
	c, err := sms.New(p, sms.WithDeliveryReports(rs.h))
	require.NoError(t, err)
	defer c.Close()

	_, err = c.Send(context.Background(), sms.Message{To: "+4915112345678", Text: "hi", ID: "m1"})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, backup.WaitReports(ctx))
	got := rs.all()
	require.Len(t, got, 2)
	for i, st := range []sms.DeliveryStatus{sms.DeliveryAccepted, sms.DeliveryDelivered} {
		assert.Equal(t, "m1", got[i].MessageID)
		assert.Equal(t, st, got[i].Status)
		assert.Equal(t, "backup/mock", got[i].Provider, "the vendor that sent it")
	}
	assert.Empty(t, down.Reports(), "the vendor that failed reports nothing")

	// A vendor without reports is given no ReportURL.
	q, err := failover.New(failover.Vendor{Name: "silent", Provider: silent}, failover.Vendor{Name: "backup", Provider: backup})
	require.NoError(t, err)
	_, err = q.Send(context.Background(), sms.Message{To: "+4915112345679", Text: "hi", ID: "m2", ReportURL: rs.h.URL("m2")})
	require.NoError(t, err)
	require.Len(t, silent.Sent(), 1)
	assert.Empty(t, silent.Sent()[0].ReportURL)

	// A callback that names no vendor, or one without reports, is refused.
	for _, u := range []string{rs.h.URL("m1"), rs.h.URL("m1") + "&" + failover.ViaParam + "=nobody"} {
		resp, err := http.PostForm(u, map[string][]string{"status": {"delivered"}})
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, u)
	}
	r, err := failover.New(failover.Vendor{Name: "silent", Provider: silent})
	require.NoError(t, err)
	assert.False(t, r.DeliveryReports())
}

// TestNestedFailoverReports: each failover level adds its vendor to the
// report URL, and each reads its own.
func TestNestedFailoverReports(t *testing.T) {
	inner := mock.New(mock.ReportAll(0, sms.DeliveryExpired))
	in, err := failover.New(failover.Vendor{Name: "a", Provider: inner})
	require.NoError(t, err)
	out, err := failover.New(failover.Vendor{Name: "group", Provider: in})
	require.NoError(t, err)
	rs := serveReports(t, out)
	c, err := sms.New(out, sms.WithDeliveryReports(rs.h))
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Send(context.Background(), sms.Message{To: "+4915112345678", Text: "hi", ID: "n1"})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, inner.WaitReports(ctx))
	got := rs.all()
	require.Len(t, got, 1)
	assert.Equal(t, sms.DeliveryExpired, got[0].Status)
	assert.Equal(t, "group/a/mock", got[0].Provider)
	assert.Equal(t, rs.h.URL("n1")+"&"+failover.ViaParam+"=group&"+failover.ViaParam+"=a", inner.Sent()[0].ReportURL)
}

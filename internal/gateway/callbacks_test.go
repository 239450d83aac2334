package gateway

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smsgateway/sms/internal/gateway/store"
)

// TestCallbackNeedsSecret: an event queued while the service had a
// callback_secret is not posted unsigned once the secret is gone; it
// waits, as for a receiver that is down.
func TestCallbackNeedsSecret(t *testing.T) {
	posts := 0
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { posts++ }))
	defer srv.Close()
	var results []string
	w := &callbackWorker{client: callbackClient(true), retryFor: time.Hour, now: time.Now, log: testLogger(),
		result: func(r string) { results = append(results, r) }}
	job := &river.Job[store.CallbackArgs]{JobRow: &rivertype.JobRow{CreatedAt: time.Now()}, Args: store.CallbackArgs{URL: srv.URL, Event: store.Event{EventID: "t/0/outcome"}}}
	require.ErrorIs(t, w.Work(context.Background(), job), errNoSecret)
	w.secret = []byte("s")
	require.NoError(t, w.Work(context.Background(), job))
	assert.Equal(t, 1, posts)
	assert.Equal(t, []string{"failed", "delivered"}, results)
}

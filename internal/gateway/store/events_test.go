package store

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEventTimes: an event carries the time of what it tells, not of the
// row's last change (a report recorded after the send, before the events
// are queued, moves updated_at).
func TestEventTimes(t *testing.T) {
	sentAt, reportAt, updated := int64(1_000_000), int64(2_000_000), int64(3_000_000)
	r := eventRow{taskID: "t", state: StateSent, delivery: "delivered", updated: updated, sentAt: &sentAt, delivered: &reportAt}
	events, sent := r.due()
	require.Len(t, events, 2)
	assert.Equal(t, EventOutcome, events[0].Type)
	assert.Equal(t, time.UnixMicro(sentAt).UTC(), events[0].At, "the outcome at the send")
	assert.Equal(t, EventDelivery, events[1].Type)
	assert.Equal(t, time.UnixMicro(reportAt).UTC(), events[1].At, "the delivery at the report")
	assert.Equal(t, sentOutcome|sentDelivery, sent)

	r = eventRow{taskID: "t", state: StateFailed, updated: updated}
	events, _ = r.due()
	require.Len(t, events, 1)
	assert.Equal(t, time.UnixMicro(updated).UTC(), events[0].At, "a failure at its row's change")

	r.sent = sentOutcome
	events, _ = r.due()
	assert.Empty(t, events, "each event once")
}

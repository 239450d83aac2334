package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/smsgateway/sms"
)

// The values of sms_message.delivery besides the final sms.DeliveryStatus
// names: empty when no report was asked for, DeliveryPending while one is
// expected.
const DeliveryPending = "pending"

// Deliveries lists the values of sms_message.delivery, for validating a
// filter.
var Deliveries = []string{DeliveryPending, string(sms.DeliveryDelivered), string(sms.DeliveryUndelivered),
	string(sms.DeliveryExpired), string(sms.DeliveryRejected), string(sms.DeliveryUnknown)}

// ReportOutcome is what a delivery report did to the message log.
type ReportOutcome int

const (
	// ReportApplied: the report set the message's final delivery status.
	ReportApplied ReportOutcome = iota
	// ReportKept: the message is known and the report changed nothing (it
	// is intermediate, a repeat, or came after the final one).
	ReportKept
	// ReportUnmatched: no message has the report's ID.
	ReportUnmatched
)

// applySQL sets a final delivery status; only a pending one is replaced
// (sms.DeliveryStatus.Replaces: a final status is final).
const applySQL = `UPDATE sms_message SET delivery = ?, delivery_code = ?, delivered_at = ?, updated_at = ?, notify = wants_events WHERE task_id = ? AND idx = ? AND delivery = 'pending'`

// ApplyReport records a delivery report for the message whose key
// (MessageKey) is rep.MessageID. It returns once the change is committed,
// so that the gateway is told the report is taken only when it is.
// Intermediate statuses are not stored: the delivery stays pending.
func (s *Store) ApplyReport(ctx context.Context, rep sms.DeliveryReport) (ReportOutcome, error) {
	taskID, idx, ok := ParseMessageKey(rep.MessageID)
	if !ok {
		return ReportUnmatched, nil
	}
	if rep.Status.Final() {
		now := s.now()
		at := rep.At
		if at.IsZero() {
			at = now
		}
		n, err := s.w.wait(ctx, applySQL, string(rep.Status), rep.Code, at.UnixMicro(), now.UnixMicro(), taskID, idx)
		if err != nil {
			return 0, err
		}
		if n > 0 {
			return ReportApplied, nil
		}
	}
	var delivery string
	err := s.reads.queryRow(ctx, `SELECT delivery FROM sms_message WHERE task_id = ? AND idx = ?`, taskID, idx).Scan(&delivery)
	if errors.Is(err, errNoRows) {
		return ReportUnmatched, nil
	}
	return ReportKept, err
}

// ExpireDeliveries gives up on the reports not come for the messages handed
// to the gateway before cutoff: their delivery becomes unknown. It returns
// how many it changed.
func (s *Store) ExpireDeliveries(ctx context.Context, cutoff time.Time) (int64, error) {
	now := s.now().UnixMicro()
	return s.db.exec(ctx, `UPDATE sms_message SET delivery = ?, delivered_at = ?, updated_at = ?, notify = wants_events
		WHERE delivery = 'pending' AND COALESCE(sent_at, updated_at) < ?`,
		string(sms.DeliveryUnknown), now, now, cutoff.UnixMicro())
}

// DeliveryCounts returns how many messages of a task have each delivery
// status; messages for which no report was asked are not counted.
func (s *Store) DeliveryCounts(ctx context.Context, taskID string) (map[string]int, error) {
	return s.countBy(ctx, "delivery", `task_id = ? AND delivery <> ''`, taskID)
}

// Secret returns the random key stored under name, creating it (32 bytes)
// on first use. Every process on the database gets the same key, and it
// survives restarts.
func (s *Store) Secret(ctx context.Context, name string) ([]byte, error) {
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, err
	}
	if _, err := s.db.exec(ctx, `INSERT INTO sms_setting (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`, name, hex.EncodeToString(fresh)); err != nil {
		return nil, fmt.Errorf("store secret %s: %w", name, err)
	}
	var v string
	if err := s.db.queryRow(ctx, `SELECT value FROM sms_setting WHERE name = ?`, name).Scan(&v); err != nil {
		return nil, fmt.Errorf("read secret %s: %w", name, err)
	}
	return hex.DecodeString(v)
}

package store

import (
	"context"
	"time"
)

// Leases: on PostgreSQL several processes share the queue, and one of them
// may die with jobs running (kill -9, a lost machine). Each process keeps a
// lease, a row of sms_process whose heartbeat it renews (Heartbeat), named
// by its River client ID, which River records in each job it fetches
// (river_job.attempted_by). A live process that finds a lease not renewed
// for the TTL takes it over (TakeOver): the dead process's running jobs
// become available at once, instead of after River's RescueStuckJobsAfter.
// Their next run deals with the messages the dead process had in flight as
// after any crash, and a process wrongly taken for dead cannot send a
// message twice: each row is claimed by one run (MarkSending). Times are the
// database's, so the processes' clocks do not matter.
//
// On SQLite one process owns the database (the data-directory lock), and
// Open already makes the jobs of its dead predecessor available.

// nowMicros is the database's clock in Unix microseconds, on PostgreSQL.
const nowMicros = `(extract(epoch from clock_timestamp()) * 1000000)::bigint`

// Leases reports whether the store keeps leases: on PostgreSQL.
func (s *Store) Leases() bool { return s.postgres }

// Heartbeat creates or renews the lease of process id (PostgreSQL only).
func (s *Store) Heartbeat(ctx context.Context, id string) error {
	if !s.postgres {
		return nil
	}
	_, err := s.db.exec(ctx, `INSERT INTO sms_process (id, heartbeat_at) VALUES (?, `+nowMicros+`)
		ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at`, id)
	return err
}

// Leave drops the lease of process id, at a graceful stop.
func (s *Store) Leave(ctx context.Context, id string) error {
	if !s.postgres {
		return nil
	}
	_, err := s.db.exec(ctx, `DELETE FROM sms_process WHERE id = ?`, id)
	return err
}

// TakeOver drops the leases not renewed for ttl and makes the jobs running
// in their processes available, in one statement, and returns how many
// jobs it freed (PostgreSQL only).
func (s *Store) TakeOver(ctx context.Context, ttl time.Duration) (int64, error) {
	if !s.postgres {
		return 0, nil
	}
	return s.db.exec(ctx, `WITH dead AS (DELETE FROM sms_process WHERE heartbeat_at < `+nowMicros+` - ? RETURNING id)
		UPDATE river_job SET state = 'available', scheduled_at = now()
		WHERE state = 'running' AND attempted_by[array_length(attempted_by, 1)] IN (SELECT id FROM dead)`, ttl.Microseconds())
}

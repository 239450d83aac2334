// Package kanneltest starts a real Kannel SMS gateway on loopback for
// integration tests, and reads back what its fake SMSC received.
//
// # What runs
//
// Start runs, from the Debian packages kannel and kannel-extras:
//
//   - bearerbox, with a fake SMSC ("smsc = fake", id SMSCID) and the
//     admin/status HTTP interface;
//   - fakesmsc (/usr/lib/kannel/test/fakesmsc), which connects to the fake
//     SMSC and logs every message bearerbox hands it;
//   - smsbox, serving the sendsms HTTP interface at Gateway.SendSMSURL.
//
// Every listener is bound to 127.0.0.1 on ports picked free at start.
// Every process runs in its own process group in a t.TempDir, is stopped in
// t.Cleanup (SIGTERM, then SIGKILL after 5 s) and, on Linux, is killed by
// the kernel if the test binary dies first. Nothing is ever killed by name
// and nothing is written outside the TempDir.
//
// # Test hooks in the configuration
//
//   - Username/Password: concatenation on, up to MaxParts parts; receivers
//     starting with BlackListedPrefix answer 400.
//   - SingleUsername/SinglePassword: Kannel defaults (one part, long texts
//     silently truncated).
//   - A wrong password answers 403 "Authorization failed for sendsms".
//   - Receivers starting with DeniedPrefix ("999") answer 403 "Not routable.
//     Do not try again." (the fake SMSC's denied-prefix).
//   - Gateway.StopSMSC simulates an SMSC outage: sendsms answers 202
//     "3: Queued for later delivery" for QueueLimit messages (500 by
//     default, option WithQueueLimit), then 503 "Temporal failure, try
//     again later."; Gateway.StartSMSC brings the SMSC back and the queue
//     is delivered. See DefaultQueueLimit for why the default is not small.
//   - No throughput limit unless WithThroughput is given.
//   - Delivery reports: a send with dlr-mask and dlr-url gets its reports
//     from the fake SMSC (type 8, "delivered to the SMSC", and type 1,
//     "delivered", in either order). smsbox fetches a dlr-url that fails
//     (refused, or answered other than 200 or 202) again every
//     DLRRetryDelay, up to DLRRetries times, so a receiver that is down
//     for a moment still gets its reports.
//
// # Reading what arrived
//
// Gateway.Received and Gateway.WaitReceived parse fakesmsc's log with
// ParseLine; each part of a concatenated text is one Message, and Assemble
// joins them. See Message.Coding for how codings are told apart.
//
// # Skipping
//
// When the binaries are missing Start skips the test, or fails it if the
// environment variable SMS_REQUIRE_KANNEL is "1" (as CI should set). To
// install: .ci/install-kannel.sh.
package kanneltest

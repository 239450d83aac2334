package kanneltest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ports are the loopback ports of one gateway.
type ports struct {
	admin, box, smsc, sendsms int
}

// configData fills the kannel.conf template.
type configData struct {
	dir            string
	ports          ports
	statusPassword string
	adminPassword  string
	password       string
	queueLimit     int
	throughput     float64
}

// writeConfig renders kannel.conf into dir and returns its path.
func writeConfig(d configData) (string, error) {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }

	w("# kannel.conf written by internal/kanneltest; every listener is on 127.0.0.1.")
	w("group = core")
	w("admin-port = %d", d.ports.admin)
	w(`admin-interface = "127.0.0.1"`)
	w("admin-password = %s", d.adminPassword)
	w("status-password = %s", d.statusPassword)
	w(`admin-allow-ip = "127.0.0.1"`)
	w("smsbox-port = %d", d.ports.box)
	w(`smsbox-interface = "127.0.0.1"`)
	w(`box-deny-ip = "*.*.*.*"`)
	w(`box-allow-ip = "127.0.0.1"`)
	w("access-log = %q", filepath.Join(d.dir, "access.log"))
	w("dlr-storage = internal")
	// While the fake SMSC is away, sendsms answers 202 "3: Queued for later
	// delivery" for this many messages, then 503.
	w("sms-outgoing-queue-limit = %d", d.queueLimit)
	w("")
	w("group = smsc")
	w("smsc = fake")
	w("smsc-id = %s", SMSCID)
	w("port = %d", d.ports.smsc)
	w("our-host = 127.0.0.1")
	w("connect-allow-ip = 127.0.0.1")
	// to=999... answers 403 "Not routable. Do not try again."
	w(`denied-prefix = "%s"`, DeniedPrefix)
	if d.throughput > 0 {
		w("throughput = %g", d.throughput)
	}
	w("")
	w("group = smsbox")
	w("bearerbox-host = 127.0.0.1")
	w("bearerbox-port = %d", d.ports.box)
	w("sendsms-port = %d", d.ports.sendsms)
	w(`sendsms-interface = "127.0.0.1"`)
	w("global-sender = %s", DefaultSender)
	w("access-log = %q", filepath.Join(d.dir, "smsbox-access.log"))
	// A delivery report's callback (dlr-url) that fails (refused, or any
	// answer but 200 and 202) is fetched again every DLRRetryDelay, up to
	// DLRRetries times; without these smsbox fetches it once, and a report
	// sent while the receiver is down is lost.
	w("http-request-retry = %d", DLRRetries)
	w("http-queue-delay = %d", int(DLRRetryDelay/time.Second))
	w("")
	w("group = sendsms-user")
	w("username = %s", Username)
	w("password = %s", d.password)
	w("max-messages = %d", MaxParts)
	w("concatenation = true")
	// to=000... answers 400 (denied by white- and/or black-lists).
	w(`black-list-regex = "^%s"`, BlackListedPrefix)
	w("")
	w("group = sendsms-user")
	w("username = %s", SingleUsername)
	w("password = %s", d.password)
	w("")
	w("group = sms-service")
	w("keyword = default")
	w(`text = "No service specified"`)
	w("max-messages = 0")

	path := filepath.Join(d.dir, "kannel.conf")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return "", err
	}
	return path, nil
}

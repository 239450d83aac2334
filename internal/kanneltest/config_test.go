package kanneltest

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWriteConfig(t *testing.T) {
	base := configData{
		ports:    ports{admin: 1001, box: 1002, smsc: 1003, sendsms: 1004},
		password: "pw", statusPassword: "st", adminPassword: "ad", queueLimit: 7,
	}
	tests := []struct {
		name       string
		throughput float64
		want       []string
		not        []string
	}{
		{
			name: "unlimited",
			want: []string{"admin-port = 1001", "smsbox-port = 1002", "port = 1003", "sendsms-port = 1004",
				"sms-outgoing-queue-limit = 7", `denied-prefix = "999"`, `black-list-regex = "^000"`,
				"status-password = st", "max-messages = 10", "concatenation = true",
				`admin-interface = "127.0.0.1"`, `smsbox-interface = "127.0.0.1"`, `sendsms-interface = "127.0.0.1"`, "our-host = 127.0.0.1",
				"http-request-retry = 60", "http-queue-delay = 1"},
			not: []string{"throughput"},
		},
		{name: "throttled", throughput: 12.5, want: []string{"throughput = 12.5"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := base
			d.dir = t.TempDir()
			d.throughput = tt.throughput
			path, err := writeConfig(d)
			require.NoError(t, err)
			b, err := os.ReadFile(path)
			require.NoError(t, err)
			lines := strings.Split(string(b), "\n")
			for _, w := range tt.want {
				assert.Contains(t, lines, w)
			}
			for _, n := range tt.not {
				assert.NotContains(t, string(b), n)
			}
		})
	}
}

// The DLR retry settings belong to the smsbox group, where smsbox reads
// them.
func TestWriteConfigDLRRetryInSmsbox(t *testing.T) {
	path, err := writeConfig(configData{dir: t.TempDir(), queueLimit: 1})
	require.NoError(t, err)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	group := ""
	found := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if g, ok := strings.CutPrefix(line, "group = "); ok {
			group = g
		}
		for _, key := range []string{"http-request-retry = ", "http-queue-delay = "} {
			if strings.HasPrefix(line, key) {
				found[line] = group
			}
		}
	}
	assert.Equal(t, map[string]string{"http-request-retry = 60": "smsbox", "http-queue-delay = 1": "smsbox"}, found)
}

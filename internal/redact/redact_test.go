package redact

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIsSecretName(t *testing.T) {
	for _, tc := range []struct {
		name   string
		secret bool
	}{
		{"password", true}, {"PASS", true}, {"pwd", true}, {"token", true},
		{"access_token", true}, {"apikey", true}, {"api_key", true}, {"api_id", true},
		{"apiId", true}, {"X-Auth-Token", true}, {"client_secret", true}, {"key", true},
		{"to", false}, {"text", false}, {"username", false}, {"from", false}, {"coding", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.secret, IsSecretName(tc.name))
		})
	}
}

func TestRedactorString(t *testing.T) {
	r := New("s3cr&t pw", "", "short")
	for _, tc := range []struct{ in, want string }{
		{"raw s3cr&t pw here", "raw REDACTED here"},
		{"query s3cr%26t+pw", "query REDACTED"},
		{"path s3cr&t%20pw", "path REDACTED"},
		{"two short short", "two REDACTED REDACTED"},
		{"nothing", "nothing"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			assert.Equal(t, tc.want, r.String(tc.in))
		})
	}
	var nilR *Redactor
	assert.Equal(t, "x", nilR.String("x"))
	assert.Equal(t, "x", New().String("x"))
}

func TestRedactorError(t *testing.T) {
	r := New("canary")

	clean := fmt.Errorf("open file: %w", fs.ErrNotExist)
	assert.Same(t, clean, r.Error(clean), "an error without a secret is kept as it is")
	assert.True(t, errors.Is(r.Error(clean), fs.ErrNotExist))

	for _, tc := range []struct {
		name string
		err  error
	}{
		{"in the text", fmt.Errorf("open canary: %w", fs.ErrNotExist)},
		{"only inside", &hidden{fmt.Errorf("open canary: %w", fs.ErrNotExist)}},
		{"in a joined error", errors.Join(fs.ErrNotExist, &hidden{errors.New("canary")})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := r.Error(tc.err)
			require.Error(t, err)
			assert.NotContains(t, err.Error(), "canary")
			assert.Nil(t, errors.Unwrap(err), "the chain may quote the secret: cut")
			assert.False(t, errors.Is(err, fs.ErrNotExist))
		})
	}
	assert.Contains(t, r.Error(fmt.Errorf("open canary: %w", fs.ErrNotExist)).Error(), "open REDACTED: file does not exist")

	assert.NoError(t, r.Error(nil))
	var nilR *Redactor
	assert.Same(t, clean, nilR.Error(clean))
}

// hidden is an error whose text does not show the error it wraps.
type hidden struct{ err error }

func (h *hidden) Error() string { return "something failed" }
func (h *hidden) Unwrap() error { return h.err }

func TestURL(t *testing.T) {
	secret := func(n string) bool { return n == "password" || IsSecretName(n) }
	for _, tc := range []struct{ in, want string }{
		{"http://h/p?username=u&password=p%26q&to=1", "http://h/p?username=u&password=REDACTED&to=1"},
		{"http://u:pw@h/p?api_id=x&msg=hi", "http://u:REDACTED@h/p?api_id=REDACTED&msg=hi"},
		{"http://h/p?q=a&q=b", "http://h/p?q=a&q=b"},
		{"http://h/p?pass%77ord=x", "http://h/p?pass%77ord=REDACTED"},
		{"http://h/p?bad%zz=x", "http://h/p?REDACTED"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			u, err := url.Parse(tc.in)
			require.NoError(t, err)
			got := URL(u, secret)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.in, u.String(), "input unchanged")
		})
	}
	assert.Equal(t, "", URL(nil, secret))
}

func FuzzQuery(f *testing.F) {
	f.Add("password=secret&to=1")
	f.Add("a=1&password=x%26y&password=z")
	f.Add("%zz=1&password=q")
	f.Fuzz(func(t *testing.T, q string) {
		got := Query(q, IsSecretName)
		if got == Mask {
			return
		}
		if _, err := url.ParseQuery(q); err != nil {
			return
		}
		gv, err := url.ParseQuery(got)
		if err != nil {
			t.Fatalf("redacted query %q does not parse: %v", got, err)
		}
		for k, vals := range gv {
			if IsSecretName(k) {
				for _, s := range vals {
					if s != Mask && s != "" {
						t.Fatalf("param %q kept value %q", k, s)
					}
				}
			}
		}
	})
}

package sms_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smsgateway/sms"
)

func TestNormalizeNumber(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string
		invalid bool
	}{
		// The original service's national numbers pass as given.
		{name: "original toll-free", in: "88005553535", want: "88005553535"},
		{name: "original long national", in: "85539317914264", want: "85539317914264"},

		{name: "international", in: "+79161234567", want: "+79161234567"},
		{name: "separators", in: "8 (800) 555-35-35", want: "88005553535"},
		{name: "dots", in: "+49.30.1234567", want: "+49301234567"},
		{name: "dotted groups", in: "06.12.34.56.78", want: "0612345678"},
		{name: "dash between digits", in: "8-800-555-35-35", want: "88005553535"},
		{name: "plus then parenthesis", in: "+1 (555) 010-0000", want: "+15550100000"},
		{name: "parenthesis then plus", in: "(+7) 916 123 45 67", want: "+79161234567"},
		{name: "spaces around", in: "  +7 916 123 45 67  ", want: "+79161234567"},
		{name: "7 digits", in: "1234567", want: "1234567"},
		{name: "15 digits", in: "+123456789012345", want: "+123456789012345"},
		{name: "leading zeros kept", in: "0049301234567", want: "0049301234567"},

		{name: "empty", in: "", invalid: true},
		{name: "only separators", in: " -().", invalid: true},
		{name: "only plus", in: "+", invalid: true},
		{name: "6 digits", in: "123456", invalid: true},
		{name: "16 digits", in: "+1234567890123456", invalid: true},
		{name: "letters", in: "+7916CALLME", invalid: true},
		{name: "vanity", in: "1-800-FLOWERS", invalid: true},
		{name: "plus inside", in: "7+9161234567", invalid: true},
		{name: "two pluses", in: "++79161234567", invalid: true},
		{name: "plus after separator and digit", in: "7 +9161234567", invalid: true},
		{name: "slash", in: "8800/5553535", invalid: true},
		{name: "tab", in: "8800\t5553535", invalid: true},
		{name: "extension", in: "+79161234567;ext=1", invalid: true},
		{name: "arabic-indic digits", in: "٨٨٠٠٥٥٥٣٥٣٥", invalid: true},
		{name: "fullwidth digits", in: "８８００５５５３５３５", invalid: true},
		{name: "no-break space", in: "8800\u00a05553535", invalid: true},
		{name: "invalid UTF-8", in: "8800\xff5553535", invalid: true},
		// What reads as a number rather than a phone number is refused,
		// not sent to another number.
		{name: "decimal fraction", in: "88005553535.0", invalid: true},
		{name: "decimal point inside", in: "8800555.3535", invalid: true},
		{name: "trailing dot", in: "88005553535.", invalid: true},
		{name: "negative", in: "-88005553535", invalid: true},
		{name: "negative after a space", in: " -88005553535", invalid: true},
		{name: "exponent", in: "8.8005553535e10", invalid: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := sms.NormalizeNumber(tt.in)
			if tt.invalid {
				require.ErrorIs(t, err, sms.ErrInvalidNumber)
				assert.Empty(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

// validNumber is what NormalizeNumber returns: an optional '+' and 7 to 15
// ASCII digits.
var validNumber = regexp.MustCompile(`^\+?[0-9]{7,15}$`)

func FuzzNormalizeNumber(f *testing.F) {
	for _, s := range []string{
		"88005553535", "85539317914264", "+7 (916) 123-45-67", "(+7)9161234567", "7+916", "++1234567",
		"", "+", "123456", "+1234567890123456", "1-800-FLOWERS", "８８００", "\xff",
		"88005553535.0", "-88005553535", "06.12.34.56.78",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := sms.NormalizeNumber(in)

		// An independent statement of the rule: drop the separators, and
		// what is left must be an optional '+' and 7 to 15 ASCII digits.
		stripped := strings.Map(func(r rune) rune {
			if strings.ContainsRune(" -.()", r) {
				return -1
			}
			return r
		}, in)
		// What reads as a number rather than a phone number: a sign
		// before the first digit, or exactly one dot.
		prefix := in
		if i := strings.IndexAny(in, "0123456789"); i >= 0 {
			prefix = in[:i]
		}
		numeric := strings.Count(in, ".") == 1 || strings.Contains(prefix, "-")
		if !validNumber.MatchString(stripped) || numeric {
			require.ErrorIs(t, err, sms.ErrInvalidNumber, "accepted %q as %q", in, got)
			require.Empty(t, got)
			return
		}
		require.NoError(t, err)
		require.Equal(t, stripped, got)
		require.Regexp(t, validNumber, got)

		again, err := sms.NormalizeNumber(got)
		require.NoError(t, err, "not idempotent")
		require.Equal(t, got, again, "not idempotent")
	})
}

package gsm

import (
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBasicPositions checks the codes the standard's table puts away from
// ASCII, and the ones commonly got wrong, against 3GPP TS 23.038 §6.2.1.
func TestBasicPositions(t *testing.T) {
	tests := []struct {
		code byte
		want rune
	}{
		{0x00, '@'}, {0x01, '£'}, {0x02, '$'}, {0x03, '¥'},
		{0x04, 'è'}, {0x05, 'é'}, {0x06, 'ù'}, {0x07, 'ì'},
		{0x08, 'ò'}, {0x09, 'Ç'}, {0x0A, '\n'}, {0x0B, 'Ø'},
		{0x0C, 'ø'}, {0x0D, '\r'}, {0x0E, 'Å'}, {0x0F, 'å'},
		{0x10, 'Δ'}, {0x11, '_'}, {0x12, 'Φ'}, {0x13, 'Γ'},
		{0x14, 'Λ'}, {0x15, 'Ω'}, {0x16, 'Π'}, {0x17, 'Ψ'},
		{0x18, 'Σ'}, {0x19, 'Θ'}, {0x1A, 'Ξ'}, {0x1C, 'Æ'},
		{0x1D, 'æ'}, {0x1E, 'ß'}, {0x1F, 'É'}, {0x20, ' '},
		{0x24, '¤'}, {0x40, '¡'}, {0x5B, 'Ä'}, {0x5C, 'Ö'},
		{0x5D, 'Ñ'}, {0x5E, 'Ü'}, {0x5F, '§'}, {0x60, '¿'},
		{0x7B, 'ä'}, {0x7C, 'ö'}, {0x7D, 'ñ'}, {0x7E, 'ü'},
		{0x7F, 'à'},
	}
	for _, tt := range tests {
		t.Run(string(tt.want), func(t *testing.T) {
			assert.Equal(t, tt.want, Basic[tt.code])
		})
	}
	assert.Zero(t, Basic[Escape], "the escape code is no character")
	// Codes that coincide with ASCII: the printable ASCII letters, digits
	// and the punctuation the alphabet keeps.
	for code := 0x21; code < 0x7B; code++ {
		switch {
		case code == 0x24, code == 0x40, code >= 0x5B && code <= 0x60:
			continue
		}
		assert.Equal(t, rune(code), Basic[code], "code %#x", code)
	}
}

func TestTableSizes(t *testing.T) {
	seen := map[rune]bool{}
	for code, r := range Basic {
		if code == Escape {
			continue
		}
		require.True(t, utf8.ValidRune(r))
		assert.False(t, seen[r], "%q twice", r)
		seen[r] = true
	}
	assert.Len(t, seen, 127, "128 codes minus the escape")
	assert.Len(t, Extension, 10)
	for _, r := range Extension {
		assert.False(t, seen[r], "%q in both tables", r)
	}
}

// TestSeptetsExhaustive checks Septets for every rune against the tables, so
// the fast paths cannot drift from them.
func TestSeptetsExhaustive(t *testing.T) {
	want := map[rune]int{}
	for code, r := range Basic {
		if code != Escape {
			want[r] = 1
		}
	}
	for _, r := range Extension {
		want[r] = 2
	}
	bad := 0
	for r := rune(-1); r <= utf8.MaxRune+1; r++ {
		if got := Septets(r); got != want[r] {
			bad++
			if bad < 10 {
				t.Errorf("Septets(%U) = %d, want %d", r, got, want[r])
			}
		}
	}
}

func TestSeptetsLookalikes(t *testing.T) {
	// Characters that look like, or are often assumed to be, in the
	// alphabet but are not.
	for _, r := range "çóáíúâêÀÈÌÒÙ`\t\x1b\u00a0–—‘’“”…«»ÿ€" {
		want := 0
		if r == '€' {
			want = 2
		}
		assert.Equal(t, want, Septets(r), "%q (%U)", r, r)
	}
	for _, r := range "^{}\\[~]|\f" {
		assert.Equal(t, 2, Septets(r), "%q", r)
	}
}

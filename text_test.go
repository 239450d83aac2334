package sms_test

import (
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smsgateway/sms"
	"github.com/smsgateway/sms/internal/gsm"
)

func TestAnalyze(t *testing.T) {
	a := func(n int) string { return strings.Repeat("a", n) }
	zh := func(n int) string { return strings.Repeat("ж", n) }
	tests := []struct {
		name string
		text string
		want sms.TextInfo
		// parts holds the units of each part, when the split matters.
		parts []int
	}{
		{"empty", "", sms.TextInfo{Encoding: sms.GSM7, Units: 0, Parts: 0}, nil},
		{"hello", "Hello, world!", sms.TextInfo{Encoding: sms.GSM7, Units: 13, Parts: 1}, nil},

		// GSM-7 boundaries.
		{"gsm 160", a(160), sms.TextInfo{Encoding: sms.GSM7, Units: 160, Parts: 1}, []int{160}},
		{"gsm 161", a(161), sms.TextInfo{Encoding: sms.GSM7, Units: 161, Parts: 2}, []int{153, 8}},
		{"gsm 306", a(306), sms.TextInfo{Encoding: sms.GSM7, Units: 306, Parts: 2}, []int{153, 153}},
		{"gsm 307", a(307), sms.TextInfo{Encoding: sms.GSM7, Units: 307, Parts: 3}, []int{153, 153, 1}},
		{"gsm 459", a(459), sms.TextInfo{Encoding: sms.GSM7, Units: 459, Parts: 3}, nil},
		{"gsm 460", a(460), sms.TextInfo{Encoding: sms.GSM7, Units: 460, Parts: 4}, nil},
		{"160 e-acute", strings.Repeat("é", 160), sms.TextInfo{Encoding: sms.GSM7, Units: 160, Parts: 1}, nil},
		{"161 e-acute", strings.Repeat("é", 161), sms.TextInfo{Encoding: sms.GSM7, Units: 161, Parts: 2}, nil},

		// Extension characters cost two septets and are never split.
		{"extension table", "^{}\\[~]|€\f", sms.TextInfo{Encoding: sms.GSM7, Units: 20, Parts: 1}, nil},
		{"158 a + euro fits", a(158) + "€", sms.TextInfo{Encoding: sms.GSM7, Units: 160, Parts: 1}, []int{160}},
		{"159 a + euro", a(159) + "€", sms.TextInfo{Encoding: sms.GSM7, Units: 161, Parts: 2}, []int{153, 8}},
		{"euro at boundary moves", a(152) + "€" + a(10), sms.TextInfo{Encoding: sms.GSM7, Units: 164, Parts: 2}, []int{152, 12}},
		{"euro just fits part", a(151) + "€" + a(10), sms.TextInfo{Encoding: sms.GSM7, Units: 163, Parts: 2}, []int{153, 10}},
		{"euro adds a part", a(152) + "€" + a(152), sms.TextInfo{Encoding: sms.GSM7, Units: 306, Parts: 3}, []int{152, 153, 1}},
		{"80 euro", strings.Repeat("€", 80), sms.TextInfo{Encoding: sms.GSM7, Units: 160, Parts: 1}, nil},
		{"81 euro", strings.Repeat("€", 81), sms.TextInfo{Encoding: sms.GSM7, Units: 162, Parts: 2}, []int{152, 10}},
		{"form feed at boundary", a(152) + "\f" + a(8), sms.TextInfo{Encoding: sms.GSM7, Units: 162, Parts: 2}, []int{152, 10}},

		// UCS-2 boundaries.
		{"ucs 70", zh(70), sms.TextInfo{Encoding: sms.UCS2, Units: 70, Parts: 1}, []int{70}},
		{"ucs 71", zh(71), sms.TextInfo{Encoding: sms.UCS2, Units: 71, Parts: 2}, []int{67, 4}},
		{"ucs 134", zh(134), sms.TextInfo{Encoding: sms.UCS2, Units: 134, Parts: 2}, []int{67, 67}},
		{"ucs 135", zh(135), sms.TextInfo{Encoding: sms.UCS2, Units: 135, Parts: 3}, []int{67, 67, 1}},
		{"one non-GSM makes all UCS-2", "ж" + a(159), sms.TextInfo{Encoding: sms.UCS2, Units: 160, Parts: 3}, []int{67, 67, 26}},

		// Surrogate pairs cost two units and are never split.
		{"emoji", "😀", sms.TextInfo{Encoding: sms.UCS2, Units: 2, Parts: 1}, nil},
		{"68 zh + emoji fits", zh(68) + "😀", sms.TextInfo{Encoding: sms.UCS2, Units: 70, Parts: 1}, nil},
		{"69 zh + emoji", zh(69) + "😀", sms.TextInfo{Encoding: sms.UCS2, Units: 71, Parts: 2}, []int{67, 4}},
		{"emoji at boundary moves", zh(66) + "😀" + zh(4), sms.TextInfo{Encoding: sms.UCS2, Units: 72, Parts: 2}, []int{66, 6}},
		{"emoji adds a part", zh(66) + "😀" + zh(66), sms.TextInfo{Encoding: sms.UCS2, Units: 134, Parts: 3}, []int{66, 67, 1}},
		{"35 emoji", strings.Repeat("😀", 35), sms.TextInfo{Encoding: sms.UCS2, Units: 70, Parts: 1}, nil},
		{"36 emoji", strings.Repeat("😀", 36), sms.TextInfo{Encoding: sms.UCS2, Units: 72, Parts: 2}, []int{66, 6}},

		// Lookalikes that are not in the alphabet.
		{"o-acute", "ó", sms.TextInfo{Encoding: sms.UCS2, Units: 1, Parts: 1}, nil},
		{"a-acute", "á", sms.TextInfo{Encoding: sms.UCS2, Units: 1, Parts: 1}, nil},
		{"small c-cedilla", "ç", sms.TextInfo{Encoding: sms.UCS2, Units: 1, Parts: 1}, nil},
		{"capital C-cedilla", "Ç", sms.TextInfo{Encoding: sms.GSM7, Units: 1, Parts: 1}, nil},
		{"tab", "a\tb", sms.TextInfo{Encoding: sms.UCS2, Units: 3, Parts: 1}, nil},
		{"backtick", "`", sms.TextInfo{Encoding: sms.UCS2, Units: 1, Parts: 1}, nil},
		{"no-break space", "a\u00a0b", sms.TextInfo{Encoding: sms.UCS2, Units: 3, Parts: 1}, nil},
		{"escape control", "\x1b", sms.TextInfo{Encoding: sms.UCS2, Units: 1, Parts: 1}, nil},
		{"curly quote", "it’s", sms.TextInfo{Encoding: sms.UCS2, Units: 4, Parts: 1}, nil},
		{"small greek", "α", sms.TextInfo{Encoding: sms.UCS2, Units: 1, Parts: 1}, nil},

		// What is in the alphabet.
		{"greek capitals", "ΔΦΓΛΩΠΨΣΘΞ", sms.TextInfo{Encoding: sms.GSM7, Units: 10, Parts: 1}, nil},
		{"accents", "@£$¥èéùìòÇØøÅåÆæßÉ¤¡ÄÖÑÜ§¿äöñüà", sms.TextInfo{Encoding: sms.GSM7, Units: 31, Parts: 1}, nil},
		{"CR LF", "a\r\nb", sms.TextInfo{Encoding: sms.GSM7, Units: 4, Parts: 1}, nil},

		// Invalid UTF-8: each bad byte is U+FFFD.
		{"invalid byte", "\xffabc", sms.TextInfo{Encoding: sms.UCS2, Units: 4, Parts: 1}, nil},
		{"truncated rune", "ab\xd0", sms.TextInfo{Encoding: sms.UCS2, Units: 3, Parts: 1}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := sms.Analyze(tt.text)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.want, refAnalyze(tt.text), "reference disagrees")

			parts := sms.Split(tt.text)
			require.Len(t, parts, tt.want.Parts)
			assert.Equal(t, tt.text, strings.Join(parts, ""))
			if tt.parts != nil {
				units := make([]int, len(parts))
				for i, p := range parts {
					units[i] = unitsOf(tt.want.Encoding, p)
				}
				assert.Equal(t, tt.parts, units)
			}
		})
	}
}

func TestEncodingString(t *testing.T) {
	assert.Equal(t, "GSM-7", sms.GSM7.String())
	assert.Equal(t, "UCS-2", sms.UCS2.String())
	assert.Equal(t, "Encoding(7)", sms.Encoding(7).String())
}

func FuzzAnalyze(f *testing.F) {
	for _, s := range []string{
		"", "hello", strings.Repeat("a", 161), strings.Repeat("a", 152) + "€" + strings.Repeat("a", 152),
		strings.Repeat("ж", 66) + "😀" + strings.Repeat("ж", 66), "ç", "\xff\xfe", "a\tb", strings.Repeat("€", 81),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		info := sms.Analyze(text)
		require.Equal(t, refAnalyze(text), info, "reference disagrees")

		gsm7 := true
		for _, r := range text {
			gsm7 = gsm7 && gsmCost(r) > 0
		}
		require.Equal(t, gsm7, info.Encoding == sms.GSM7, "encoding")

		single, multi := 160, 153
		if info.Encoding == sms.UCS2 {
			single, multi = 70, 67
		}
		require.Equal(t, text == "", info.Parts == 0)
		require.Equal(t, text == "", info.Units == 0)
		if text != "" {
			require.Equal(t, info.Units <= single, info.Parts == 1, "one part iff it fits")
		}
		if info.Parts > 1 {
			require.GreaterOrEqual(t, info.Parts*multi, info.Units, "parts hold the units")
		}

		parts := sms.Split(text)
		require.Len(t, parts, info.Parts)
		require.Equal(t, text, strings.Join(parts, ""))
		limit := multi
		if len(parts) == 1 {
			limit = single
		}
		sum := 0
		for i, p := range parts {
			n := unitsOf(info.Encoding, p)
			require.Positive(t, n, "part %d empty", i)
			require.LessOrEqual(t, n, limit, "part %d too long", i)
			if utf8.ValidString(text) {
				require.True(t, utf8.ValidString(p), "part %d cuts a character", i)
			}
			if i+1 < len(parts) {
				next, _ := utf8.DecodeRuneInString(parts[i+1])
				require.Greater(t, n+costOf(info.Encoding, next), multi,
					"part %d could have taken the next character", i)
			}
			sum += n
		}
		require.Equal(t, info.Units, sum, "units are the sum of the parts")
	})
}

// The reference below decides from gsm.Basic and gsm.Extension directly and
// packs rune slices, independently of the code under test.

var gsmTable = func() map[rune]int {
	m := map[rune]int{}
	for code, r := range gsm.Basic {
		if code != gsm.Escape {
			m[r] = 1
		}
	}
	for _, r := range gsm.Extension {
		m[r] = 2
	}
	return m
}()

func gsmCost(r rune) int { return gsmTable[r] }

func costOf(e sms.Encoding, r rune) int {
	if e == sms.GSM7 {
		return gsmCost(r)
	}
	return len(utf16.Encode([]rune{r}))
}

func unitsOf(e sms.Encoding, s string) int {
	n := 0
	for _, r := range s {
		n += costOf(e, r)
	}
	return n
}

func refAnalyze(text string) sms.TextInfo {
	runes := []rune(text)
	enc := sms.GSM7
	for _, r := range runes {
		if gsmCost(r) == 0 {
			enc = sms.UCS2
		}
	}
	single, multi := 160, 153
	if enc == sms.UCS2 {
		single, multi = 70, 67
	}
	total := unitsOf(enc, text)
	switch {
	case len(runes) == 0:
		return sms.TextInfo{Encoding: enc}
	case total <= single:
		return sms.TextInfo{Encoding: enc, Units: total, Parts: 1}
	}
	parts := 0
	for len(runes) > 0 {
		n, i := 0, 0
		for i < len(runes) && n+costOf(enc, runes[i]) <= multi {
			n += costOf(enc, runes[i])
			i++
		}
		runes = runes[i:]
		parts++
	}
	return sms.TextInfo{Encoding: enc, Units: total, Parts: parts}
}

func BenchmarkAnalyze(b *testing.B) {
	texts := []struct{ name, text string }{
		{"ascii", strings.Repeat("Your code is 123456. Do not share it! ", 12)},
		{"gsm-extension", strings.Repeat("Price: 10€ [incl. VAT] {ok} ", 16)},
		{"cyrillic", strings.Repeat("Ваш код 123456. Никому его не сообщайте! ", 11)},
		{"mixed", strings.Repeat("Order #42 shipped, ETA 3 days. ", 14) + "Спасибо 😀"},
	}
	for _, tt := range texts {
		runes := utf8.RuneCountInString(tt.text)
		b.Run(tt.name, func(b *testing.B) {
			b.SetBytes(int64(len(tt.text)))
			b.ReportAllocs()
			var info sms.TextInfo
			for range b.N {
				info = sms.Analyze(tt.text)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(runes), "ns/char")
			if info.Parts == 0 {
				b.Fatal("no parts")
			}
		})
	}
}

package kanneltest

import (
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseLine(t *testing.T) {
	tests := []struct {
		name string
		line string
		want Message
	}{
		{
			name: "text with timestamp prefix",
			line: "2026-11-26 04:20:30 [7554] [0] DEBUG: Got message 1: <ACME 4912345 text Hello world>",
			want: Message{Seq: 1, From: "ACME", To: "4912345", Coding: CodingText, Text: "Hello world", Payload: []byte("Hello world")},
		},
		{
			name: "ucs-2 Cyrillic",
			line: "DEBUG: Got message 4: <12345 4911111 ucs-2 %04%1F%04%40%048%042%045%04B%00%2C%00+%04%3C%048%04%40%00!>",
			want: Message{Seq: 4, From: "12345", To: "4911111", Coding: CodingUCS2, Text: "Привет, мир!",
				Payload: []byte{0x04, 0x1f, 0x04, 0x40, 0x04, 0x38, 0x04, 0x32, 0x04, 0x35, 0x04, 0x42, 0x00, 0x2c, 0x00, 0x20, 0x04, 0x3c, 0x04, 0x38, 0x04, 0x40, 0x00, 0x21}},
		},
		{
			name: "udh first part of GSM text",
			line: "DEBUG: Got message 7: <12345 4966666 udh %05%00%03%06%02%01 data 00%3Axxxxxx+01%3Axxxxxx+>",
			want: Message{Seq: 7, From: "12345", To: "4966666", Coding: CodingText, Text: "00:xxxxxx 01:xxxxxx ",
				Payload: []byte("00:xxxxxx 01:xxxxxx "), UDH: []byte{5, 0, 3, 6, 2, 1}, Ref: 6, Part: 1, Total: 2},
		},
		{
			name: "udh second part",
			line: "DEBUG: Got message 8: <12345 4966666 udh %05%00%03%06%02%02 data xxxxxx+16%3Axxxxxx>",
			want: Message{Seq: 8, From: "12345", To: "4966666", Coding: CodingText, Text: "xxxxxx 16:xxxxxx",
				Payload: []byte("xxxxxx 16:xxxxxx"), UDH: []byte{5, 0, 3, 6, 2, 2}, Ref: 6, Part: 2, Total: 2},
		},
		{
			name: "udh part of UCS-2 text",
			line: "DEBUG: Got message 4: <12345 113 udh %05%00%03%02%02%01 data %046%046>",
			want: Message{Seq: 4, From: "12345", To: "113", Coding: CodingUCS2, Text: "жж",
				Payload: []byte{0x04, 0x36, 0x04, 0x36}, UDH: []byte{5, 0, 3, 2, 2, 1}, Ref: 2, Part: 1, Total: 2},
		},
		{
			name: "udh with 16-bit reference",
			line: "Got message 2: <1 2 udh %06%08%04%01%02%03%02 data abc>",
			want: Message{Seq: 2, From: "1", To: "2", Coding: CodingText, Text: "abc",
				Payload: []byte("abc"), UDH: []byte{6, 8, 4, 1, 2, 3, 2}, Ref: 0x0102, Part: 2, Total: 3},
		},
		{
			name: "udh without concatenation (WAP push port)",
			line: "Got message 7: <12345 115 udh %06%05%04%0B%84%23%F0 data %01%02%03>",
			want: Message{Seq: 7, From: "12345", To: "115", Coding: CodingData, Text: "\x01\x02\x03",
				Payload: []byte{1, 2, 3}, UDH: []byte{6, 5, 4, 0x0b, 0x84, 0x23, 0xf0}},
		},
		{
			name: "8-bit data",
			line: "Got message 6: <12345 114 data %01%02%FF>",
			want: Message{Seq: 6, From: "12345", To: "114", Coding: CodingData, Text: "\x01\x02\xff", Payload: []byte{1, 2, 0xff}},
		},
		{
			name: "sender with a space",
			line: "Got message 3: <A B 112 text hi>",
			want: Message{Seq: 3, From: "A B", To: "112", Coding: CodingText, Text: "hi", Payload: []byte("hi")},
		},
		{
			name: "UTF-8 text with angle brackets and trailing CRLF",
			line: "Got message 1: <12345 111 text café <€> >\r\n",
			want: Message{Seq: 1, From: "12345", To: "111", Coding: CodingText, Text: "café <€> ", Payload: []byte("café <€> ")},
		},
		{
			name: "empty text",
			line: "Got message 9: <12345 4912 text >",
			want: Message{Seq: 9, From: "12345", To: "4912", Coding: CodingText, Text: "", Payload: []byte{}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseLine(tt.line)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseLineErrors(t *testing.T) {
	tests := []struct {
		name string
		line string
		want error
	}{
		{"start-up line", "2026-11-26 04:20:29 [7554] [0] INFO: fakesmsc version 1.4.5 starting", ErrNotMessage},
		{"empty", "", ErrNotMessage},
		{"continuation of a text with a newline", "DEBUG: Got message 2: <line2>", ErrMalformed},
		{"no closing bracket", "Got message 2: <1 2 text abc", ErrMalformed},
		{"bad counter", "Got message x: <1 2 text abc>", ErrMalformed},
		{"unknown type", "Got message 2: <1 2 binary abc>", ErrMalformed},
		{"bad escape", "Got message 2: <1 2 data %zz>", ErrMalformed},
		{"odd ucs-2", "Got message 2: <1 2 ucs-2 %04>", ErrMalformed},
		{"udh without data", "Got message 2: <1 2 udh %05%00%03%01%02%01>", ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseLine(tt.line)
			assert.ErrorIs(t, err, tt.want)
		})
	}
}

func TestConcatInfo(t *testing.T) {
	tests := []struct {
		name             string
		udh              []byte
		ref, part, total int
	}{
		{"8-bit reference", []byte{5, 0, 3, 7, 3, 2}, 7, 2, 3},
		{"16-bit reference", []byte{6, 8, 4, 1, 0, 4, 4}, 256, 4, 4},
		{"after another element", []byte{11, 5, 4, 0x0b, 0x84, 0x23, 0xf0, 0, 3, 9, 2, 1}, 9, 1, 2},
		{"no concatenation", []byte{6, 5, 4, 0x0b, 0x84, 0x23, 0xf0}, 0, 0, 0},
		{"length beyond data", []byte{9, 0, 3, 1, 2, 1}, 0, 0, 0},
		{"element beyond header", []byte{3, 0, 3, 1, 2, 1}, 0, 0, 0},
		{"empty", nil, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ref, part, total := concatInfo(tt.udh)
			assert.Equal(t, []int{tt.ref, tt.part, tt.total}, []int{ref, part, total})
		})
	}
}

func TestParseLogJoinsContinuationLines(t *testing.T) {
	log := "INFO: connected\n" +
		"DEBUG: Got message 1: <12345 111 text café € line1>\n" +
		"DEBUG: Got message 2: <line2>\n" +
		"DEBUG: Got message 3: <12345 112 text next>\n" +
		"DEBUG: Got message 4: <12345 113 text unfinished"
	got := parseLog([]byte(log))
	require.Len(t, got, 2)
	assert.Equal(t, "café € line1\nline2", got[0].Text)
	assert.Equal(t, []byte("café € line1\nline2"), got[0].Payload)
	assert.Equal(t, "next", got[1].Text)
}

// part builds a concatenated part as ParseLine would.
func part(seq int, to string, ref, p, total int, payload []byte) Message {
	c := guessCoding(payload)
	return Message{Seq: seq, From: "S", To: to, Coding: c, Text: decodePayload(c, payload), Payload: payload,
		UDH: []byte{5, 0, 3, byte(ref), byte(total), byte(p)}, Ref: ref, Part: p, Total: total}
}

func TestAssemble(t *testing.T) {
	single := Message{Seq: 1, From: "S", To: "1", Coding: CodingText, Text: "one", Payload: []byte("one")}
	// "😀" is D83D DE00: a pair split across two parts.
	emoji1 := []byte{0x04, 0x36, 0xd8, 0x3d}
	emoji2 := []byte{0xde, 0x00, 0x04, 0x36}

	tests := []struct {
		name string
		in   []Message
		want []string // Text of each output message
		refs []int    // Part of each output message
	}{
		{"nothing", nil, nil, nil},
		{"single passes through", []Message{single}, []string{"one"}, []int{0}},
		{
			"two parts out of order, interleaved",
			[]Message{part(2, "2", 6, 2, 2, []byte("world")), single, part(3, "2", 6, 1, 2, []byte("hello "))},
			[]string{"hello world", "one"}, []int{0, 0},
		},
		{
			"surrogate pair split across parts",
			[]Message{part(1, "3", 1, 1, 2, emoji1), part(2, "3", 1, 2, 2, emoji2)},
			[]string{"ж😀ж"}, []int{0},
		},
		{
			"incomplete group stays in parts",
			[]Message{part(1, "4", 2, 3, 3, []byte("c")), part(2, "4", 2, 1, 3, []byte("a"))},
			[]string{"a", "c"}, []int{1, 3},
		},
		{
			"same reference for two receivers",
			[]Message{part(1, "5", 9, 1, 2, []byte("a")), part(2, "6", 9, 1, 2, []byte("x")),
				part(3, "6", 9, 2, 2, []byte("y")), part(4, "5", 9, 2, 2, []byte("b"))},
			[]string{"ab", "xy"}, []int{0, 0},
		},
		{
			"reference reused after wrap-around",
			[]Message{part(1, "7", 3, 1, 2, []byte("a")), part(2, "7", 3, 2, 2, []byte("b")),
				part(3, "7", 3, 1, 2, []byte("c")), part(4, "7", 3, 2, 2, []byte("d"))},
			[]string{"ab", "cd"}, []int{0, 0},
		},
		{
			"duplicate part starts a new group",
			[]Message{part(1, "8", 4, 1, 2, []byte("a")), part(2, "8", 4, 1, 2, []byte("c")), part(3, "8", 4, 2, 2, []byte("d"))},
			[]string{"a", "cd"}, []int{1, 0},
		},
		{
			"part number out of range passes through",
			[]Message{part(1, "9", 4, 3, 2, []byte("z"))},
			[]string{"z"}, []int{3},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Assemble(tt.in)
			texts := make([]string, 0, len(got))
			parts := make([]int, 0, len(got))
			for _, m := range got {
				texts = append(texts, m.Text)
				parts = append(parts, m.Part)
			}
			if tt.want == nil {
				assert.Empty(t, got)
				return
			}
			assert.Equal(t, tt.want, texts)
			assert.Equal(t, tt.refs, parts)
		})
	}
}

func TestAssembleKeepsMetadata(t *testing.T) {
	got := Assemble([]Message{part(5, "2", 6, 2, 2, []byte{0x04, 0x40}), part(4, "2", 6, 1, 2, []byte{0x04, 0x1f})})
	require.Len(t, got, 1)
	assert.Equal(t, Message{Seq: 4, From: "S", To: "2", Coding: CodingUCS2, Text: "Пр",
		Payload: []byte{0x04, 0x1f, 0x04, 0x40}, Ref: 6, Total: 2}, got[0])
}

func TestSMSCState(t *testing.T) {
	status := "SMSC connections:\n    FAKE[FAKE] FAKE:23010 (online 12s, rcvd: sms 0 / dlr 0, sent: sms 3 / dlr 0)\n"
	assert.Equal(t, "online", smscState(status, 23010))
	assert.Equal(t, "re-connecting", smscState("    FAKE[FAKE] FAKE:23010 (re-connecting, rcvd: sms 0)\n", 23010))
	assert.Empty(t, smscState(status, 23011), "another gateway's port")
}

func FuzzParseLine(f *testing.F) {
	for _, s := range []string{
		"DEBUG: Got message 1: <ACME 4912345 text Hello world>",
		"DEBUG: Got message 4: <12345 4911111 ucs-2 %04%1F%04%40%048%042%045%04B%00%2C%00+%04%3C%048%04%40%00!>",
		"DEBUG: Got message 7: <12345 4966666 udh %05%00%03%06%02%01 data 00%3Axxxxxx+01%3Axxxxxx+>",
		"Got message 2: <1 2 udh %06%08%04%01%02%03%02 data abc>",
		"Got message 6: <12345 114 data %01%02%FF>",
		"Got message 3: <A B 112 text hi>",
		"Got message 2: <line2>",
		"Got message 2: <1 2 udh %03%00%03 data x>",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		m, err := ParseLine(line)
		if err != nil {
			if m.Coding != "" || m.Payload != nil {
				t.Fatalf("error %v with a non-zero message %+v", err, m)
			}
			return
		}
		switch m.Coding {
		case CodingText:
			if m.UDH == nil && m.Text != string(m.Payload) {
				t.Fatalf("text %q differs from payload %q", m.Text, m.Payload)
			}
		case CodingData:
			if m.Text != string(m.Payload) {
				t.Fatalf("data %q differs from payload %q", m.Text, m.Payload)
			}
		case CodingUCS2:
			if len(m.Payload)%2 != 0 || !utf8.ValidString(m.Text) {
				t.Fatalf("bad ucs-2 %q / %x", m.Text, m.Payload)
			}
		default:
			t.Fatalf("unknown coding %q", m.Coding)
		}
		if strings.Contains(m.To, " ") || m.To == "" {
			t.Fatalf("receiver %q", m.To)
		}
		if m.Total != 0 && (m.Part < 0 || m.Total > 255) {
			t.Fatalf("concatenation %d/%d", m.Part, m.Total)
		}
		if m.UDH == nil && m.Coding != CodingText {
			// Round trip: encoding the payload as Kannel does parses back to it.
			again, err := ParseLine("Got message 1: <" + m.From + " " + m.To + " " + m.Coding + " " +
				url.QueryEscape(string(m.Payload)) + ">")
			if err != nil || string(again.Payload) != string(m.Payload) {
				t.Fatalf("round trip of %x: %v %x", m.Payload, err, again.Payload)
			}
		}
	})
}

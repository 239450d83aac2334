package kanneltest

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Codings reported in Message.Coding.
const (
	// CodingText is a 7-bit (GSM) text. fakesmsc prints it as is.
	CodingText = "text"
	// CodingData is 8-bit binary data. fakesmsc prints it url-encoded.
	CodingData = "data"
	// CodingUCS2 is UCS-2 / UTF-16BE. fakesmsc prints the octets url-encoded.
	CodingUCS2 = "ucs-2"
)

// Errors returned by ParseLine, matched with errors.Is.
var (
	// ErrNotMessage means the line is not a "Got message" line of fakesmsc
	// (a start-up or connection line, for example).
	ErrNotMessage = errors.New("kanneltest: not a fakesmsc message line")
	// ErrMalformed means the line is a "Got message" line whose body cannot
	// be parsed or decoded.
	ErrMalformed = errors.New("kanneltest: malformed fakesmsc message line")
)

// Message is one short message as the fake SMSC received it from bearerbox:
// one part of a concatenated text is one Message (see Assemble).
type Message struct {
	// Seq is fakesmsc's own counter N from "Got message N". It starts at 1
	// again whenever the fake SMSC is restarted (Gateway.StartSMSC).
	Seq int
	// From and To are the sender and the receiver as bearerbox passed them.
	From, To string
	// Coding is CodingText, CodingData or CodingUCS2.
	//
	// fakesmsc prints every message that has a UDH in one form,
	// "udh <udh> data <payload>", whatever its coding. For those the coding
	// is inferred from the payload: valid UTF-8 without control characters
	// other than CR and LF is CodingText, other even-length payloads are
	// CodingUCS2, the rest CodingData. A UCS-2 part made only of characters
	// whose UTF-16BE octets happen to be printable ASCII (some CJK texts)
	// would be reported as CodingText, and binary data with a UDH of even
	// length as CodingUCS2; Payload always holds the exact octets.
	Coding string
	// Text is the decoded text: the text itself for CodingText, the
	// UTF-16BE payload decoded for CodingUCS2 (an unpaired surrogate, as in a
	// part that ends in the middle of a pair, becomes U+FFFD), and the raw
	// octets as a string for CodingData.
	Text string
	// Payload holds the message octets as sent, without the UDH: the text
	// bytes for CodingText, UTF-16BE for CodingUCS2.
	Payload []byte
	// UDH is the user data header with its length octet, nil when none.
	UDH []byte
	// Ref, Part and Total come from a concatenation element of the UDH
	// (00 03 ref total part, or 08 04 ref16 total part). All are 0 when
	// the message is not a part of a concatenated message. After Assemble,
	// a reassembled message keeps Ref and Total and has Part 0.
	Ref, Part, Total int
}

// ParseLine parses one line of fakesmsc output, such as
//
//	2026-11-26 04:20:30 [7554] [0] DEBUG: Got message 1: <ACME 4912345 text Hello world>
//	DEBUG: Got message 4: <12345 4911111 ucs-2 %04%1F%04%40>
//	DEBUG: Got message 7: <12345 4966666 udh %05%00%03%06%02%01 data 00%3Axxxxxx+01>
//
// Everything before "Got message" is ignored, and a trailing CR or LF is
// dropped. A sender may contain spaces (the receiver never does): the first
// split that yields a known type wins. It returns an error matching
// ErrNotMessage for other lines and ErrMalformed for a message line it
// cannot parse or decode.
func ParseLine(line string) (Message, error) {
	seq, body, err := splitLine(line)
	if err != nil {
		return Message{}, err
	}
	m, err := parseBody(body)
	if err != nil {
		return Message{}, err
	}
	m.Seq = seq
	return m, nil
}

// splitLine returns the counter and the part between '<' and the last '>'.
func splitLine(line string) (int, string, error) {
	const marker = "Got message "
	i := strings.Index(line, marker)
	if i < 0 {
		return 0, "", ErrNotMessage
	}
	rest := strings.TrimRight(line[i+len(marker):], "\r\n")
	colon := strings.Index(rest, ": <")
	if colon <= 0 || !strings.HasSuffix(rest, ">") || len(rest) < colon+4 {
		return 0, "", fmt.Errorf("%w: %q", ErrMalformed, line)
	}
	seq, err := strconv.Atoi(rest[:colon])
	if err != nil || seq < 0 {
		return 0, "", fmt.Errorf("%w: bad counter in %q", ErrMalformed, line)
	}
	return seq, rest[colon+3 : len(rest)-1], nil
}

// parseBody parses "<sender> <receiver> <type> <data>".
func parseBody(body string) (Message, error) {
	for i := 0; i < len(body); i++ {
		if body[i] != ' ' {
			continue
		}
		rest := body[i+1:]
		j := strings.IndexByte(rest, ' ')
		if j <= 0 {
			break // no receiver and type follow any more
		}
		kind, data, ok := cutType(rest[j+1:])
		if !ok {
			continue
		}
		m := Message{From: body[:i], To: rest[:j]}
		if err := m.decode(kind, data); err != nil {
			return Message{}, err
		}
		return m, nil
	}
	return Message{}, fmt.Errorf("%w: no type in %q", ErrMalformed, body)
}

// cutType splits "<type> <data>" for the types fakesmsc prints.
func cutType(s string) (kind, data string, ok bool) {
	for _, k := range []string{CodingText, CodingData, CodingUCS2, "udh"} {
		if strings.HasPrefix(s, k+" ") {
			return k, s[len(k)+1:], true
		}
	}
	return "", "", false
}

func (m *Message) decode(kind, data string) error {
	switch kind {
	case CodingText:
		m.Coding, m.Text, m.Payload = CodingText, data, []byte(data)
		return nil
	case CodingData:
		b, err := unescape(data)
		if err != nil {
			return err
		}
		m.Coding, m.Text, m.Payload = CodingData, string(b), b
		return nil
	case CodingUCS2:
		b, err := unescape(data)
		if err != nil {
			return err
		}
		if len(b)%2 != 0 {
			return fmt.Errorf("%w: odd UCS-2 length %d", ErrMalformed, len(b))
		}
		m.Coding, m.Text, m.Payload = CodingUCS2, decodeUTF16BE(b), b
		return nil
	}
	// "udh <udh> data <payload>"
	rawUDH, payload, ok := strings.Cut(data, " data ")
	if !ok {
		return fmt.Errorf("%w: udh without data in %q", ErrMalformed, data)
	}
	udh, err := unescape(rawUDH)
	if err != nil {
		return err
	}
	b, err := unescape(payload)
	if err != nil {
		return err
	}
	m.UDH, m.Payload = udh, b
	m.Ref, m.Part, m.Total = concatInfo(udh)
	m.Coding = guessCoding(b)
	m.Text = decodePayload(m.Coding, b)
	return nil
}

// unescape undoes Kannel's url encoding (%XX, '+' for a space).
func unescape(s string) ([]byte, error) {
	u, err := url.QueryUnescape(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return []byte(u), nil
}

// guessCoding infers the coding of a payload printed in the udh form.
func guessCoding(b []byte) string {
	if utf8.Valid(b) {
		printable := true
		for _, c := range b {
			if (c < 0x20 && c != '\n' && c != '\r') || c == 0x7f {
				printable = false
				break
			}
		}
		if printable {
			return CodingText
		}
	}
	if len(b)%2 == 0 {
		return CodingUCS2
	}
	return CodingData
}

func decodePayload(coding string, b []byte) string {
	if coding == CodingUCS2 {
		return decodeUTF16BE(b)
	}
	return string(b)
}

// decodeUTF16BE decodes big-endian UTF-16; an odd trailing octet is dropped.
func decodeUTF16BE(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
	}
	return string(utf16.Decode(u))
}

// concatInfo finds a concatenation element in a UDH (with its length
// octet): IEI 00 (8-bit reference) or 08 (16-bit reference). It returns
// zeros when there is none or the UDH is inconsistent.
func concatInfo(udh []byte) (ref, part, total int) {
	if len(udh) < 1 {
		return 0, 0, 0
	}
	end := 1 + int(udh[0])
	if end > len(udh) {
		return 0, 0, 0
	}
	for i := 1; i+1 < end; {
		iei, n := udh[i], int(udh[i+1])
		ie := udh[i+2:]
		if n > len(ie) || i+2+n > end {
			return 0, 0, 0
		}
		ie = ie[:n]
		switch {
		case iei == 0x00 && n == 3:
			return int(ie[0]), int(ie[2]), int(ie[1])
		case iei == 0x08 && n == 4:
			return int(ie[0])<<8 | int(ie[1]), int(ie[3]), int(ie[2])
		}
		i += 2 + n
	}
	return 0, 0, 0
}

// Assemble joins the parts of concatenated messages. Parts belong together
// when they have the same From, To, Ref and Total; their payloads are joined
// in Part order, the coding is inferred again from the whole payload (as in
// Message.Coding) and Text is decoded from it. The result has UDH nil,
// Part 0, and the Seq of the first part, and takes the place of the first
// part that arrived. Messages without concatenation information pass
// through unchanged, as do parts whose number is out of range; the parts
// of an incomplete group are returned unchanged, in Part order, at the
// place of the first one that arrived. A part number seen twice for
// the same key starts a new group (the 8-bit reference wraps around).
// The input is not modified.
func Assemble(msgs []Message) []Message {
	type key struct {
		from, to   string
		ref, total int
	}
	type group struct {
		parts map[int]Message
		pos   int // index of the first part in out
	}
	out := make([]Message, 0, len(msgs))
	keep := make([]bool, 0, len(msgs)) // out[i] is final (not a group slot)
	groups := []*group{}
	open := map[key]*group{}
	for _, m := range msgs {
		if m.Total < 2 || m.Part < 1 || m.Part > m.Total {
			out = append(out, m)
			keep = append(keep, true)
			continue
		}
		k := key{m.From, m.To, m.Ref, m.Total}
		g := open[k]
		if g != nil {
			if _, dup := g.parts[m.Part]; dup {
				g = nil
			}
		}
		if g == nil {
			g = &group{parts: map[int]Message{}, pos: len(out)}
			out = append(out, m)
			keep = append(keep, false)
			groups = append(groups, g)
			open[k] = g
		}
		g.parts[m.Part] = m
		if len(g.parts) == m.Total {
			delete(open, k)
		}
	}
	// Fill the slots: a complete group becomes one message, an incomplete
	// one expands into its parts.
	slot := map[int]*group{}
	for _, g := range groups {
		slot[g.pos] = g
	}
	result := make([]Message, 0, len(msgs))
	for i, m := range out {
		if keep[i] {
			result = append(result, m)
			continue
		}
		g := slot[i]
		total := m.Total
		if len(g.parts) == total {
			result = append(result, join(g.parts, total))
			continue
		}
		for p := 1; p <= total; p++ {
			if pm, ok := g.parts[p]; ok {
				result = append(result, pm)
			}
		}
	}
	return result
}

// join builds one message from all parts 1..total.
func join(parts map[int]Message, total int) Message {
	first := parts[1]
	var payload []byte
	seq := first.Seq
	for p := 1; p <= total; p++ {
		payload = append(payload, parts[p].Payload...)
		if parts[p].Seq < seq {
			seq = parts[p].Seq
		}
	}
	coding := guessCoding(payload)
	return Message{
		Seq:     seq,
		From:    first.From,
		To:      first.To,
		Coding:  coding,
		Text:    decodePayload(coding, payload),
		Payload: payload,
		Ref:     first.Ref,
		Total:   total,
	}
}

package sms

import (
	"fmt"

	"github.com/smsgateway/sms/internal/gsm"
)

// Encoding is how a text is carried over the air.
type Encoding int

// The encodings of an SMS.
const (
	// GSM7 is the GSM 03.38 7-bit default alphabet with its extension table.
	GSM7 Encoding = iota
	// UCS2 is 16-bit UCS-2 (UTF-16 in practice), for any other text.
	UCS2
)

// String returns "GSM-7" or "UCS-2".
func (e Encoding) String() string {
	switch e {
	case GSM7:
		return "GSM-7"
	case UCS2:
		return "UCS-2"
	}
	return fmt.Sprintf("Encoding(%d)", int(e))
}

// Part sizes, in septets (GSM7) or UTF-16 code units (UCS2). A text that
// fits in one SMS may use all of it; every part of a longer, concatenated
// text loses room to the user data header that links the parts.
const (
	gsmSingle = 160
	gsmMulti  = 153
	ucsSingle = 70
	ucsMulti  = 67
)

// limits returns the capacity of a single SMS and of each part of a
// concatenated one.
func (e Encoding) limits() (single, multi int) {
	if e == UCS2 {
		return ucsSingle, ucsMulti
	}
	return gsmSingle, gsmMulti
}

// TextInfo says how a text will be encoded and what it will cost.
type TextInfo struct {
	// Encoding is GSM7 when every character is in the GSM 03.38 basic or
	// extension table, UCS2 otherwise.
	Encoding Encoding
	// Units is the text's length in septets (GSM7, where a character of the
	// extension table counts two) or UTF-16 code units (UCS2, where a
	// character outside the Basic Multilingual Plane counts two).
	Units int
	// Parts is how many SMS the text takes; 0 for an empty text.
	Parts int
}

// Analyze returns the encoding, length and parts of text.
//
// The text is GSM7 when every character is in the GSM 03.38 default
// alphabet: the basic table (one septet each) or the extension table
// ("^{}\[~]|€" and form feed, two septets each: the escape and the
// character). Anything else, even one character, makes the whole text UCS2.
// The alphabet is the one of 3GPP TS 23.038: it has 'Ç' but not 'ç', and
// no national language shift tables are used.
//
// One SMS holds 160 septets or 70 UTF-16 units. A longer text is sent as
// concatenated parts of at most 153 septets or 67 units each, and the parts
// are counted by packing them as a gateway does: an extension character's
// two septets, or a surrogate pair's two units, are never split, so one that
// would straddle a boundary starts the next part, which can add a part.
// Parts are cut between code points, not grapheme clusters.
//
// An empty text is GSM7 with 0 Units and 0 Parts (the Client refuses it
// before any provider sees it). Invalid UTF-8 is read as Go reads it: each
// invalid byte is U+FFFD REPLACEMENT CHARACTER, which is not in the GSM
// alphabet, so the text is UCS2 and each such byte counts one unit.
//
// Analyze does not allocate and is safe for concurrent use.
func Analyze(text string) TextInfo {
	p := packer{limit: gsmMulti}
	for _, r := range text {
		c := gsm.Septets(r)
		if c == 0 {
			return analyzeUCS2(text)
		}
		p.add(c)
	}
	return p.info(GSM7)
}

// analyzeUCS2 counts and packs text as UTF-16 code units.
func analyzeUCS2(text string) TextInfo {
	p := packer{limit: ucsMulti}
	for _, r := range text {
		p.add(utf16Len(r))
	}
	return p.info(UCS2)
}

// utf16Len returns how many UTF-16 code units r takes: 2 outside the Basic
// Multilingual Plane, else 1 (a range over a string never yields a
// surrogate or an invalid rune; invalid bytes arrive as U+FFFD).
func utf16Len(r rune) int {
	if r >= 0x10000 {
		return 2
	}
	return 1
}

// packer fills parts of limit units greedily, never splitting a character.
type packer struct {
	limit int // capacity of one part of a concatenated text
	units int // units so far
	parts int // parts so far, when packed as a concatenated text
	fill  int // units in the last part
}

// add appends a character of c units and reports whether it starts a new
// part.
func (p *packer) add(c int) bool {
	p.units += c
	if p.parts == 0 || p.fill+c > p.limit {
		p.parts++
		p.fill = c
		return true
	}
	p.fill += c
	return false
}

// info returns what p counted, as text of encoding e.
func (p *packer) info(e Encoding) TextInfo {
	single, _ := e.limits()
	info := TextInfo{Encoding: e, Units: p.units, Parts: p.parts}
	if p.units <= single {
		info.Parts = min(p.parts, 1)
	}
	return info
}

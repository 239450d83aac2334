package sms

import "github.com/smsgateway/sms/internal/gsm"

// Split returns the parts text is sent as, in order, under the rules of
// Analyze: one string for a text that fits in one SMS, none for an empty
// text. The parts are substrings of text, cut between characters, and
// concatenate to it; len(Split(text)) == Analyze(text).Parts. Invalid UTF-8
// stays in the parts as it was. It is for the tests only: it shows them the
// packing that Analyze counts.
func Split(text string) []string {
	info := Analyze(text)
	switch info.Parts {
	case 0:
		return nil
	case 1:
		return []string{text}
	}
	_, multi := info.Encoding.limits()
	p := packer{limit: multi}
	parts := make([]string, 0, info.Parts)
	start := 0
	for i, r := range text {
		if p.add(info.Encoding.cost(r)) && i > 0 {
			parts = append(parts, text[start:i])
			start = i
		}
	}
	return append(parts, text[start:])
}

// cost returns the units r takes in encoding e: its septets in GSM7 (0 when
// it is not in the alphabet) or its UTF-16 code units in UCS2.
func (e Encoding) cost(r rune) int {
	if e == GSM7 {
		return gsm.Septets(r)
	}
	return utf16Len(r)
}

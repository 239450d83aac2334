package sms

// Encoding is how a text is carried over the air.
type Encoding int

// The encodings of an SMS.
const (
	// GSM7 is the GSM 03.38 7-bit default alphabet with its extension table.
	GSM7 Encoding = iota
	// UCS2 is 16-bit UCS-2 (UTF-16 in practice), for any other text.
	UCS2
)

// TextInfo says how a text will be encoded and what it will cost.
type TextInfo struct {
	Encoding Encoding
	// Units is the text's length in septets (GSM7) or UTF-16 code units
	// (UCS2).
	Units int
	// Parts is how many SMS the text takes.
	Parts int
}

// Analyze returns the encoding, length and parts of text.
// TODO(text analysis): placeholder until the exact GSM 03.38 version lands.
func Analyze(text string) TextInfo {
	n := 0
	for range text {
		n++
	}
	for _, r := range text {
		if r > 127 {
			return TextInfo{Encoding: UCS2, Units: n, Parts: parts(n, 70, 67)}
		}
	}
	return TextInfo{Encoding: GSM7, Units: n, Parts: parts(n, 160, 153)}
}

func parts(n, single, multi int) int {
	if n <= single {
		return 1
	}
	return (n + multi - 1) / multi
}

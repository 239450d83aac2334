// Package gsm holds the GSM 7-bit default alphabet of 3GPP TS 23.038
// (formerly GSM 03.38): its basic table and its extension table.
//
// The tables follow the standard, not the older Unicode mapping file
// GSM0338.TXT where the two differ: code 0x09 is 'Ç' (capital C with
// cedilla; 'ç' is not in the alphabet), and 0x1B is the escape to the
// extension table, not U+00A0 NO-BREAK SPACE. National language shift
// tables are not supported.
package gsm

// Escape is the basic-table code that selects the extension table for the
// next septet.
const Escape = 0x1B

// Basic is the basic table: Basic[code] is the character of a 7-bit code.
// Basic[Escape] is 0, since that code is the escape and no character.
// Callers must not modify it.
var Basic = [128]rune{
	'@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å',
	'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', 0, 'Æ', 'æ', 'ß', 'É',
	' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/',
	'0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?',
	'¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O',
	'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§',
	'¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o',
	'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à',
}

// Extension is the extension table: the code that follows Escape, and the
// character it stands for. Each of these characters costs two septets.
// Callers must not modify it.
var Extension = map[byte]rune{
	0x0A: '\f',
	0x14: '^',
	0x28: '{',
	0x29: '}',
	0x2F: '\\',
	0x3C: '[',
	0x3D: '~',
	0x3E: ']',
	0x40: '|',
	0x65: '€',
}

// cost holds the septets of every rune below U+0100: 1 (basic), 2
// (extension) or 0 (not in the alphabet). Built once from the tables above.
var cost = buildCost()

func buildCost() (c [0x100]uint8) {
	for code, r := range Basic {
		if code != Escape && r < 0x100 {
			c[r] = 1
		}
	}
	for _, r := range Extension {
		if r < 0x100 {
			c[r] = 2
		}
	}
	return c
}

// Septets returns how many septets r takes in the default alphabet: 1 for a
// character of the basic table, 2 for one of the extension table (the escape
// and the character), and 0 for a rune the alphabet cannot carry.
func Septets(r rune) int {
	if uint32(r) < 0x100 {
		return int(cost[r])
	}
	return septetsAbove(r) // kept apart so that Septets inlines
}

// septetsAbove is Septets for runes outside Latin-1.
func septetsAbove(r rune) int {
	switch r {
	case 'Δ', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ':
		return 1
	case '€':
		return 2
	}
	return 0
}

// Package mask hides most of a phone number for logs and error texts.
package mask

// Number returns number with every character but a leading '+', the first
// two and the last two replaced by '*', so "+79161234567" becomes
// "+79*******67". Numbers of five characters or fewer keep only the last one.
func Number(number string) string {
	b := []byte(number)
	start := 0
	if len(b) > 0 && b[0] == '+' {
		start = 1
	}
	keepHead, keepTail := 2, 2
	if len(b)-start <= 5 {
		keepHead, keepTail = 0, 1
	}
	for i := start + keepHead; i < len(b)-keepTail; i++ {
		b[i] = '*'
	}
	return string(b)
}

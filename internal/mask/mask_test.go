package mask

import (
	"strings"
	"testing"
)

func TestNumber(t *testing.T) {
	tests := []struct{ in, want string }{
		{"+79161234567", "+79*******67"},
		{"88005553535", "88*******35"},
		{"12345", "****5"},
		{"+12345", "+****5"},
		{"", ""},
		{"+", "+"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := Number(tt.in); got != tt.want {
				t.Errorf("Number(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func FuzzNumber(f *testing.F) {
	f.Add("+79161234567")
	f.Add("123")
	f.Fuzz(func(t *testing.T, s string) {
		got := Number(s)
		if len(got) != len(s) {
			t.Fatalf("length changed: %q -> %q", s, got)
		}
		if len(s) > 5 && strings.Count(got, "*") < len(s)-5 {
			t.Fatalf("too little masked: %q -> %q", s, got)
		}
	})
}

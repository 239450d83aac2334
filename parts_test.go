package sms

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestResultsCarryEncodingAndParts(t *testing.T) {
	c, _ := newTestClient(t, &fakeProvider{})
	res, err := c.Send(context.Background(), Message{To: testNumber, Text: strings.Repeat("a", 161)})
	require.NoError(t, err)
	assert.Equal(t, GSM7, res.Encoding)
	assert.Equal(t, 2, res.Parts)

	rep, err := c.Mailing(context.Background(), Mailing{Text: "Привет", To: append(numbers(3), "bad")})
	require.Error(t, err)
	for _, r := range rep.Results {
		assert.Equal(t, UCS2, r.Encoding)
		assert.Equal(t, 1, r.Parts)
	}
	assert.Equal(t, 3, rep.Parts, "the cost counts sent messages only")
	assert.Equal(t, TextInfo{Encoding: UCS2, Units: 6, Parts: 1}, rep.Text)

	rep, err = c.Mailing(context.Background(), Mailing{Text: strings.Repeat("ж", 71), To: numbers(4)})
	require.NoError(t, err)
	assert.Equal(t, 8, rep.Parts)
}

func TestMaxParts(t *testing.T) {
	fp := &fakeProvider{}
	c, _ := newTestClient(t, fp, WithMaxParts(2))
	_, err := c.Send(context.Background(), Message{To: testNumber, Text: strings.Repeat("a", 306)})
	require.NoError(t, err, "two parts are allowed")
	res, err := c.Send(context.Background(), Message{To: testNumber, Text: strings.Repeat("a", 307)})
	assert.ErrorIs(t, err, ErrTooManyParts)
	assert.ErrorIs(t, err, ErrInvalid)
	assert.Equal(t, StatusSkipped, res.Status)
	assert.Equal(t, 3, res.Parts)

	rep, err := c.Mailing(context.Background(), Mailing{Text: strings.Repeat("ж", 135), To: numbers(5)})
	assert.ErrorIs(t, err, ErrTooManyParts)
	assert.Equal(t, 5, rep.Skipped)
	assert.Equal(t, 1, fp.callCount(), "nothing over the limit reached the provider")

	_, err = New(fp, WithMaxParts(-1))
	assert.Error(t, err)
}

func TestLimitPerPart(t *testing.T) {
	for _, perPart := range []bool{false, true} {
		lim := &countingLimiter{}
		opts := []Option{WithLimiter(lim)}
		want := 2 * 1
		if perPart {
			opts = append(opts, WithLimitPerPart())
			want = 2 * 3
		}
		c, _ := newTestClient(t, &fakeProvider{}, opts...)
		rep, err := c.Mailing(context.Background(), Mailing{Text: strings.Repeat("a", 307), To: numbers(2)})
		require.NoError(t, err)
		assert.Equal(t, 6, rep.Parts)
		assert.Equal(t, want, lim.n, "per part: %v", perPart)
	}
}

package prismtest

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// Lines as Prism 5.16 writes them.
func TestViolations(t *testing.T) {
	valid := `[10:07:29 AM] › [HTTP SERVER] post /json ℹ  info      Request received
[10:07:29 AM] ›     [NEGOTIATOR] ℹ  info      Request contains an accept header: */*
[10:07:29 AM] ›     [VALIDATOR] ✔  success   The request passed the validation rules. Looking for the best response
[10:07:29 AM] ›     [NEGOTIATOR] ✔  success   Responding with the requested status code 200
[10:07:29 AM] ›     [VALIDATOR] ✖  error     Violation: response.body Response body must match exactly one schema in oneOf
`
	assert.Empty(t, Violations(valid), "a valid request; Prism's own answer is not the request's fault")

	invalid := `[10:07:29 AM] › [HTTP SERVER] post /2010-04-01/Accounts/AC1/Messages.json ℹ  info      Request received
[10:07:29 AM] ›     [VALIDATOR] ⚠  warning   Request did not pass the validation rules
[10:07:29 AM] ›     [VALIDATOR] ✖  error     Request body must have required property 'To'
[10:07:29 AM] › [HTTP SERVER] post /2010-04-01/Accounts/AC1/Messages.json ✖  error     Request terminated with error: https://stoplight.io/prism/errors#UNPROCESSABLE_ENTITY: Invalid request
`
	v := Violations(invalid)
	assert.Len(t, v, 3)
	assert.Contains(t, v[1], "required property 'To'")
}

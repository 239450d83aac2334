package httpquery

import "net/url"

// Kannel returns the Config for Kannel's sendsms interface (smsbox), such as
// "http://127.0.0.1:13013/cgi-bin/sendsms", with a sendsms-user's username
// and password (the password is secret).
//
// Kannel 1.4 answers (all verified against a real Kannel):
//
//	202 "0: Accepted for delivery"          accepted (no message ID)
//	202 "3: Queued for later delivery"      accepted (SMSC down; sent later)
//	403 "Authorization failed for sendsms"  fatal
//	403 "Not routable. Do not try again."   rejected
//	400 "... rejected" / "...denied..."     rejected
//	503 "Temporal failure, try again later." temporary (queue full)
//
// Texts that need UCS-2 are sent with coding=2&charset=UTF-8; without both
// Kannel would replace them with '?' or garble them. Keep Method GET: Kannel
// answers a form POST with 400 "Invalid content-type".
func Kannel(sendsmsURL, username, password string) Config {
	return Config{
		URL:          sendsmsURL,
		ToParam:      "to",
		TextParam:    "text",
		FromParam:    "from",
		Params:       url.Values{"username": {username}, "password": {password}},
		UCS2Params:   url.Values{"coding": {"2"}, "charset": {"UTF-8"}},
		SecretParams: []string{"password"},
		Outcomes: Outcomes{
			Rules: []Rule{
				{Status: "2xx", Body: `^0: Accepted`, Outcome: Accepted},
				{Status: "2xx", Body: `^3: Queued`, Outcome: Accepted},
				{Status: "403", Body: `Not routable`, Outcome: Rejected},
				{Status: "403", Body: `Authorization failed`, Outcome: Fatal},
				{Status: "4xx", Body: `rejected|denied`, Outcome: Rejected},
				{Status: "503", Body: `Temporal failure`, Outcome: Temporary},
			},
		},
	}
}

// Jasmin returns the Config for Jasmin's HTTP API "/send" (such as
// "http://127.0.0.1:1401/send") with a Jasmin user's credentials.
//
// Jasmin answers:
//
//	200 Success "<id>"                          accepted, with that ID
//	403 Error "User throughput exceeded"         throttled
//	403 Error "Authentication failure for ..."   fatal
//	403 Error "Authorization failed for ..."     fatal
//	403 Error "Cannot charge submit_sm ..."      fatal (no balance)
//	400 Error "..." / 412 Error "No route found" rejected
//	500 Error "Cannot send submit_sm ..."        ambiguous (default for 500)
//
// Texts that need UCS-2 are sent as UTF-16BE bytes with coding=8, as
// Jasmin expects.
func Jasmin(sendURL, username, password string) Config {
	return Config{
		URL:          sendURL,
		ToParam:      "to",
		TextParam:    "content",
		FromParam:    "from",
		Params:       url.Values{"username": {username}, "password": {password}},
		UCS2Params:   url.Values{"coding": {"8"}},
		UCS2Text:     "utf-16be",
		SecretParams: []string{"password"},
		Outcomes: Outcomes{
			Rules: []Rule{
				{Status: "2xx", Body: `^Success "`, Outcome: Accepted},
				{Status: "403", Body: `throughput exceeded`, Outcome: Throttled},
				{Status: "403", Body: `Authentication failure|Authorization failed|Cannot charge`, Outcome: Fatal},
				{Status: "400", Body: `^Error`, Outcome: Rejected},
				{Status: "412", Outcome: Rejected},
				// A 2xx that is not Success is not an acceptance we know.
				{Status: "2xx", Outcome: Ambiguous},
			},
			MessageID: `^Success "([^"]+)"`,
		},
	}
}

// SMSRuURL is SMS.ru's sending endpoint.
const SMSRuURL = "https://sms.ru/sms/send"

// SMSRu returns the Config for SMS.ru's HTTP API with an account's api_id
// (secret). Numbers are sent without '+', and the answer is read as JSON
// (json=1): the per-number status_code (falling back to the top-level one)
// decides, and sms_id is the message ID:
//
//	100                 accepted
//	200, 201            fatal (wrong api_id; no money)
//	206                 fatal (daily sending limit of the account)
//	210, 211            fatal (wrong method or endpoint)
//	300, 301, 302       fatal (token, credentials, unconfirmed account)
//	202, 203, 204, 205, rejected (bad number, no text, sender not approved,
//	207, 208, 209, 212,  too long, no route, bad time, stop-listed, not
//	213, 230, 232        UTF-8, too many numbers, per-number daily limits)
//	220, 500            temporary ("service unavailable, try later"; "server
//	                    error, repeat the request")
//	231, 233            throttled, for this number only (the same text to it
//	                    too often; sms.Error.PerRecipient)
//	anything else       ambiguous
func SMSRu(apiID string) Config {
	return Config{
		URL:          SMSRuURL,
		ToParam:      "to",
		TextParam:    "msg",
		FromParam:    "from",
		StripPlus:    true,
		Params:       url.Values{"api_id": {apiID}, "json": {"1"}},
		SecretParams: []string{"api_id"},
		Outcomes: Outcomes{
			CodePaths: []string{"sms.{to}.status_code", "status_code"},
			Codes: map[string]Outcome{
				"100": Accepted,
				"200": Fatal, "201": Fatal, "206": Fatal, "210": Fatal, "211": Fatal,
				"300": Fatal, "301": Fatal, "302": Fatal,
				"202": Rejected, "203": Rejected, "204": Rejected, "205": Rejected,
				"207": Rejected, "208": Rejected, "209": Rejected, "212": Rejected,
				"213": Rejected, "230": Rejected, "232": Rejected,
				"220": Temporary, "500": Temporary,
				"231": Throttled, "233": Throttled,
			},
			PerRecipient:  []string{"231", "233"},
			MessageIDPath: "sms.{to}.sms_id",
		},
	}
}

// Original returns the Config of the original service's vendors: a GET to
// vendorURL with the text and then the number, both as "q" (for example
// "https://www.google.com/?q=Hello&q=88005553535"), classified by HTTP
// status alone.
func Original(vendorURL string) Config {
	return Config{URL: vendorURL, ToParam: "q", TextParam: "q"}
}

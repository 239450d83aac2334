package httpquery

import (
	"net/url"
	"strings"

	"github.com/smsgateway/sms"
)

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
//
// Delivery reports: a message with a ReportURL is sent with dlr-mask=31 and
// dlr-url=REPORT_URL&type=%d&fid=%F&ts=%T&reply=%A (each '%' of the report
// URL doubled, since Kannel expands %-escapes in it). Kannel then calls
// back with a GET for each of these events, in any order:
//
//	type  Kannel's meaning              sms.DeliveryStatus
//	1     delivered to the phone        delivered
//	2     not delivered to the phone    undelivered
//	4     queued on the SMSC            buffered
//	8     delivered to the SMSC         accepted
//	16    not delivered to the SMSC     rejected
//
// Code is the type, GatewayID the SMSC's message ID (%F, empty in a type 8
// report), Text the SMSC's reply (%A: "ACK/" for type 8, or an SMPP
// receipt such as "id:... stat:DELIVRD err:000"), At the time (%T, Unix
// seconds). Kannel reports an expired message as type 2 (undelivered); the
// SMSC's words are in Text. The report URL's own query must not use the
// names type, fid, ts or reply. Kannel counts only 200 and 202 as received,
// and fetches a failed callback again only when its smsbox group sets
// http-request-retry (and http-queue-delay).
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
		Delivery: &Delivery{
			Params: url.Values{
				"dlr-mask": {"31"},
				"dlr-url":  {ReportURLVar + "&type=%d&fid=%F&ts=%T&reply=%A"},
			},
			EscapePercent: true,
			Sources:       []string{SourceQuery},
			StatusField:   "type",
			Statuses: map[string]sms.DeliveryStatus{
				"1":  sms.DeliveryDelivered,
				"2":  sms.DeliveryUndelivered,
				"4":  sms.DeliveryBuffered,
				"8":  sms.DeliveryAccepted,
				"16": sms.DeliveryRejected,
			},
			IDField:    "fid",
			TextField:  "reply",
			TimeField:  "ts",
			TimeLayout: "unix",
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
//
// Delivery reports: a message with a ReportURL is sent with dlr=yes,
// dlr-url=REPORT_URL, dlr-level=3 (the SMSC's answer and the phone's) and
// dlr-method=POST (with GET, Jasmin appends "?" and its fields to a URL
// that has a query already, which breaks it). Jasmin then posts a form with
// id (its message ID, as Send returned it: GatewayID), message_status, err
// (Code, when not empty) and donedate (YYMMDDhhmm, read as UTC: At):
//
//	message_status                    sms.DeliveryStatus
//	ESME_ROK (level 1: SMSC took it)  accepted
//	ACCEPTD, ENROUTE                  accepted
//	DELIVRD                           delivered
//	UNDELIV, DELETED                  undelivered
//	EXPIRED                           expired
//	REJECTD                           rejected
//	UNKNOWN                           unknown
//	ESME_RINVDSTADR and other refusals of the submit (level 1; see
//	jasminStatuses)                   rejected
//
// Other ESME_* codes are not in the table, and such a callback is refused
// (ErrReportStatus). Jasmin wants the body "ACK/Jasmin" in the answer
// (Delivery.Ack, Provider.DeliveryAck) and, without it, sends the report
// again (3 times by default, 30 s apart).
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
		Delivery: &Delivery{
			Params: url.Values{
				"dlr":        {"yes"},
				"dlr-url":    {ReportURLVar},
				"dlr-level":  {"3"},
				"dlr-method": {"POST"},
			},
			Sources:     []string{SourceForm},
			StatusField: "message_status",
			Statuses:    jasminStatuses(),
			IDField:     "id",
			CodeField:   "err",
			TimeField:   "donedate",
			TimeLayout:  "0601021504",
			Ack:         "ACK/Jasmin",
		},
	}
}

// jasminStatuses maps Jasmin's message_status: the SMPP receipt's stat at
// levels 2 and 3, the submit_sm_resp's command status at level 1. Of the
// level-1 errors, only those that refuse this message for good are listed
// (as rejected); a throttle or a full queue, which Jasmin may retry, is not.
func jasminStatuses() map[string]sms.DeliveryStatus {
	st := map[string]sms.DeliveryStatus{
		"ESME_ROK": sms.DeliveryAccepted,
		"ACCEPTD":  sms.DeliveryAccepted,
		"ENROUTE":  sms.DeliveryAccepted,
		"DELIVRD":  sms.DeliveryDelivered,
		"UNDELIV":  sms.DeliveryUndelivered,
		"DELETED":  sms.DeliveryUndelivered,
		"EXPIRED":  sms.DeliveryExpired,
		"REJECTD":  sms.DeliveryRejected,
		"UNKNOWN":  sms.DeliveryUnknown,
	}
	for _, refusal := range []string{
		"ESME_RINVMSGLEN", "ESME_RINVSRCADR", "ESME_RINVDSTADR", "ESME_RINVNUMDESTS",
		"ESME_RINVSRCTON", "ESME_RINVSRCNPI", "ESME_RINVDSTTON", "ESME_RINVDSTNPI",
		"ESME_RINVESMCLASS", "ESME_RINVDLNAME", "ESME_RINVDESTFLAG",
	} {
		st[refusal] = sms.DeliveryRejected
	}
	return st
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
//
// No delivery reports: SMS.ru takes no report URL with a message (its
// callbacks are set once per account, for every message), so the preset
// has no Delivery and a message's ReportURL is not sent.
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
// status alone. The vendors take no report URL: no Delivery.
func Original(vendorURL string) Config {
	return Config{URL: vendorURL, ToParam: "q", TextParam: "q"}
}

// TwilioAPI is the base URL of Twilio's REST API.
const TwilioAPI = "https://api.twilio.com"

// TwilioURL returns the Messages endpoint of an account under a base URL
// such as TwilioAPI: base + "/2010-04-01/Accounts/{AccountSid}/Messages.json".
func TwilioURL(base, accountSID string) string {
	return strings.TrimSuffix(base, "/") + "/2010-04-01/Accounts/" + url.PathEscape(accountSID) + "/Messages.json"
}

// Twilio returns the Config for Twilio's Programmable Messaging API
// (REST API 2010-04-01, "create a Message"): a form POST of To, From and
// Body to TwilioURL(TwilioAPI, accountSID), with HTTP basic authentication
// by the Account SID and its auth token (secret; an API key's SID and
// secret work the same way, with the account's SID still in the URL). A
// message's From is sent as From; to send through a Messaging Service
// instead, add its SID to Params as MessagingServiceSid. Twilio picks the
// encoding itself, so UCS-2 texts need no parameter.
//
// A created message (201) is accepted, with its "sid" as the message ID.
// A failure is a JSON body with Twilio's error "code", which decides where
// listed here; other codes are classified by the HTTP status (400 rejected,
// 401 and 403 fatal, 429 throttled, 503 temporary, 500 ambiguous: see the
// package doc):
//
//	21211 21214 21217 21265 21266  rejected: the To number is invalid, not
//	21401 21407 21408 21421 21604  reachable or not allowed (short code,
//	21608 21610 21612 21614 21635  landline, the sender itself, a region not
//	                               enabled, unverified on a trial account,
//	                               unsubscribed)
//	21212 21602 21603 21606 21617  rejected: this message's sender or text
//	21619 21659 21660              (invalid From, no body, too long)
//	20003 20005 20008 10001 30002  fatal: authentication failed, account not
//	                               active or suspended, test credentials
//	20404                          fatal: no such account (wrong URL)
//	21609                          fatal: invalid StatusCallback (the
//	                               report URL, the same for every message)
//	20429 21611                    throttled (too many requests; the From
//	                               number's queue is full)
//	20503                          temporary: service unavailable, not created
//	20500                          ambiguous: an internal error may come after
//	                               the message was created
//
// Delivery reports: a message with a ReportURL is sent with it as
// StatusCallback, and Twilio posts a form to it at each change of the
// message's status, signed with the auth token in X-Twilio-Signature
// (Delivery.Signature; an API key's secret does not sign callbacks, so
// with an API key as Username and Password set Delivery.SignatureKey to
// the account's auth token). A callback without a valid signature is
// refused. MessageSid is GatewayID, ErrorCode is Code when present, and
// RawDlrDoneDate (YYMMDDhhmm, sent with delivered and undelivered SMS;
// read as UTC) is At:
//
//	MessageStatus                              sms.DeliveryStatus
//	queued, accepted, scheduled, sending, sent accepted
//	delivered, read                            delivered
//	undelivered                                undelivered
//	failed                                     rejected
//	canceled                                   rejected
//
// Twilio's "failed" means the message was never sent to the carrier
// (queue overflow, account suspended, ...), "undelivered" that the carrier
// reported it not delivered; hence rejected and undelivered. "canceled"
// (a scheduled message cancelled) is never sent either. Other statuses,
// such as partially_delivered, are refused (ErrReportStatus).
func Twilio(accountSID, authToken string) Config {
	return Config{
		URL:       TwilioURL(TwilioAPI, accountSID),
		Method:    "POST",
		ToParam:   "To",
		TextParam: "Body",
		FromParam: "From",
		Username:  accountSID,
		Password:  authToken,
		Outcomes: Outcomes{
			CodePaths:           []string{"code"},
			Codes:               twilioCodes(),
			UnknownCodeByStatus: true,
			MessageIDPath:       "sid",
		},
		Delivery: &Delivery{
			Params:      url.Values{"StatusCallback": {ReportURLVar}},
			Sources:     []string{SourceForm},
			StatusField: "MessageStatus",
			Statuses: map[string]sms.DeliveryStatus{
				"queued":      sms.DeliveryAccepted,
				"accepted":    sms.DeliveryAccepted,
				"scheduled":   sms.DeliveryAccepted,
				"sending":     sms.DeliveryAccepted,
				"sent":        sms.DeliveryAccepted,
				"delivered":   sms.DeliveryDelivered,
				"read":        sms.DeliveryDelivered,
				"undelivered": sms.DeliveryUndelivered,
				"failed":      sms.DeliveryRejected,
				"canceled":    sms.DeliveryRejected,
			},
			IDField:    "MessageSid",
			CodeField:  "ErrorCode",
			TimeField:  "RawDlrDoneDate",
			TimeLayout: "0601021504",
			Signature:  SignatureTwilio,
		},
	}
}

func twilioCodes() map[string]Outcome {
	codes := map[string]Outcome{}
	for out, list := range map[Outcome][]string{
		Rejected: {
			"21211", "21214", "21217", "21265", "21266", "21401", "21407", "21408", "21421",
			"21604", "21608", "21610", "21612", "21614", "21635",
			"21212", "21602", "21603", "21606", "21617", "21619", "21659", "21660",
		},
		Fatal:     {"20003", "20005", "20008", "10001", "30002", "20404", "21609"},
		Throttled: {"20429", "21611"},
		Temporary: {"20503"},
		Ambiguous: {"20500"},
	} {
		for _, c := range list {
			codes[c] = out
		}
	}
	return codes
}

// VonageURL is the JSON endpoint of Vonage's (Nexmo's) SMS API.
const VonageURL = "https://rest.nexmo.com/sms/json"

// Vonage returns the Config for Vonage's SMS API: a form POST of api_key,
// api_secret (secret), from, to and text to VonageURL. Numbers are sent
// without '+', and texts that need UCS-2 with type=unicode. Vonage
// answers 200 whether or not it accepted the message: the outcome is the
// "status" of each entry of "messages" (one per part of a long message),
// and the first entry's "message-id" is the message ID:
//
//	0                     accepted
//	1                     throttled (faster than the account's limit)
//	10                    throttled (too many simultaneous connections)
//	4, 8, 9               fatal (invalid credentials, account barred,
//	                      no credit)
//	11, 14, 32            fatal (account not enabled for this API, bad
//	                      signature, signature and secret both sent)
//	23                    fatal (invalid callback URL: the report URL,
//	                      the same for every message)
//	2, 3, 6, 7, 12, 15,   rejected (missing or invalid parameter, invalid
//	22, 29, 33            message or number prefix, number barred, too
//	                      long, invalid sender, invalid network code,
//	                      destination not whitelisted on a trial account,
//	                      number de-activated)
//	5                     ambiguous (internal error "whilst processing
//	                      this message": it may have gone out)
//	anything else         ambiguous, as is a 2xx without a status
//
// When some parts are accepted and others not, the outcome is ambiguous:
// the parts accepted are on their way, and sending the message again would
// repeat them.
//
// Delivery reports: a message with a ReportURL is sent with it as
// callback, and Vonage sends its delivery receipts there as a GET query, a
// form POST or a JSON POST (as the account is set up; all three are read).
// messageId is GatewayID, err-code is Code, message-timestamp
// ("2006-01-02 15:04:05", UTC) is At:
//
//	status                      sms.DeliveryStatus
//	accepted                    accepted
//	buffered                    buffered
//	delivered                   delivered
//	failed                      undelivered
//	expired                     expired
//	rejected                    rejected
//	unknown                     unknown
//
// Vonage's signed callbacks (sig, with the account's signature secret) are
// not checked: the report URL's token authenticates them. A long message
// gets one receipt per part, each with its part's messageId.
func Vonage(apiKey, apiSecret string) Config {
	return Config{
		URL:          VonageURL,
		Method:       "POST",
		ToParam:      "to",
		TextParam:    "text",
		FromParam:    "from",
		StripPlus:    true,
		Params:       url.Values{"api_key": {apiKey}, "api_secret": {apiSecret}},
		UCS2Params:   url.Values{"type": {"unicode"}},
		SecretParams: []string{"api_secret"},
		Outcomes: Outcomes{
			CodePaths: []string{"messages.*.status"},
			Codes: map[string]Outcome{
				"0": Accepted,
				"1": Throttled, "10": Throttled,
				"4": Fatal, "8": Fatal, "9": Fatal, "11": Fatal, "14": Fatal, "23": Fatal, "32": Fatal,
				"2": Rejected, "3": Rejected, "6": Rejected, "7": Rejected, "12": Rejected,
				"15": Rejected, "22": Rejected, "29": Rejected, "33": Rejected,
				"5": Ambiguous,
			},
			// An answer without a status says nothing about the message.
			Status:        map[string]Outcome{"2xx": Ambiguous},
			MessageIDPath: "messages.*.message-id",
		},
		Delivery: &Delivery{
			Params:      url.Values{"callback": {ReportURLVar}},
			StatusField: "status",
			Statuses: map[string]sms.DeliveryStatus{
				"accepted":  sms.DeliveryAccepted,
				"buffered":  sms.DeliveryBuffered,
				"delivered": sms.DeliveryDelivered,
				"failed":    sms.DeliveryUndelivered,
				"expired":   sms.DeliveryExpired,
				"rejected":  sms.DeliveryRejected,
				"unknown":   sms.DeliveryUnknown,
			},
			IDField:    "messageId",
			CodeField:  "err-code",
			TimeField:  "message-timestamp",
			TimeLayout: "2006-01-02 15:04:05",
		},
	}
}

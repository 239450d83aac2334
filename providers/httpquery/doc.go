// Package httpquery is an sms.Provider for any gateway whose API is "a URL
// plus query or form parameters": Kannel, Jasmin, SMS.ru, Twilio, Vonage,
// and the vendors of the original SMS-Gateway service.
//
//	p, err := httpquery.New(httpquery.Kannel("http://127.0.0.1:13013/cgi-bin/sendsms", "tester", "foobar"))
//	...
//	c, err := sms.New(p)
//	defer c.Close() // closes p too
//
// A *Provider is safe for concurrent use by multiple goroutines; close it
// (or the sms.Client over it) to release its idle connections.
//
// # Configuration
//
// A Config is plain data with JSON tags, so it can be read from a file; its
// zero values mean documented defaults, and presets (below) fill it for
// known gateways. One Send is one request: GET with the parameters in the
// query string (the default), or POST with them in a form body
// (Config.Method). The request carries the static Params (credentials and
// the like), the text under TextParam, the number under ToParam and the
// sender under FromParam, in that order; when ToParam and TextParam are the
// same name, as with the original service's vendors ("?q=TEXT&q=NUMBER"),
// both values are sent, text first. When sms.Analyze says the text needs
// UCS-2, UCS2Params are added (Kannel: coding=2&charset=UTF-8). Static
// Headers and basic authentication (Username, Password) are supported.
// Everything is encoded with net/url, so a text such as "hi&to=+1999"
// arrives as that text and cannot add a recipient or change a parameter.
//
// # Outcomes
//
// An answer is classified as Kannel's generic HTTP SMSC does it, by what
// Config.Outcomes says, tried in order: Rules (an HTTP status or class plus
// a regular expression on the body), then a vendor code at a JSON path
// mapped through Codes, then per-status overrides, then this default table:
//
//	2xx                      accepted
//	429                      throttled, with Retry-After (seconds or date)
//	401, 403, 405, 407       fatal: credentials or configuration
//	408                      temporary
//	other 4xx (400, 404...)  rejected
//	503                      temporary, with Retry-After when present
//	501, 505                 fatal
//	3xx                      fatal: redirects are not followed
//	500, 502, 504, other 5xx ambiguous: it may have been handled
//
// A request that got no answer is temporary when it provably never reached
// the gateway (connection refused, DNS failure, failed TLS handshake, dial
// timeout: no connection was ever established), and ambiguous otherwise (a
// timeout or reset after the connection was made, or an answer broken off).
// Failures are *sms.Error values: Kind, Code (the HTTP status as text, or the
// vendor's code), RetryAfter, PerRecipient (for a throttle whose code is
// listed in Outcomes.PerRecipient: the limit is about this number alone), and
// as cause a *ResponseError (status, code, the start of the body) or a
// *RequestError (the network error). The
// gateway's message ID comes from Outcomes.MessageID (a regular expression
// with a capture group) or Outcomes.MessageIDPath (a JSON path). The Receipt
// carries StatusCode and the redacted URL on failure too.
//
// # Retries and the bound on requests
//
// The HTTP engine is go-retryablehttp with every default that could send a
// text twice or leak a secret replaced:
//
//   - CheckRetry: instead of retrying timeouts, resets and every 5xx, only a
//     request that never got a connection is repeated (the Transport reports
//     a connection through httptrace before it writes a byte). A rejected
//     certificate is not repeated.
//   - Backoff: capped (16 × DialRetryWait) and jittered, where the default
//     honours Retry-After without a cap; answers are never retried here, so
//     Retry-After goes to the sms.Client, which caps it.
//   - Logger: none (its default prints whole URLs to stderr); Config.Logger
//     gets redacted lines instead.
//   - ErrorHandler: the last error is kept and classified, where the default
//     drops it for a text that quotes the URL.
//
// So one Send makes at most 1 + Config.DialRetries HTTP requests (3 by
// default), and more than one only when the earlier ones never connected.
// net/http's own silent resend of a GET over a reused connection, after the
// request was written, is switched off as well: each GET carries an empty
// body without GetBody, which net/http does not replay and, with the
// "identity" transfer encoding, sends as no body at all.
// Redirects are not followed. Message-level retries (of
// temporary and throttled outcomes) belong to the sms.Client.
//
// go-retryablehttp closes the idle connections of the pool after every
// failed request; the provider hides that call from it, so that one failure
// in a mailing does not make every worker reconnect.
//
// # Secrets and privacy
//
// Credentials never appear in an error, a log line, a Receipt or a panic.
// Secret values are those of parameters named in Config.SecretParams or
// whose names contain password, pass, pwd, token, key, secret, api_id, apiid
// or auth; the basic-auth password; the URL's user-info password; and every
// header value. Each is masked in every form the provider puts on the wire:
// raw, URL-encoded, and for basic authentication (Username and Password, or
// the URL's user info) the Authorization header's value and the base64 of
// "user:password" in it; for an Authorization header of the Config, also
// the credentials after its scheme ("Bearer TOKEN"). Receipt.URL is the request URL with secret parameters shown
// as REDACTED. Put credentials in Params or Headers, not in the URL path,
// which is not redacted.
//
// Nor does a message's number or text appear in an error or a log line,
// since errors are logged (by the sms.Client too). The *url.Error of
// net/http, which quotes the full URL, is replaced by a *RequestError with
// the URL without its query; the body excerpt of a *ResponseError and the
// text of a network error are scrubbed of every secret and of the number
// and text, raw or URL-encoded, before they are cut short. Receipt.URL,
// which goes back to the caller only, keeps the number and text.
//
// # Connections
//
// The transport keeps up to MaxConns (64) connections to the gateway, all
// reusable between messages, so a mailing with an sms.Client concurrency up
// to MaxConns opens no more connections than its concurrency. Timeout (30s)
// bounds each request, DialTimeout (10s) each connection and TLS handshake.
// Config.HTTPClient replaces all of this; see its doc for what it loses.
//
// # Presets
//
// Kannel, Jasmin, SMSRu, Twilio, Vonage and Original return a Config for
// those gateways, with their answers mapped as their docs say; adjust the
// result before New if your gateway differs.
//
// # Delivery reports
//
// With Config.Delivery set, as the Kannel, Jasmin, Twilio and Vonage
// presets set it, the Provider is an sms.DeliveryReporter. A message with a
// ReportURL (sms.WithDeliveryReports gives one, from an
// sms.DeliveryHandler, to every message with an ID) is sent with
// Delivery.Params, which hand the URL to the gateway; a message without
// one is sent without them, and one whose ReportURL is not an absolute
// http(s) URL is rejected before anything is sent (ErrReportURL).
// ParseDelivery reads the gateway's callbacks to that URL: the fields of
// the query (GET), of a form body or of a JSON body (Delivery.Sources),
// the status mapped through Delivery.Statuses. A status the table does not
// list is an error (ErrReportStatus), which sms.DeliveryHandler answers
// with 400, and so is a Twilio callback without a valid
// X-Twilio-Signature (ErrReportSignature). Where the presets find what:
//
//	preset  report URL sent as  callback          status          GatewayID   Code            At
//	Kannel  dlr-url, dlr-mask   GET query         type            fid (%F)    type            ts (%T, Unix)
//	        31
//	Jasmin  dlr-url, dlr-level  POST form         message_status  id          err, else the   donedate
//	        3, dlr-method POST                                                status
//	Twilio  StatusCallback      POST form,        MessageStatus   MessageSid  ErrorCode, else RawDlrDoneDate
//	                            signed                                        the status
//	Vonage  callback            GET query, POST   status          messageId   err-code        message-timestamp
//	                            form or JSON
//
// and how their statuses map:
//
//	sms.DeliveryStatus  Kannel type  Jasmin message_status       Twilio MessageStatus   Vonage status
//	accepted            8            ESME_ROK, ACCEPTD, ENROUTE  queued, accepted,      accepted
//	                                                             scheduled, sending,
//	                                                             sent
//	buffered            4            -                           -                      buffered
//	delivered           1            DELIVRD                     delivered, read        delivered
//	undelivered         2            UNDELIV, DELETED            undelivered            failed
//	expired             -            EXPIRED                     -                      expired
//	rejected            16           REJECTD, the submit's       failed (never sent),   rejected
//	                                 refusals at level 1         canceled
//	unknown             -            UNKNOWN                     -                      unknown
//
// SMSRu and Original have no Delivery: those gateways take no report URL
// with a message (SMS.ru's callbacks are set once for the account), so
// DeliveryReports is false and a message's ReportURL is not sent. The
// presets' docs say more about each gateway.
//
// The report URL carries a token that lets whoever holds it report on the
// message, so it is kept like a credential: Receipt.URL shows the
// parameters that hold it as REDACTED, and no error or log line of the
// Provider quotes it, nor does an error of ParseDelivery, even when a
// callback puts it in a field.
//
// Gateways differ in what they want back. Kannel counts only 200 and 202
// as received, and fetches a failed callback again only when smsbox is
// configured to (http-request-retry, http-queue-delay). Jasmin wants the
// body "ACK/Jasmin" (DeliveryAck returns it, for a receiver to write) and
// otherwise sends the report again, 3 times by default; repeated reports
// change nothing (sms.DeliveryStatus.Replaces).
//
// # Twilio and Vonage
//
// Twilio and Vonage are presets like the others: a form POST, with HTTP
// basic authentication by the Account SID and auth token (Twilio) or the
// api_key and api_secret parameters (Vonage), and the outcome read from the
// JSON answer. Their codes map to kinds as the vendors document them (see
// Twilio and Vonage for every code):
//
//	kind       Twilio ("code", else the HTTP status)     Vonage ("messages.*.status")
//	accepted   201 with "sid" (the message ID)            0 ("message-id")
//	rejected   To invalid, unreachable, landline, short   2, 3, 6, 7, 12, 15, 22, 29, 33:
//	           code, unsubscribed, region not enabled,    parameters, number barred or
//	           unverified (21211, 21214, 21612, 21614,    de-activated, too long, sender,
//	           ...); the message's From or body (21212,   not whitelisted
//	           21602, 21606, 21617, ...); other 4xx
//	fatal      20003 authentication, 20005 10001 30002    4 credentials, 8 account barred,
//	           account not active or suspended, 20008,    9 no credit, 11, 14, 23, 32
//	           20404, 21609; other 401 and 403
//	throttled  20429 and 429, 21611 (sender's queue)      1 throttled, 10 too many binds
//	temporary  20503 and 503: not created                 -
//	ambiguous  20500 and other 5xx without a code, no     5 internal error, unknown codes,
//	           answer after the request was sent          parts accepted and parts not, no
//	                                                      status, no answer after sending
//
// Every credential either puts on the wire is a secret: the auth token, the
// basic-auth header and its base64, api_key and api_secret.
//
// Both presets are tested against Prism serving the vendors' own OpenAPI
// descriptions (in testdata/vendors, with their licences): every request
// they build passes the specification's validation, and its example
// answers read as sent with the example's message ID.
package httpquery

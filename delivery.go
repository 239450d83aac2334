package sms

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DeliveryStatus is what the network said about a message after the gateway
// accepted it. The final statuses are delivered, undelivered, expired,
// rejected and unknown; accepted and buffered are intermediate.
type DeliveryStatus string

// The delivery statuses.
const (
	// DeliveryAccepted: the operator's SMSC took the message (intermediate).
	DeliveryAccepted DeliveryStatus = "accepted"
	// DeliveryBuffered: the SMSC holds the message, for instance while the
	// phone is off (intermediate).
	DeliveryBuffered DeliveryStatus = "buffered"
	// DeliveryDelivered: the phone received the message (final).
	DeliveryDelivered DeliveryStatus = "delivered"
	// DeliveryUndelivered: the network gave up on the message (final).
	DeliveryUndelivered DeliveryStatus = "undelivered"
	// DeliveryExpired: the message's validity ended before the phone could
	// take it (final).
	DeliveryExpired DeliveryStatus = "expired"
	// DeliveryRejected: the SMSC or the network refused the message (final).
	DeliveryRejected DeliveryStatus = "rejected"
	// DeliveryUnknown: the network cannot say, or no report came in time
	// (final).
	DeliveryUnknown DeliveryStatus = "unknown"
)

// Final reports whether s ends a message's story: no later report changes
// it.
func (s DeliveryStatus) Final() bool {
	switch s {
	case DeliveryDelivered, DeliveryUndelivered, DeliveryExpired, DeliveryRejected, DeliveryUnknown:
		return true
	}
	return false
}

// Known reports whether s is one of the statuses above.
func (s DeliveryStatus) Known() bool {
	return s.Final() || s == DeliveryAccepted || s == DeliveryBuffered
}

// Replaces reports whether a report of status s, arriving after one of
// status prev, should replace it: a final status is never replaced, and an
// intermediate one is replaced by any later report. Reports can come several
// times and in any order; this rule makes repeats harmless.
func (s DeliveryStatus) Replaces(prev DeliveryStatus) bool {
	return !prev.Final() && s != ""
}

// DeliveryReport is one report about one message, as a gateway sent it.
type DeliveryReport struct {
	// MessageID is the Message.ID of the message the report is about.
	MessageID string
	// Status is what the report says.
	Status DeliveryStatus
	// Code and Text are the gateway's own status code and description,
	// such as Kannel's DLR type "1" or Twilio's error code.
	Code, Text string
	// GatewayID is the gateway's or the SMSC's ID for the message, when the
	// report carries one.
	GatewayID string
	// At is when the operator says the status was reached; zero when the
	// report does not say.
	At time.Time
	// Provider names the vendor that sent the report, when known.
	Provider string
}

// DeliveryReporter is implemented by Providers that can ask their gateway to
// report on each message's delivery, as database/sql/driver's optional
// interfaces are. When DeliveryReports is true, Send asks for reports on a
// message whose ReportURL is set, to be sent to that URL, and
// ParseDelivery reads the gateway's callback requests.
type DeliveryReporter interface {
	Provider
	// DeliveryReports reports whether the Provider, as configured, requests
	// delivery reports.
	DeliveryReports() bool
	// ParseDelivery reads one callback request that the gateway made to
	// reportURL, the Message's ReportURL, and returns the report in it.
	// MessageID is left for the caller, which knows it from the URL. An
	// error means the request is not a report this Provider understands, or
	// that its signature does not verify.
	ParseDelivery(r *http.Request, reportURL string) (DeliveryReport, error)
}

// ReportQueryParam is the query parameter of a report URL that carries the
// message's ID and its authentication code (see DeliveryHandler).
const ReportQueryParam = "sms_report"

// maxReportBody bounds the body of a callback request.
const maxReportBody = 64 << 10

// reportMACSize is how many bytes of the HMAC a report URL carries: 128 bits
// cannot be guessed.
const reportMACSize = 16

// DeliveryHandler receives a gateway's delivery reports: an http.Handler to
// mount at the URL it was built with.
//
// The URL it hands out for a message (URL) carries the message's ID and an
// HMAC-SHA256 of it under the handler's secret, so that a callback for a
// message proves it came from a URL the Client gave to the gateway: a
// missing or wrong code, or another message's, is refused with 403 and
// reaches nothing. A request the Provider cannot parse gets 400. A genuine
// report goes to the deliver function; an error from it answers 500, so that
// a gateway that retries its callbacks (Kannel does, when configured to)
// brings the report again. Otherwise the answer is 200.
//
// A gateway may send several reports for a message, repeat them and mix
// their order: use DeliveryStatus.Replaces to decide what to keep.
type DeliveryHandler struct {
	p       DeliveryReporter
	secret  []byte
	base    string
	deliver func(context.Context, DeliveryReport) error
	log     *slog.Logger
}

// NewDeliveryHandler returns a handler for p's reports, served at baseURL
// (an absolute http or https URL that the gateway can reach), with secret as
// the key of the URLs' codes (at least 16 bytes; keep it across restarts,
// since reports can come days after the send). deliver gets each genuine
// report; it may be called concurrently, and more than once for the same
// report.
func NewDeliveryHandler(p DeliveryReporter, secret []byte, baseURL string, deliver func(context.Context, DeliveryReport) error) (*DeliveryHandler, error) {
	switch {
	case p == nil || deliver == nil:
		return nil, errors.New("sms: NewDeliveryHandler: nil provider or deliver function")
	case !p.DeliveryReports():
		return nil, errors.New("sms: NewDeliveryHandler: the provider does not request delivery reports")
	case len(secret) < 16:
		return nil, fmt.Errorf("sms: NewDeliveryHandler: the secret has %d bytes, want at least 16", len(secret))
	}
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Fragment != "" {
		return nil, fmt.Errorf("sms: NewDeliveryHandler: base URL %q is not an absolute http(s) URL", baseURL)
	}
	return &DeliveryHandler{p: p, secret: secret, base: baseURL, deliver: deliver, log: slog.New(slog.DiscardHandler)}, nil
}

// SetLogger makes the handler log refused callbacks, at level Warn, without
// their URL. Call it before serving.
func (h *DeliveryHandler) SetLogger(l *slog.Logger) { h.log = l }

// URL returns the URL at which the gateway is to report on the message with
// ID id. It is the same for the same handler secret and id.
func (h *DeliveryHandler) URL(id string) string {
	sep := "?"
	if strings.Contains(h.base, "?") {
		sep = "&"
	}
	return h.base + sep + ReportQueryParam + "=" + h.token(id)
}

// token is the ID and its code, in an alphabet that gateways substituting
// their own %-escapes in a callback URL (Kannel) leave alone.
func (h *DeliveryHandler) token(id string) string {
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(id)) + "." + enc.EncodeToString(h.mac(id))
}

func (h *DeliveryHandler) mac(id string) []byte {
	m := hmac.New(sha256.New, h.secret)
	m.Write([]byte("sms delivery report\x00"))
	m.Write([]byte(id))
	return m.Sum(nil)[:reportMACSize]
}

// messageID returns the message ID that the request's token proves.
func (h *DeliveryHandler) messageID(r *http.Request) (string, bool) {
	enc := base64.RawURLEncoding.Strict()
	tok := r.URL.Query().Get(ReportQueryParam)
	// The decoder skips line breaks; a token has one spelling only.
	idPart, macPart, ok := strings.Cut(tok, ".")
	if !ok || strings.ContainsAny(tok, "\r\n") {
		return "", false
	}
	id, err1 := enc.DecodeString(idPart)
	mac, err2 := enc.DecodeString(macPart)
	if err1 != nil || err2 != nil || !hmac.Equal(mac, h.mac(string(id))) {
		return "", false
	}
	return string(id), true
}

// ServeHTTP checks one callback, parses it and hands its report to the
// deliver function.
func (h *DeliveryHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id, ok := h.messageID(r)
	if !ok {
		h.log.WarnContext(r.Context(), "sms: delivery report refused: no valid token", slog.String("remote", r.RemoteAddr))
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxReportBody)
	rep, err := h.p.ParseDelivery(r, h.URL(id))
	if err != nil {
		h.log.WarnContext(r.Context(), "sms: delivery report refused", slog.String("remote", r.RemoteAddr), slog.Any("error", err))
		http.Error(w, "malformed report: "+err.Error(), http.StatusBadRequest)
		return
	}
	rep.MessageID = id
	if err := h.deliver(r.Context(), rep); err != nil {
		h.log.ErrorContext(r.Context(), "sms: delivery report not taken", slog.Any("error", err))
		http.Error(w, "report not stored, try again", http.StatusInternalServerError)
		return
	}
	if a, ok := h.p.(DeliveryAcker); ok && a.DeliveryAck() != "" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, a.DeliveryAck())
		return
	}
	w.WriteHeader(http.StatusOK)
}

// DeliveryAcker is implemented by DeliveryReporters whose gateway wants a
// particular body in the answer to a report it sent (Jasmin resends a
// report until it reads "ACK/Jasmin"). DeliveryHandler answers a report it
// took with it.
type DeliveryAcker interface {
	DeliveryAck() string
}

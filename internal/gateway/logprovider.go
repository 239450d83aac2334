package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/smsgateway/sms"
	"github.com/smsgateway/sms/internal/mask"
)

// logOptions are the options of the "log" provider type.
type logOptions struct {
	// Delay is how long each send takes, to imitate a gateway's latency.
	Delay sms.Duration `json:"delay,omitempty"`
	// Outbox is a file to which every accepted message is appended as one
	// JSON line with the full number and text; empty means none. It is
	// meant for development and tests, since it holds numbers unmasked.
	Outbox string `json:"outbox,omitempty"`
}

// logProvider sends nothing: it writes each message to the log, with the
// number masked, and optionally to an outbox file. It answers like a gateway
// that accepted the message (status 200 and a random message ID).
type logProvider struct {
	name  string
	log   *slog.Logger
	delay time.Duration
	mu    sync.Mutex // serializes outbox lines
	out   *os.File
}

func newLogProvider(env ProviderEnv, raw json.RawMessage) (sms.Provider, error) {
	var o logOptions
	if err := decodeOptions(raw, &o); err != nil {
		return nil, err
	}
	p := &logProvider{name: env.Name, log: env.Log, delay: time.Duration(o.Delay)}
	if o.Outbox != "" {
		f, err := os.OpenFile(o.Outbox, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return nil, err
		}
		p.out = f
	}
	return p, nil
}

// outboxLine is one line of the log provider's outbox file.
type outboxLine struct {
	Time      time.Time `json:"time"`
	To        string    `json:"to"`
	Text      string    `json:"text"`
	MessageID string    `json:"message_id"`
}

func (p *logProvider) Send(ctx context.Context, msg sms.Message) (sms.Receipt, error) {
	if p.delay > 0 {
		t := time.NewTimer(p.delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			// Nothing was written: provably not sent.
			return sms.Receipt{}, &sms.Error{Kind: sms.KindTemporary, Err: ctx.Err()}
		}
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	rc := sms.Receipt{MessageID: "log-" + hex.EncodeToString(id[:]), StatusCode: 200}
	b, err := json.Marshal(outboxLine{Time: time.Now().UTC(), To: msg.To, Text: msg.Text, MessageID: rc.MessageID})
	if err != nil {
		return sms.Receipt{}, &sms.Error{Kind: sms.KindRejected, Err: err}
	}
	p.mu.Lock()
	if p.out != nil {
		_, err = p.out.Write(append(b, '\n'))
	}
	p.mu.Unlock()
	if err != nil {
		return sms.Receipt{}, &sms.Error{Kind: sms.KindAmbiguous, Err: err}
	}
	p.log.LogAttrs(ctx, slog.LevelInfo, "sms message (log provider, not sent)",
		slog.String("provider", p.name), slog.String("to", mask.Number(msg.To)),
		slog.String("text", msg.Text), slog.String("message_id", rc.MessageID))
	return rc, nil
}

// Close closes the outbox file.
func (p *logProvider) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.out == nil {
		return nil
	}
	err := p.out.Close()
	p.out = nil
	return err
}

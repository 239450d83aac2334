package httpquery_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"

	"github.com/smsgateway/sms"
	"github.com/smsgateway/sms/providers/httpquery"
)

// A Kannel-like gateway: accepts numbers starting with 49, answers 403 "Not
// routable" for the rest.
func fakeKannel() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		switch {
		case q.Get("password") != "foobar":
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, "Authorization failed for sendsms")
		case len(q.Get("to")) > 3 && q.Get("to")[:3] == "+49":
			w.WriteHeader(http.StatusAccepted)
			fmt.Fprint(w, "0: Accepted for delivery")
		default:
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, "Not routable. Do not try again.")
		}
	}))
}

func ExampleKannel() {
	gw := fakeKannel()
	defer gw.Close()

	p, err := httpquery.New(httpquery.Kannel(gw.URL+"/cgi-bin/sendsms", "tester", "foobar"))
	if err != nil {
		panic(err)
	}
	c, err := sms.New(p)
	if err != nil {
		panic(err)
	}
	defer c.Close() // closes p too

	res, err := c.Send(context.Background(), sms.Message{To: "+49 170 1234567", Text: "Hello"})
	fmt.Println(res.Status, res.StatusCode, err)

	res, err = c.Send(context.Background(), sms.Message{To: "+999 1234567", Text: "Hello"})
	fmt.Println(res.Status, res.StatusCode, errors.Is(err, sms.ErrRejected), res.Attempts)
	// Output:
	// sent 202 <nil>
	// failed 403 true 1
}

// A Kannel-like gateway that, like the fake SMSC, reports "delivered to
// the SMSC" (type 8) and then "delivered" (type 1) to the dlr-url of each
// message, before it answers the send.
func fakeKannelWithReports() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if dlrURL := r.URL.Query().Get("dlr-url"); dlrURL != "" {
			// Kannel's escapes: the type, the SMSC's ID (none yet in a
			// type 8 report), the time, the SMSC's reply.
			for _, esc := range [][]string{
				{"%d", "8", "%F", "", "%A", "ACK%2F"},
				{"%d", "1", "%F", "smsc-7", "%A", ""},
			} {
				u := strings.NewReplacer(append([]string{"%%", "%", "%T", "1795665433"}, esc...)...).Replace(dlrURL)
				if resp, err := http.Get(u); err == nil {
					resp.Body.Close()
				}
			}
		}
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprint(w, "0: Accepted for delivery")
	}))
}

// Delivery reports: an sms.DeliveryHandler gives each message with an ID a
// report URL, the Kannel preset hands it to the gateway as dlr-url, and the
// handler passes the gateway's reports on, authenticated and parsed.
func ExampleKannel_deliveryReports() {
	gw := fakeKannelWithReports()
	defer gw.Close()
	p, err := httpquery.New(httpquery.Kannel(gw.URL+"/cgi-bin/sendsms", "tester", "foobar"))
	if err != nil {
		panic(err)
	}

	// Where reports are kept: the latest that DeliveryStatus.Replaces lets
	// in, per message.
	var mu sync.Mutex
	latest := map[string]sms.DeliveryReport{}
	deliver := func(_ context.Context, r sms.DeliveryReport) error {
		mu.Lock()
		defer mu.Unlock()
		fmt.Printf("report %s: %s (type %s, SMSC ID %q)\n", r.MessageID, r.Status, r.Code, r.GatewayID)
		if r.Status.Replaces(latest[r.MessageID].Status) {
			latest[r.MessageID] = r
		}
		return nil
	}
	// For real: your own server, at an https URL the gateway can reach.
	hooks := httptest.NewUnstartedServer(nil)
	h, err := sms.NewDeliveryHandler(p, []byte("a secret of at least 16 bytes"), "http://"+hooks.Listener.Addr().String()+"/dlr", deliver)
	if err != nil {
		panic(err)
	}
	hooks.Config.Handler = h
	hooks.Start()
	defer hooks.Close()

	c, err := sms.New(p, sms.WithDeliveryReports(h))
	if err != nil {
		panic(err)
	}
	defer c.Close()
	res, err := c.Send(context.Background(), sms.Message{To: "+4917012345678", Text: "Hello", ID: "order-42"})
	fmt.Println(res.Status, err)
	mu.Lock()
	defer mu.Unlock()
	fmt.Println("kept:", latest["order-42"].Status)
	// Output:
	// report order-42: accepted (type 8, SMSC ID "")
	// report order-42: delivered (type 1, SMSC ID "smsc-7")
	// sent <nil>
	// kept: delivered
}

func ExampleKannel_wrongPassword() {
	gw := fakeKannel()
	defer gw.Close()

	p, err := httpquery.New(httpquery.Kannel(gw.URL+"/cgi-bin/sendsms", "tester", "wrong"))
	if err != nil {
		panic(err)
	}
	defer p.Close()

	rc, err := p.Send(context.Background(), sms.Message{To: "+491701234567", Text: "Hello"})
	var e *sms.Error
	if errors.As(err, &e) {
		fmt.Println(e.Kind, e.Code)
	}
	fmt.Println(rc.URL[len(gw.URL):])
	// Output:
	// fatal 403
	// /cgi-bin/sendsms?password=REDACTED&username=tester&text=Hello&to=%2B491701234567
}

func ExampleOriginal() {
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println("gateway got", r.URL.RawQuery)
	}))
	defer gw.Close()

	p, err := httpquery.New(httpquery.Original(gw.URL + "/"))
	if err != nil {
		panic(err)
	}
	defer p.Close()
	_, err = p.Send(context.Background(), sms.Message{To: "88005553535", Text: "Hello & bye"})
	fmt.Println(err)
	// Output:
	// gateway got q=Hello+%26+bye&q=88005553535
	// <nil>
}

// A gateway that answers JSON: the vendor's code decides, and the message ID
// is read from the body.
func ExampleOutcomes() {
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.FormValue("phone") == "+15550100000" {
			fmt.Fprint(w, `{"result":{"code":"OK","id":"msg-17"}}`)
			return
		}
		fmt.Fprint(w, `{"result":{"code":"NO_CREDIT"}}`)
	}))
	defer gw.Close()

	p, err := httpquery.New(httpquery.Config{
		URL:       gw.URL + "/api/send",
		Method:    "POST",
		ToParam:   "phone",
		TextParam: "message",
		Headers:   map[string]string{"Authorization": "Bearer secret-token"},
		Outcomes: httpquery.Outcomes{
			CodePaths:     []string{"result.code"},
			Codes:         map[string]httpquery.Outcome{"OK": httpquery.Accepted, "NO_CREDIT": httpquery.Fatal},
			MessageIDPath: "result.id",
		},
	})
	if err != nil {
		panic(err)
	}
	defer p.Close()

	rc, err := p.Send(context.Background(), sms.Message{To: "+15550100000", Text: "Hi"})
	fmt.Println(rc.MessageID, err)
	_, err = p.Send(context.Background(), sms.Message{To: "+15550100001", Text: "Hi"})
	var e *sms.Error
	if errors.As(err, &e) {
		fmt.Println(e.Kind, e.Code)
	}
	// Output:
	// msg-17 <nil>
	// fatal NO_CREDIT
}

// A Twilio-like API: creates a message for a request with the right basic
// authentication, and answers Twilio's error 21211 for an invalid To.
func fakeTwilio() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		sid, token, _ := r.BasicAuth()
		switch {
		case sid != "AC0123456789abcdef0123456789abcdef" || token != "auth-token":
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"code": 20003, "message": "Authenticate", "status": 401}`)
		case r.PostFormValue("To") == "+15005550001":
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"code": 21211, "message": "The 'To' number is not a valid phone number.", "status": 400}`)
		default:
			w.WriteHeader(http.StatusCreated)
			fmt.Fprint(w, `{"sid": "SM0123456789abcdef0123456789abcdef", "status": "queued"}`)
		}
	}))
}

func ExampleTwilio() {
	api := fakeTwilio()
	defer api.Close()

	const sid = "AC0123456789abcdef0123456789abcdef"
	cfg := httpquery.Twilio(sid, "auth-token")
	cfg.URL = httpquery.TwilioURL(api.URL, sid) // for real: leave it as it is
	p, err := httpquery.New(cfg)
	if err != nil {
		panic(err)
	}
	c, err := sms.New(p)
	if err != nil {
		panic(err)
	}
	defer c.Close()

	res, err := c.Send(context.Background(), sms.Message{To: "+14155552345", Text: "Hello", From: "+15005550006"})
	fmt.Println(res.Status, res.StatusCode, res.MessageID, err)

	res, err = c.Send(context.Background(), sms.Message{To: "+15005550001", Text: "Hello", From: "+15005550006"})
	var e *sms.Error
	errors.As(err, &e)
	fmt.Println(res.Status, e.Kind, e.Code, res.Attempts)
	// Output:
	// sent 201 SM0123456789abcdef0123456789abcdef <nil>
	// failed rejected 21211 1
}

package httpquery_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"

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

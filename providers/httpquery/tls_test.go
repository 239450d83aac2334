package httpquery

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
)

func newUnstartedTLS(h http.Handler) *httptest.Server {
	s := httptest.NewUnstartedServer(h)
	s.Config.ErrorLog = quietLog()
	return s
}

func quietLog() *log.Logger { return log.New(io.Discard, "", 0) }

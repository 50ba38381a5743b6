package attempt

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestInvalid(t *testing.T) {
	valid := func() *http.Request {
		return &http.Request{
			Method: http.MethodPost,
			URL:    &url.URL{Scheme: "https", Host: "example.com", Path: "/"},
			Header: http.Header{"Content-Type": {"text/plain"}, "X-Tab": {"a\tb"}},
		}
	}
	tests := []struct {
		name   string
		change func(r *http.Request)
		// names is what the verdict must name; empty for a valid request.
		names string
	}{
		{name: "valid", change: func(*http.Request) {}},
		{name: "empty method means GET", change: func(r *http.Request) { r.Method = "" }},
		{name: "extension method", change: func(r *http.Request) { r.Method = "PURGE" }},
		{name: "no URL", change: func(r *http.Request) { r.URL = nil }, names: "no URL"},
		{name: "no header map", change: func(r *http.Request) { r.Header = nil }, names: "no Header"},
		{name: "ftp scheme", change: func(r *http.Request) { r.URL.Scheme = "ftp" }, names: `"ftp"`},
		{name: "no scheme", change: func(r *http.Request) { r.URL.Scheme = "" }, names: `scheme ""`},
		{name: "no host", change: func(r *http.Request) { r.URL.Host = "" }, names: "no host"},
		{name: "method with a space", change: func(r *http.Request) { r.Method = "GET /" }, names: `"GET /"`},
		{name: "header name with a space", change: func(r *http.Request) { r.Header["Bad Name"] = []string{"v"} }, names: `"Bad Name"`},
		{name: "header value with a newline", change: func(r *http.Request) { r.Header.Set("X-Split", "a\nb") }, names: `"X-Split"`},
		{name: "trailer name", change: func(r *http.Request) { r.Trailer = http.Header{"a:b": nil} }, names: `trailer field name "a:b"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := valid()
			tt.change(r)
			err := Invalid(r)
			switch {
			case tt.names == "" && err != nil:
				t.Fatalf("Invalid() = %v, want nil", err)
			case tt.names == "":
			case err == nil:
				t.Fatalf("Invalid() = nil, want an error naming %s", tt.names)
			case !strings.Contains(err.Error(), tt.names) || !errors.Is(err, errInvalidRequest):
				t.Fatalf("Invalid() = %v, want an errInvalidRequest naming %s", err, tt.names)
			case strings.Contains(err.Error(), "a\nb"):
				t.Fatalf("Invalid() = %q repeats the header value", err)
			}
		})
	}
}

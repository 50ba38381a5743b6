package transport_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/resilient-http/resilient/retry"
	"github.com/resilient-http/resilient/transport"
)

// h2Server is a raw HTTP/2 server on 127.0.0.1 that answers the first
// request stream with a frame chosen by the test, so that the client sees
// exactly the refusal under test and nothing else; later streams get no
// answer. When answer returns true the connection is closed after the
// request's last frame.
func h2Server(t *testing.T, answer func(fr *http2.Framer, streamID uint32) (hangUp bool)) (addr string, tlsConf *tls.Config) {
	t.Helper()
	return h2Streams(t, func(fr *http2.Framer, streamID uint32, n int) bool {
		return n == 0 && answer(fr, streamID)
	})
}

// h2Streams is h2Server calling answer for every request stream of a
// connection, n counting them from 0.
func h2Streams(t *testing.T, answer func(fr *http2.Framer, streamID uint32, n int) (hangUp bool)) (addr string, tlsConf *tls.Config) {
	t.Helper()
	// httptest provides a certificate for 127.0.0.1 and a client that trusts it.
	certSrv := httptest.NewTLSServer(http.NotFoundHandler())
	t.Cleanup(certSrv.Close)
	tlsConf = certSrv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	serverConf := &tls.Config{Certificates: certSrv.TLS.Certificates, NextProtos: []string{http2.NextProtoTLS}}

	addr = rawServer(t, func(c net.Conn, _ *bufio.Reader) {
		tc := tls.Server(c, serverConf)
		if tc.Handshake() != nil {
			return
		}
		preface := make([]byte, len(http2.ClientPreface))
		if _, err := io.ReadFull(tc, preface); err != nil || string(preface) != http2.ClientPreface {
			return
		}
		fr := http2.NewFramer(tc, tc)
		if fr.WriteSettings() != nil {
			return
		}
		streams, hangUp := 0, false
		for {
			f, err := fr.ReadFrame()
			if err != nil {
				return
			}
			switch f := f.(type) {
			case *http2.SettingsFrame:
				if !f.IsAck() && fr.WriteSettingsAck() != nil {
					return
				}
			case *http2.HeadersFrame:
				hangUp = answer(fr, f.StreamID, streams)
				streams++
			}
			// Hang up only once the request is all read: closing with
			// unread data would reset the connection instead.
			if hangUp && endsStream(f) {
				return
			}
		}
	})
	return addr, tlsConf
}

// endsStream reports whether f is the client's last frame of its stream.
func endsStream(f http2.Frame) bool {
	switch f := f.(type) {
	case *http2.DataFrame:
		return f.StreamEnded()
	case *http2.HeadersFrame:
		return f.StreamEnded()
	}
	return false
}

func h2Transport(t *testing.T, tlsConf *tls.Config) *transport.Transport {
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.TLSClientConfig = tlsConf
	base.ForceAttemptHTTP2 = true
	return newTransport(t, transport.WithoutRetry(), transport.WithBase(base))
}

// TestClassifyHTTP2Refusal stages the server's refusals and GOAWAYs on
// HTTP/2. The POST's body cannot be rewound, so neither x/net/http2 nor
// net/http retries it by itself; they then keep a refusal of the stream
// (REFUSED_STREAM, or a GOAWAY below it) only as text inside "cannot retry
// err [...]", and text is no evidence: the attempt is not unprocessed.
// With the default retry policy the body is rewindable and they retry such
// a stream themselves (TestHTTP2RefusedStreamRetriedBelow). A typed
// REFUSED_STREAM is tested in TestHTTP2ErrorsInChain.
//
// The expectations hold on Go 1.26 and 1.27 alike. Up to 1.26 the GOAWAY
// that ends a stream the server took is x/net/http2's GoAwayError, a type;
// from 1.27 it is net/http's own, which converts to no public type, and its
// fixed message names the kind (on HTTP/2 connections only), as it does
// for the unstarted stream's error on both.
func TestClassifyHTTP2Refusal(t *testing.T) {
	tests := []struct {
		name   string
		answer func(fr *http2.Framer, streamID uint32) bool
		kind   retry.Kind
	}{
		{
			name: "REFUSED_STREAM, known by its text only",
			answer: func(fr *http2.Framer, id uint32) bool {
				_ = fr.WriteRSTStream(id, http2.ErrCodeRefusedStream)
				return false
			},
			kind: retry.KindOther,
		},
		{
			name: "GOAWAY before the stream, known by its text only",
			answer: func(fr *http2.Framer, id uint32) bool {
				_ = fr.WriteGoAway(0, http2.ErrCodeNo, nil)
				return false
			},
			kind: retry.KindGoAway,
		},
		{
			// The server says it took the stream, then hangs up: the
			// request may have run.
			name: "GOAWAY after the stream, then close",
			answer: func(fr *http2.Framer, id uint32) bool {
				_ = fr.WriteGoAway(id, http2.ErrCodeNo, nil)
				return true
			},
			kind: retry.KindGoAway,
		},
		{
			name: "GOAWAY after the stream whose debug data claims a refusal, then close",
			answer: func(fr *http2.Framer, id uint32) bool {
				_ = fr.WriteGoAway(id, http2.ErrCodeNo, []byte(hostileRefusal))
				return true
			},
			kind: retry.KindGoAway,
		},
		{
			name: "GOAWAY after the stream with code REFUSED_STREAM, then close",
			answer: func(fr *http2.Framer, id uint32) bool {
				_ = fr.WriteGoAway(id, http2.ErrCodeRefusedStream, []byte(hostileRefusal))
				return true
			},
			kind: retry.KindGoAway,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, tlsConf := h2Server(t, tt.answer)
			c := &http.Client{Transport: h2Transport(t, tlsConf)}
			_, err := post(c, "https://"+addr+"/")
			ae := checkAttempt(t, err, want{
				stage: h2Stage(t, err), kind: tt.kind,
				isNot: []error{transport.ErrResetBeforeHeaders, transport.ErrDial, transport.ErrUnprocessed},
			})
			if !ae.HTTP2 || ae.ServerRefused {
				t.Errorf("HTTP2 = %v, ServerRefused = %v; want true, false", ae.HTTP2, ae.ServerRefused)
			}
		})
	}
}

// hostileRefusal is text a server can put into a GOAWAY's debug data that
// reads like the refusals x/net/http2 reports.
const hostileRefusal = "stream error: stream ID 1; REFUSED_STREAM; http2: Transport received Server's graceful shutdown GOAWAY"

// TestHTTP2HostileGoAwayRunsOnce: a server that took the POST's stream and
// then hangs up with a GOAWAY whose debug data claims a refusal must not
// get the POST again, through a Transport with the default retry policy.
// The ledger counts the request streams the server received, on any
// connection.
func TestHTTP2HostileGoAwayRunsOnce(t *testing.T) {
	var mu sync.Mutex
	executed := 0
	addr, tlsConf := h2Streams(t, func(fr *http2.Framer, id uint32, _ int) bool {
		mu.Lock()
		executed++
		mu.Unlock()
		_ = fr.WriteGoAway(id, http2.ErrCodeRefusedStream, []byte(hostileRefusal))
		return true
	})
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.TLSClientConfig = tlsConf
	base.ForceAttemptHTTP2 = true
	c := &http.Client{Transport: newTransport(t, transport.WithBase(base))}
	req, err := http.NewRequest(http.MethodPost, "https://"+addr+"/", strings.NewReader("order"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Do(req)
	var ae *transport.AttemptError
	if !errors.As(err, &ae) || ae.ServerRefused || errors.Is(err, transport.ErrUnprocessed) {
		t.Fatalf("want a failed attempt, not refused nor unprocessed; got %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if executed != 1 {
		t.Fatalf("the server received the POST %d times, want 1", executed)
	}
}

// TestHTTP2RefusedStreamRetriedBelow: with the default retry policy every
// attempt's body is rewindable, and the HTTP/2 implementation itself
// repeats a stream the server refused, on both Go versions, so the caller
// never sees the refusal that it keeps only as text when the body is not.
func TestHTTP2RefusedStreamRetriedBelow(t *testing.T) {
	var mu sync.Mutex
	var answered []int
	addr, tlsConf := h2Streams(t, func(fr *http2.Framer, id uint32, n int) bool {
		if n == 0 {
			_ = fr.WriteRSTStream(id, http2.ErrCodeRefusedStream)
			return false
		}
		mu.Lock()
		answered = append(answered, n)
		mu.Unlock()
		writeStatus(fr, id, http.StatusOK, true)
		return false
	})
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.TLSClientConfig = tlsConf
	base.ForceAttemptHTTP2 = true
	c := &http.Client{Transport: newTransport(t, transport.WithBase(base))}
	resp, err := post(c, "https://"+addr+"/")
	if err != nil {
		t.Fatalf("POST after a refused stream: %v", err)
	}
	resp.Body.Close()
	mu.Lock()
	defer mu.Unlock()
	if len(answered) != 1 || answered[0] != 1 {
		t.Fatalf("answered streams %v, want the second stream of the connection only", answered)
	}
}

// writeStatus sends response headers with status code on stream id.
func writeStatus(fr *http2.Framer, id uint32, code int, endStream bool) {
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	_ = enc.WriteField(hpack.HeaderField{Name: ":status", Value: strconv.Itoa(code)})
	_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: buf.Bytes(), EndHeaders: true, EndStream: endStream})
}

// TestHTTP2ErrorsInChain proves that x/net/http2, whose errors the
// classification inspects, is the HTTP/2 implementation in use: a stream
// reset for a request it cannot retry keeps http2.StreamError in the chain.
func TestHTTP2ErrorsInChain(t *testing.T) {
	addr, tlsConf := h2Server(t, func(fr *http2.Framer, id uint32) bool {
		_ = fr.WriteRSTStream(id, http2.ErrCodeInternal)
		return false
	})
	c := &http.Client{Transport: h2Transport(t, tlsConf)}
	_, err := post(c, "https://"+addr+"/")
	var se http2.StreamError
	if !errors.As(err, &se) || se.Code != http2.ErrCodeInternal {
		t.Fatalf("errors.As(%v, http2.StreamError) failed", err)
	}
	checkAttempt(t, err, want{
		stage: h2Stage(t, err), kind: retry.KindOther,
		isNot: []error{transport.ErrUnprocessed, transport.ErrResetBeforeHeaders},
	})
}

// TestHTTP2RefusedStreamAfterHeaders: a REFUSED_STREAM after the response
// headers arrives typed (on Go 1.27 net/http's own StreamError converts to
// x/net/http2's with errors.As), and the request was processed: a stage at
// which the response arrived wins over any refusal. The transport
// classifies an HTTP/2 response body's errors only when it has a span to
// end with the body, so tracing is on.
func TestHTTP2RefusedStreamAfterHeaders(t *testing.T) {
	addr, tlsConf := h2Server(t, func(fr *http2.Framer, id uint32) bool {
		writeStatus(fr, id, http.StatusOK, false)
		_ = fr.WriteRSTStream(id, http2.ErrCodeRefusedStream)
		return false
	})
	tp := sdktrace.NewTracerProvider()
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.TLSClientConfig = tlsConf
	base.ForceAttemptHTTP2 = true
	c := &http.Client{Transport: newTransport(t, transport.WithoutRetry(), transport.WithBase(base), transport.WithTracerProvider(tp))}
	resp, err := post(c, "https://"+addr+"/")
	if err != nil {
		t.Fatalf("the response headers were sent: %v", err)
	}
	defer resp.Body.Close()
	_, err = io.ReadAll(resp.Body)
	var se http2.StreamError
	if !errors.As(err, &se) || se.Code != http2.ErrCodeRefusedStream {
		t.Fatalf("errors.As(%v, http2.StreamError) with REFUSED_STREAM failed", err)
	}
	ae := checkAttempt(t, err, want{
		stage: retry.StageHeadersReceived, kind: retry.KindRefusedStream,
		isNot: []error{transport.ErrUnprocessed, transport.ErrResetBeforeHeaders},
	})
	if ae.ServerRefused {
		t.Error("ServerRefused after the response headers")
	}
}

// h2Stage returns the stage of an HTTP/2 attempt the server answered right
// after the request's HEADERS frame: whether the short body went out first
// is up to the client's scheduling, so either written stage is right.
func h2Stage(t *testing.T, err error) retry.Stage {
	t.Helper()
	var ae *transport.AttemptError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) is not an *AttemptError", err, err)
	}
	if ae.Stage != retry.StageHeadersWritten && ae.Stage != retry.StageRequestWritten {
		t.Errorf("stage %v, want headers_written or request_written", ae.Stage)
	}
	return ae.Stage
}

package transport_test

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"golang.org/x/net/http2"

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

func TestClassifyHTTP2Refusal(t *testing.T) {
	tests := []struct {
		name    string
		answer  func(fr *http2.Framer, streamID uint32) bool
		kind    transport.Kind
		refused bool
	}{
		{
			name: "REFUSED_STREAM",
			answer: func(fr *http2.Framer, id uint32) bool {
				_ = fr.WriteRSTStream(id, http2.ErrCodeRefusedStream)
				return false
			},
			kind: transport.KindRefusedStream, refused: true,
		},
		{
			name: "GOAWAY before the stream",
			answer: func(fr *http2.Framer, id uint32) bool {
				_ = fr.WriteGoAway(0, http2.ErrCodeNo, nil)
				return false
			},
			kind: transport.KindGoAway, refused: true,
		},
		{
			// The server says it took the stream, then hangs up: the
			// request may have run.
			name: "GOAWAY after the stream, then close",
			answer: func(fr *http2.Framer, id uint32) bool {
				_ = fr.WriteGoAway(id, http2.ErrCodeNo, nil)
				return true
			},
			kind: transport.KindGoAway,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, tlsConf := h2Server(t, tt.answer)
			c := &http.Client{Transport: h2Transport(t, tlsConf)}
			_, err := post(c, "https://"+addr+"/")
			ae := checkAttempt(t, err, want{
				stage: h2Stage(t, err), kind: tt.kind,
				isNot: []error{transport.ErrResetBeforeHeaders, transport.ErrDial},
			})
			if !ae.HTTP2 || ae.ServerRefused != tt.refused {
				t.Errorf("HTTP2 = %v, ServerRefused = %v; want true, %v", ae.HTTP2, ae.ServerRefused, tt.refused)
			}
			if errors.Is(err, transport.ErrUnprocessed) != tt.refused {
				t.Errorf("errors.Is(err, ErrUnprocessed) = %v, want %v", !tt.refused, tt.refused)
			}
		})
	}
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
		stage: h2Stage(t, err), kind: transport.KindOther,
		isNot: []error{transport.ErrUnprocessed, transport.ErrResetBeforeHeaders},
	})
}

// h2Stage returns the stage of an HTTP/2 attempt the server answered right
// after the request's HEADERS frame: whether the short body went out first
// is up to the client's scheduling, so either written stage is right.
func h2Stage(t *testing.T, err error) transport.Stage {
	t.Helper()
	var ae *transport.AttemptError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) is not an *AttemptError", err, err)
	}
	if ae.Stage != transport.StageHeadersWritten && ae.Stage != transport.StageRequestWritten {
		t.Errorf("stage %v, want headers_written or request_written", ae.Stage)
	}
	return ae.Stage
}

//go:build linux

package transport_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/resilient-http/resilient/retry"
	"github.com/resilient-http/resilient/transport"
)

// streamedBody is a request body without GetBody, as httputil.ReverseProxy
// sends, that counts the bytes read from it.
type streamedBody struct {
	r    io.Reader
	read atomic.Int64
}

func (b *streamedBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.read.Add(int64(n))
	return n, err
}

func (b *streamedBody) Close() error { return nil }

// hashLedger is what a backend saw: how many requests arrived, and the
// sha256 of every body it read whole.
type hashLedger struct {
	mu       sync.Mutex
	arrivals int
	whole    [][32]byte
}

func (l *hashLedger) arrive() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.arrivals++
	return l.arrivals
}

func (l *hashLedger) record(body io.Reader) error {
	h := sha256.New()
	if _, err := io.Copy(h, body); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.whole = append(l.whole, [32]byte(h.Sum(nil)))
	return nil
}

func (l *hashLedger) seen() (int, [][32]byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.arrivals, append([][32]byte(nil), l.whole...)
}

// resetAfter is a Go backend whose first request is reset once it read
// cut bytes of its body; every later request's body is hashed whole.
func resetAfter(t *testing.T, cut int64) (*httptest.Server, *hashLedger) {
	l := &hashLedger{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if l.arrive() == 1 {
			if _, err := io.CopyN(io.Discard, r.Body, cut); err != nil {
				return
			}
			c, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			_ = c.(*net.TCPConn).SetLinger(0)
			c.Close()
			return
		}
		if l.record(r.Body) == nil {
			w.WriteHeader(http.StatusOK)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, l
}

// TestBufferedBodyReplayedWhole: a body without GetBody whose first attempt
// is reset after 100 KiB reached the backend is replayed with exactly the
// original bytes, read once from the caller, for a PUT and for a POST a
// hook allows to retry.
func TestBufferedBodyReplayedWhole(t *testing.T) {
	payload := bytes.Repeat([]byte("0123456789abcdef"), 512<<10/16)
	for i := range payload {
		payload[i] ^= byte(i / 4096) // no two 4 KiB blocks alike
	}
	tests := []struct {
		method string
		hook   retry.Hook
	}{
		{http.MethodPut, nil},
		{http.MethodPost, func(retry.Attempt) bool { return true }},
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			srv, ledger := resetAfter(t, 100<<10)
			tr := newTransport(t, transport.WithRetry(fastPolicy(retry.Policy{})))
			ctx := context.Background()
			if tt.hook != nil {
				ctx = retry.WithHook(ctx, tt.hook)
			}
			body := &streamedBody{r: bytes.NewReader(payload)}
			req, _ := http.NewRequestWithContext(ctx, tt.method, srv.URL, body)
			req.ContentLength = int64(len(payload))
			resp, err := tr.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			arrivals, whole := ledger.seen()
			if arrivals != 2 || len(whole) != 1 || whole[0] != sha256.Sum256(payload) {
				t.Fatalf("%d arrivals, %d whole bodies; want 2 arrivals, one body with the original's sha256", arrivals, len(whole))
			}
			if n := body.read.Load(); n != int64(len(payload)) {
				t.Fatalf("the caller's body was read for %d bytes, want %d: once", n, len(payload))
			}
		})
	}
}

// TestBufferedPostResetBeforeWrite: an HTTP/1 POST whose connection is
// reset before any byte is written is retried with the full body: with a
// declared length, and chunked, where net/http read a byte of the body to
// probe it before the write failed, which the retry must send again.
func TestBufferedPostResetBeforeWrite(t *testing.T) {
	payload := bytes.Repeat([]byte("post body "), 100<<10/10)
	for _, known := range []bool{true, false} {
		name := "chunked"
		if known {
			name = "declared length"
		}
		t.Run(name, func(t *testing.T) {
			ledger := &hashLedger{}
			s := &resetFirstConn{dialed: make(chan struct{}), reset: make(chan struct{})}
			var accepted atomic.Int32
			s.addr = rawServer(t, func(c net.Conn, br *bufio.Reader) {
				if accepted.Add(1) == 1 {
					<-s.dialed
					_ = c.(*net.TCPConn).SetLinger(0)
					c.Close()
					close(s.reset)
					return
				}
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					ledger.arrive()
					if ledger.record(req.Body) != nil {
						return
					}
					if _, err := io.WriteString(c, okResponse); err != nil {
						return
					}
				}
			})
			c := &http.Client{Transport: newTransport(t, transport.WithBase(s.base(t)))}
			body := &streamedBody{r: bytes.NewReader(payload)}
			req, _ := http.NewRequest(http.MethodPost, "http://"+s.addr+"/", body)
			if known {
				req.ContentLength = int64(len(payload))
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatalf("POST after a reset before the first write: %v", err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			arrivals, whole := ledger.seen()
			if arrivals != 1 || len(whole) != 1 || whole[0] != sha256.Sum256(payload) {
				t.Fatalf("%d arrivals, %d whole bodies; want the POST once, with the original's sha256", arrivals, len(whole))
			}
			if n := body.read.Load(); n != int64(len(payload)) {
				t.Fatalf("the caller's body was read for %d bytes, want %d: once", n, len(payload))
			}
		})
	}
}

// TestBufferedPostResetAfterWriteNotReplayed: an HTTP/1 POST under the
// default policy whose connection is reset after the backend read 8 KiB of
// it may have run, and is not sent again; the body was not kept for it.
func TestBufferedPostResetAfterWriteNotReplayed(t *testing.T) {
	srv, ledger := resetAfter(t, 8<<10)
	tr := newTransport(t, transport.WithRetry(fastPolicy(retry.Policy{})))
	payload := bytes.Repeat([]byte("p"), 64<<10)
	req, _ := http.NewRequest(http.MethodPost, srv.URL, &streamedBody{r: bytes.NewReader(payload)})
	req.ContentLength = int64(len(payload))
	_, err := tr.RoundTrip(req)
	var re *retry.Error
	if !errors.As(err, &re) || re.Attempts != 1 || (re.Stop != retry.ErrPolicy && re.Stop != retry.ErrBodyNotReplayable) {
		t.Fatalf("got %v; want one attempt, stopped by the policy or as not replayable", err)
	}
	if arrivals, _ := ledger.seen(); arrivals != 1 {
		t.Fatalf("the backend saw the POST %d times, want 1", arrivals)
	}
}

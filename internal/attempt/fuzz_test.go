//lint:file-ignore SA1019 x/net/http2.GoAwayError is what x/net/http2 returns up to Go 1.26; the classification must recognise it

package attempt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// fuzzLeaves are the causes a base transport reports, including the two
// unexported ones matched by message.
var fuzzLeaves = []error{
	io.EOF,
	io.ErrUnexpectedEOF,
	syscall.ECONNRESET,
	syscall.EPIPE,
	syscall.ECONNREFUSED,
	context.Canceled,
	context.DeadlineExceeded,
	timeoutErr{},
	errors.New("http: server closed idle connection"),
	errors.New("http2: Transport received Server's graceful shutdown GOAWAY"),
	http2.StreamError{StreamID: 1, Code: http2.ErrCodeRefusedStream},
	http2.StreamError{StreamID: 1, Code: http2.ErrCodeCancel},
	http2.GoAwayError{LastStreamID: 1, ErrCode: http2.ErrCodeNo},
	errors.New("malformed HTTP response"),
}

// fuzzChain builds an error chain from b: the first byte picks the cause,
// each further byte wraps it in one of the ways net/http does.
func fuzzChain(b []byte) error {
	if len(b) == 0 {
		return fuzzLeaves[0]
	}
	err := fuzzLeaves[int(b[0])%len(fuzzLeaves)]
	for i, c := range b[1:] {
		if i >= 16 {
			break
		}
		other := fuzzLeaves[int(c>>3)%len(fuzzLeaves)]
		switch c % 8 {
		case 0:
			err = fmt.Errorf("net/http: %w", err)
		case 1:
			err = &net.OpError{Op: "read", Net: "tcp", Err: err}
		case 2:
			err = &net.OpError{Op: "write", Net: "tcp", Err: err}
		case 3:
			err = &net.OpError{Op: "dial", Net: "tcp", Err: err}
		case 4:
			err = os.NewSyscallError("read", err)
		case 5:
			err = errors.Join(err, other)
		case 6:
			err = fmt.Errorf("%w; %w", other, err)
		case 7:
			err = fmt.Errorf("wrapped: %v", err) // breaks the chain on purpose
		}
	}
	return err
}

func fuzzProgress(bits uint16, written, read uint8) Progress {
	return Progress{
		GotConn:         bits&1 != 0,
		Reused:          bits&2 != 0,
		HTTP2:           bits&4 != 0,
		WroteRequest:    bits&8 != 0,
		HeadersReceived: bits&16 != 0,
		IdleFor:         time.Duration(bits>>5) * time.Millisecond,
		Written:         int64(written),
		Read:            int64(read),
	}
}

func FuzzClassify(f *testing.F) {
	f.Add([]byte{0}, uint16(0b01011), uint8(40), uint8(0))       // EOF after a whole request on a reused conn
	f.Add([]byte{2, 1}, uint16(0b00011), uint8(0), uint8(0))     // reset before anything was written
	f.Add([]byte{4, 3}, uint16(0), uint8(0), uint8(0))           // refused dial
	f.Add([]byte{5, 0, 1}, uint16(0b01011), uint8(40), uint8(0)) // cancel over a read error
	f.Add([]byte{10}, uint16(0b01101), uint8(0), uint8(0))       // REFUSED_STREAM on h2
	f.Add([]byte{9, 0}, uint16(0b00101), uint8(0), uint8(0))     // GOAWAY for an unstarted stream
	f.Add([]byte{8}, uint16(0b00011), uint8(0), uint8(0))        // server closed idle
	f.Add([]byte{1, 5 | 5<<3}, uint16(0b11011), uint8(40), uint8(90))
	f.Fuzz(func(t *testing.T, chain []byte, bits uint16, written, read uint8) {
		orig := fuzzChain(chain)
		p := fuzzProgress(bits, written, read)
		e := Classify(orig, p)
		if e == nil {
			t.Fatal("Classify returned nil for a non-nil error")
		}
		_ = e.Error()
		if !errors.Is(e, orig) {
			t.Errorf("errors.Is(result, original) = false for %v", orig)
		}
		if e.Stage != p.Stage() {
			t.Errorf("Stage = %v, progress says %v", e.Stage, p.Stage())
		}
		if e.Kind == KindCanceled && (e.ResetBeforeHeaders() || errors.Is(e, ErrResetBeforeHeaders)) {
			t.Errorf("canceled attempt reported as reset before headers: %v", e)
		}
		if e.Kind == KindDeadline && errors.Is(e, ErrResetBeforeHeaders) {
			t.Errorf("deadline reported as reset before headers: %v", e)
		}
		if e.Unprocessed() && e.Stage > StageNothingWritten && !e.ServerRefused {
			t.Errorf("unprocessed at stage %v without a refusal: %v", e.Stage, e)
		}
		if e.Unprocessed() != errors.Is(e, ErrUnprocessed) {
			t.Errorf("Unprocessed() = %v but errors.Is(ErrUnprocessed) = %v", e.Unprocessed(), !e.Unprocessed())
		}
		if errors.Is(e, ErrResetBeforeHeaders) && e.Stage == StageHeadersReceived {
			t.Errorf("reset before headers after headers arrived: %v", e)
		}
		if errors.Is(orig, context.Canceled) && e.Kind != KindCanceled {
			t.Errorf("chain holds context.Canceled but Kind = %v", e.Kind)
		}
		if e.ServerRefused && e.Kind != KindRefusedStream && e.Kind != KindGoAway {
			t.Errorf("ServerRefused with Kind = %v", e.Kind)
		}
	})
}

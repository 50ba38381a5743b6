package transport

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/resilient-http/resilient/retry"
)

// patterned returns n bytes that differ from one position to the next, so
// that a byte out of place shows.
func patterned(n int, seed byte) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i*7) + seed
	}
	return p
}

// readAllIn reads r with reads of the given sizes, in turn.
func readAllIn(r io.Reader, sizes []int) ([]byte, error) {
	var out []byte
	for i := 0; ; i++ {
		p := make([]byte, sizes[i%len(sizes)])
		n, err := r.Read(p)
		out = append(out, p[:n]...)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

// TestReplayBodyChunks: a body kept across chunk boundaries, read in reads
// of any size, is replayed byte for byte, also by a reader that takes over
// in the middle; the chunks hold exactly the bytes kept, never more than
// the limit.
func TestReplayBodyChunks(t *testing.T) {
	tests := []struct {
		name  string
		size  int
		limit int64
		sizes []int
	}{
		{"empty", 0, 1 << 20, []int{512}},
		{"one byte", 1, 1 << 20, []int{1}},
		{"one chunk exactly", chunkSize, 1 << 20, []int{4096}},
		{"across chunks, odd reads", 3*chunkSize + 17, 1 << 20, []int{1, 1000, 32 << 10, 7}},
		{"limit exactly the body", 2*chunkSize + 5, 2*chunkSize + 5, []int{32 << 10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := patterned(tt.size, 3)
			b := newReplayBody(io.NopCloser(bytes.NewReader(want)), tt.limit)
			first, _ := b.reader()
			got, err := readAllIn(first, tt.sizes)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("first reader: %d bytes, %v; want the body's %d", len(got), err, len(want))
			}
			if b.size != int64(tt.size) || int64(len(b.chunks)) != (b.size+chunkSize-1)/chunkSize || b.size > tt.limit {
				t.Fatalf("kept %d bytes in %d chunks under limit %d", b.size, len(b.chunks), tt.limit)
			}
			// A retry that takes over half-way and one after it.
			second, _ := b.getBody()
			half := make([]byte, tt.size/2)
			if _, err := io.ReadFull(second, half); err != nil {
				t.Fatal(err)
			}
			third, _ := b.getBody()
			if got, err := readAllIn(third, []int{chunkSize - 1, 3}); err != nil || !bytes.Equal(got, want) {
				t.Fatalf("replay: %d bytes, %v; want the body's %d", len(got), err, len(want))
			}
			if _, err := second.Read(make([]byte, 1)); err != errReplaced {
				t.Fatalf("superseded reader: %v, want errReplaced", err)
			}
		})
	}
}

// TestReplayBodyOverLimitReleases: past the limit the bytes go straight
// through, the kept chunks go back to the pool at once (the only reader
// that could read them has), and no retry can be had.
func TestReplayBodyOverLimitReleases(t *testing.T) {
	want := patterned(5*chunkSize, 9)
	b := newReplayBody(io.NopCloser(bytes.NewReader(want)), 2*chunkSize+100)
	first, _ := b.reader()
	got, err := readAllIn(first, []int{chunkSize})
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("the attempt read %d bytes, %v; want the whole body", len(got), err)
	}
	if !b.over || !b.released || b.chunks != nil {
		t.Fatalf("over %v released %v chunks %d; want the chunks back once over the limit", b.over, b.released, len(b.chunks))
	}
	if b.size > b.limit {
		t.Fatalf("kept %d bytes, more than the limit %d", b.size, b.limit)
	}
	if _, err := b.getBody(); err != retry.ErrBodyNotReplayable {
		t.Fatalf("getBody after the limit: %v, want ErrBodyNotReplayable", err)
	}
}

// TestReplayBodyOnConn: on an HTTP/1 connection a body that can only be
// replayed when nothing was written keeps h1Keep bytes; on HTTP/2, or with
// no h1Keep (an idempotent request, a hook), up to the limit. A later
// connection of the other kind changes what is kept from then on.
func TestReplayBodyOnConn(t *testing.T) {
	tests := []struct {
		name   string
		h1Keep int64
		http1  bool
		over   bool
	}{
		{"POST on HTTP/1", 4096, true, true},
		{"POST on HTTP/2", 4096, false, false},
		{"PUT on HTTP/1", 0, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newReplayBody(io.NopCloser(bytes.NewReader(patterned(8<<10, 1))), 1<<20)
			b.h1Keep = tt.h1Keep
			b.onConn(tt.http1)
			rd, _ := b.reader()
			if _, err := io.Copy(io.Discard, rd); err != nil {
				t.Fatal(err)
			}
			if b.over != tt.over {
				t.Fatalf("over = %v, want %v (limit %d, kept %d)", b.over, tt.over, b.limit, b.size)
			}
		})
	}
	// Nothing written on HTTP/1: what net/http read before its first write
	// is all there, and the retry on an HTTP/2 connection keeps the rest.
	want := patterned(64<<10, 2)
	b := newReplayBody(io.NopCloser(bytes.NewReader(want)), 1<<20)
	b.h1Keep = 4096
	b.onConn(true)
	first, _ := b.reader()
	if _, err := io.ReadFull(first, make([]byte, 4000)); err != nil {
		t.Fatal(err)
	}
	b.onConn(false)
	second, _ := b.getBody()
	if got, err := io.ReadAll(second); err != nil || !bytes.Equal(got, want) || b.over {
		t.Fatalf("retry on HTTP/2: %d bytes, %v, over %v; want the whole body, kept", len(got), err, b.over)
	}
}

// TestReplayBodyReleaseWaitsForBoth: the chunks go back only once the loop
// finished and the last reader was closed, in either order; a late read
// of a closed reader, or a reader handed out before, never sees a chunk
// after that, and closing twice changes nothing.
func TestReplayBodyReleaseWaitsForBoth(t *testing.T) {
	for _, closeFirst := range []bool{true, false} {
		want := patterned(3*chunkSize, 5)
		b := newReplayBody(io.NopCloser(bytes.NewReader(want)), 1<<20)
		first, _ := b.reader()
		if _, err := io.ReadAll(first); err != nil {
			t.Fatal(err)
		}
		last, _ := b.getBody()
		if closeFirst {
			_ = last.Close()
		} else {
			b.finish(false)
		}
		if b.released {
			t.Fatalf("closeFirst=%v: released before both the close and the finish", closeFirst)
		}
		if closeFirst {
			b.finish(false)
		} else {
			_ = last.Close()
		}
		if !b.released {
			t.Fatalf("closeFirst=%v: not released after both", closeFirst)
		}
		_ = last.Close()
		if n, err := last.Read(make([]byte, 10)); n != 0 || err == nil || err == io.EOF {
			t.Fatalf("read after release: %d bytes, %v; want an error", n, err)
		}
		if _, err := first.Read(make([]byte, 10)); err != errReplaced {
			t.Fatalf("superseded reader after release: %v, want errReplaced", err)
		}
		if _, err := b.getBody(); err == nil {
			t.Fatal("getBody after release handed out a reader")
		}
	}
}

// TestReplayBodyFailedWithReaderOpen: a failed loop closes the source at
// once, but the chunks stay with a reader the base still holds, and it
// still reads the right bytes.
func TestReplayBodyFailedWithReaderOpen(t *testing.T) {
	want := patterned(2*chunkSize+1, 4)
	src := &closeCounter{Reader: bytes.NewReader(want)}
	b := newReplayBody(src, 1<<20)
	first, _ := b.reader()
	if _, err := io.ReadAll(first); err != nil {
		t.Fatal(err)
	}
	late, _ := b.getBody()
	b.finish(true)
	if src.closes != 1 || b.released {
		t.Fatalf("after a failed finish: %d closes, released %v; want the source closed, the chunks kept", src.closes, b.released)
	}
	if got, err := io.ReadAll(late); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("late reader: %d bytes, %v", len(got), err)
	}
	_ = late.Close()
	if src.closes != 1 || !b.released {
		t.Fatalf("after the late reader's close: %d closes, released %v", src.closes, b.released)
	}
}

// TestReplayBodyKeepsTheSourceErrorChunked is TestReplayBodyKeepsTheSourceError
// past a chunk: the error outlives the chunks.
func TestReplayBodyKeepsTheSourceErrorChunked(t *testing.T) {
	errGone := errors.New("client went away")
	src := io.NopCloser(io.MultiReader(bytes.NewReader(patterned(chunkSize+10, 0)), iotest.ErrReader(errGone)))
	b := newReplayBody(src, 1<<20)
	rd, _ := b.reader()
	if _, err := io.ReadAll(rd); err != errGone {
		t.Fatalf("got %v, want the source's error", err)
	}
	rd2, err := b.getBody()
	if err != nil {
		t.Fatal(err)
	}
	b.finish(true)
	if _, err := rd2.Read(make([]byte, 1)); err != errGone {
		t.Fatalf("a later reader: %v, want the source's error", err)
	}
	_ = rd2.Close()
	if !b.released {
		t.Fatal("the chunks were not released")
	}
}

// TestReplayBodyShortBodyChunked: a source that ends before its declared
// length is the caller's failure, whatever was kept.
func TestReplayBodyShortBodyChunked(t *testing.T) {
	b := newReplayBody(io.NopCloser(bytes.NewReader(patterned(chunkSize+3, 0))), 1<<20)
	b.declared = 2 * chunkSize
	rd, _ := b.reader()
	if _, err := io.ReadAll(rd); err != errShortBody || b.readErr() != errShortBody {
		t.Fatalf("got %v (readErr %v), want errShortBody", err, b.readErr())
	}
}

// blockingSource hands out its bytes one read at a time, each only when
// the test lets it, and tells when a read has started.
type blockingSource struct {
	data    []byte
	entered chan struct{}
	step    chan int // how many bytes the read returns
}

func (s *blockingSource) Read(p []byte) (int, error) {
	s.entered <- struct{}{}
	n := <-s.step
	if len(s.data) == 0 {
		return 0, io.EOF
	}
	n = min(n, len(p), len(s.data))
	copy(p, s.data[:n])
	s.data = s.data[n:]
	return n, nil
}

func (s *blockingSource) Close() error { return nil }

// TestReplayBodySupersededReadKeepsOrLoses: a read that was blocked on the
// source while a retry took over keeps its bytes for the retry, in order;
// one that would pass the limit makes the retry fail with
// ErrBodyNotReplayable where the bytes would have been, never skip them.
func TestReplayBodySupersededReadKeepsOrLoses(t *testing.T) {
	for _, fits := range []bool{true, false} {
		want := patterned(3000, 6)
		src := &blockingSource{data: want, entered: make(chan struct{}), step: make(chan int)}
		limit := int64(3000)
		if !fits {
			limit = 1500
		}
		b := newReplayBody(src, limit)
		first, _ := b.reader()
		type result struct {
			n   int
			err error
		}
		read := func(rd io.Reader) chan result {
			c := make(chan result, 1)
			go func() {
				n, err := rd.Read(make([]byte, 1000))
				c <- result{n, err}
			}()
			return c
		}
		r1 := read(first)
		<-src.entered
		src.step <- 1000
		if r := <-r1; r.n != 1000 || r.err != nil {
			t.Fatal(r.n, r.err)
		}
		blocked := read(first)
		<-src.entered // the read holds b.read and waits on the source
		second, err := b.getBody()
		if err != nil {
			t.Fatal(err)
		}
		src.step <- 1000
		if r := <-blocked; r.err != errReplaced || r.n != 0 {
			t.Fatalf("the superseded read returned %d, %v; want errReplaced", r.n, r.err)
		}
		quit := make(chan struct{})
		go func() {
			for {
				select {
				case <-src.entered:
					src.step <- 1000
				case <-quit:
					return
				}
			}
		}()
		got, err := io.ReadAll(second)
		close(quit)
		if fits {
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("the retry read %d bytes, %v; want the whole body in order", len(got), err)
			}
		} else if !errors.Is(err, retry.ErrBodyNotReplayable) || len(got) != 1000 {
			t.Fatalf("the retry read %d bytes, %v; want the 1000 kept, then ErrBodyNotReplayable", len(got), err)
		}
		if b.size > limit {
			t.Fatalf("kept %d bytes past the limit %d", b.size, limit)
		}
	}
}

// TestReplayBodyConcurrentReaders, under -race: readers handed out through
// GetBody, read from many goroutines, closed twice, read late after the
// loop finished and the chunks went back, while other bodies take the
// same chunks from the pool and fill them, never see a byte that is not
// their body's at its place.
func TestReplayBodyConcurrentReaders(t *testing.T) {
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			for i := range 30 {
				want := patterned(1+rng.IntN(4*chunkSize), byte(g*31+i))
				b := newReplayBody(io.NopCloser(bytes.NewReader(want)), 1<<20)
				first, _ := b.reader()
				var readers []io.ReadCloser
				readers = append(readers, first)
				for range 3 {
					if rd, err := b.getBody(); err == nil {
						readers = append(readers, rd)
					}
				}
				var rw sync.WaitGroup
				for k, rd := range readers {
					rw.Add(1)
					go func() {
						defer rw.Done()
						got, err := readAllIn(rd, []int{1 + k*999})
						if err == nil && !bytes.Equal(got, want) {
							t.Errorf("reader %d read %d bytes that are not the body", k, len(got))
						}
						if err == nil || err == errReplaced || errors.Is(err, errReadAfterClose) {
							if !bytes.Equal(got, want[:len(got)]) {
								t.Errorf("reader %d read bytes that are not the body's", k)
							}
						}
						_ = rd.Close()
						_ = rd.Close()
					}()
				}
				b.finish(rng.IntN(2) == 0)
				rw.Wait()
				// Late reads after everything.
				for _, rd := range readers {
					if n, err := rd.Read(make([]byte, 64)); n > 0 && err == nil {
						t.Errorf("a late read after release returned %d bytes", n)
					}
				}
			}
		}()
	}
	wg.Wait()
}

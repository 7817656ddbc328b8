package api

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The tests here talk to a real server over TCP on 127.0.0.1 with raw
// bytes, since an HTTP client refuses to send most of these requests.

// serveTCP runs e's server on a loopback port until the test ends.
func serveTCP(t *testing.T, e *testEnv) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- e.s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := e.s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return ln.Addr().String()
}

// exchange writes head and then body (from another goroutine, as a client
// still sending would, and ignoring the write errors a server closing the
// connection causes), reads one response and then expects the server to
// close the connection cleanly.
func exchange(t *testing.T, addr, head string, body io.Reader) response {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
	go func() {
		if _, err := io.WriteString(conn, head); err != nil || body == nil {
			return
		}
		_, _ = io.Copy(conn, body)
	}()
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading the response to %.80q: %v", head, err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("reading the body of %.80q: %v", head, err)
	}
	if !resp.Close {
		t.Errorf("%.80q: the answer does not say Connection: close", head)
	}
	// The server closes its side cleanly: EOF, not a second response, and
	// not a reset, which a client still sending would get from a plain
	// close (lineConn.Close lingers to prevent it).
	if n, err := br.Read(make([]byte, 1)); n != 0 || !errors.Is(err, io.EOF) {
		t.Errorf("%.80q: after the answer read %d bytes, %v; want the connection closed cleanly", head, n, err)
	}
	return response{status: resp.StatusCode, ctype: resp.Header.Get("Content-Type"), body: b}
}

// repeat is n bytes of c without holding them in memory.
func repeat(c byte, n int64) io.Reader { return io.LimitReader(byteReader(c), n) }

type byteReader byte

func (b byteReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(b)
	}
	return len(p), nil
}

// TestTransportErrors sends requests fasthttp cannot read, or the handler
// refuses before routing, over TCP; each gets the catalogue's error as
// JSON, the connection is closed after it, and nothing reaches Kafka.
func TestTransportErrors(t *testing.T) {
	e := newEnv(t, Options{ReadTimeout: 300 * time.Millisecond, MaxBodyBytes: 1 << 10})
	addr := serveTCP(t, e)
	const restock = "POST /v1/inventory/sku-1/restock HTTP/1.1\r\nHost: titan\r\nContent-Type: application/json\r\n"
	for _, c := range []struct {
		name string
		head string
		body io.Reader
		code Code
	}{
		{"body slower than the read timeout", restock + "Content-Length: 20\r\n\r\n{\"qty\"", nil, errRequestTimeout.Code},
		{"headers slower than the read timeout", "GET /healthz HTTP/1.1\r\nHost: titan\r\n", nil, errRequestTimeout.Code},
		{"body far over the limit, announced", restock + "Content-Length: 10485760\r\n\r\n", nil, errBodyTooLarge.Code},
		{"body far over the limit, sent", restock + "Content-Length: 1048576\r\n\r\n", repeat(' ', 1<<20), errBodyTooLarge.Code},
		{"URI over the limit", "GET /v1/inventory/" + strings.Repeat("a", 3<<10) + " HTTP/1.1\r\nHost: titan\r\n\r\n", nil, errURITooLong.Code},
		{"request line over the buffer", "GET /v1/inventory/" + strings.Repeat("a", 64<<10) + " HTTP/1.1\r\nHost: titan\r\n\r\n", nil, errURITooLong.Code},
		{"1 MB request line, still sending", "GET /v1/inventory/", repeat('a', 1<<20), errURITooLong.Code},
		{"1 MB header, still sending", "GET /healthz HTTP/1.1\r\nHost: titan\r\nX-Big: ", repeat('x', 1<<20), errHeadersTooLarge.Code},
		{"many small headers", "GET /healthz HTTP/1.1\r\nHost: titan\r\n" + strings.Repeat("X-Small: 0123456789abcdef\r\n", 300) + "\r\n", nil, errHeadersTooLarge.Code},
		{"URI under the limit, headers over the buffer", "GET /v1/inventory/" + strings.Repeat("a", 1<<10) + " HTTP/1.1\r\nHost: titan\r\nX-Big: " + strings.Repeat("x", 4<<10) + "\r\n\r\n", nil, errHeadersTooLarge.Code},
		{"not HTTP", "HELLO\r\n\r\n", nil, errMalformedRequest.Code},
		{"HTTP/1.1 without Host", "GET /healthz HTTP/1.1\r\n\r\n", nil, errMalformedRequest.Code},
		{"bad Content-Length", restock + "Content-Length: ten\r\n\r\n", nil, errMalformedRequest.Code},
	} {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			checkError(t, exchange(t, addr, c.head, c.body), c.code)
			if c.code == errRequestTimeout.Code && time.Since(start) < 300*time.Millisecond {
				t.Errorf("answered after %v, before the read timeout", time.Since(start))
			}
		})
	}
	if n := len(e.k.sent()); n != 0 {
		t.Errorf("%d commands sent", n)
	}
	// The server still serves, and a request just under the limits passes.
	ok := fmt.Sprintf("GET /v1/inventory/%s HTTP/1.1\r\nHost: titan\r\nConnection: close\r\n\r\n", strings.Repeat("a", 128))
	if r := exchange(t, addr, ok, nil); r.status != 200 {
		t.Errorf("a good request after them: %d %s", r.status, r)
	}
}

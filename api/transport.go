package api

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// Limits of what a request may look like before any endpoint reads it.
//
// fasthttp reads the request line and the header fields into one buffer
// of ReadBufferSize bytes and reports a request that overflows it as
// *fasthttp.ErrSmallBuffer, whichever part was too long. Whether the
// request line had ended by then tells a URI too long (414) from header
// fields too large (431); lineConn keeps count of that. A URI that fits
// the buffer but is longer than maxURIBytes is refused by the handler
// (414), whatever the rest of the request.
const (
	readBufferBytes = 4 << 10 // fasthttp's default: what Titan has always served
	// maxURIBytes is far above what any route needs: the longest, a
	// purchase, is under 600 bytes with both ids percent-escaped in full.
	maxURIBytes = 2 << 10
)

// After refusing a request at the transport level fasthttp answers and
// closes the connection, possibly with the client still sending (a body
// over the limit, a megabyte of headers). Closing a socket with unread
// input makes the kernel send a reset, which can reach the client before
// it has read the answer and destroy it. So the connection is half-closed
// first and what the client still sends is read and dropped, until it
// closes or lingerFor passes: the answer then arrives whole. net/http
// does the same (closeWriteAndWait).
const (
	lingerFor   = 500 * time.Millisecond
	lingerBytes = 1 << 20
)

// transportError is fasthttp's ErrorHandler: it answers a request that
// could not be read with the catalogue's error.
func (s *Server) transportError(ctx *fasthttp.RequestCtx, err error) {
	lc, _ := ctx.Conn().(*lineConn)
	if lc != nil {
		lc.linger.Store(true)
	}
	var (
		small   *fasthttp.ErrSmallBuffer
		timeout interface{ Timeout() bool }
	)
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		s.fail(ctx, errBodyTooLarge)
	case errors.As(err, &small) && lc != nil && lc.requestLineOpen():
		s.fail(ctx, errURITooLong)
	case errors.As(err, &small):
		s.fail(ctx, errHeadersTooLarge)
	case errors.As(err, &timeout) && timeout.Timeout():
		s.fail(ctx, errRequestTimeout)
	default:
		s.fail(ctx, errMalformedRequest)
	}
}

// lineListener hands fasthttp lineConns.
type lineListener struct{ net.Listener }

func (l lineListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &lineConn{Conn: c}, nil
}

// lineConn counts the bytes read since the last line feed. When fasthttp
// reports its buffer full of a request's head, the buffer holds the last
// readBufferBytes bytes read, from the start of the request on; if none of
// them is a line feed, the request line alone did not fit. One goroutine
// serves a connection, and the ErrorHandler runs on it, so sinceLF needs
// no lock; Shutdown may close an idle connection from another.
type lineConn struct {
	net.Conn
	sinceLF int64
	linger  atomic.Bool // close as described at lingerFor
}

func (c *lineConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if i := bytes.LastIndexByte(p[:n], '\n'); i >= 0 {
		c.sinceLF = int64(n - 1 - i)
	} else {
		c.sinceLF += int64(n)
	}
	return n, err
}

func (c *lineConn) requestLineOpen() bool { return c.sinceLF >= readBufferBytes }

func (c *lineConn) Close() error {
	if c.linger.Swap(false) {
		if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil &&
			c.Conn.SetReadDeadline(time.Now().Add(lingerFor)) == nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(c.Conn, lingerBytes))
		}
	}
	return c.Conn.Close()
}

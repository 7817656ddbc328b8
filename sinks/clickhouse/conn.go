// Package clickhouse is the connection Titan's analytics sinks and dashboards keep to ClickHouse,
// over the native protocol with clickhouse-go.
//
// The code here must run on Debian's ClickHouse 18.16, which the tests run against, as well as on
// a current server. What that rules out: the HTTP interface (18.16's does not work with
// clickhouse-go v2), a batch INSERT without its column list (18.16 answers with an empty header and
// the batch cannot be filled), a literal INSERT ... VALUES through Exec (it hangs until the read
// timeout), and DateTime64, TTL, CODEC, async inserts, server-side query parameters and
// string-valued settings. Every statement therefore goes through Exec or a Batch whose INSERT
// names its columns, and a read that does not come back within ReadTimeout fails rather than hangs.
package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Options say where the server is.
type Options struct {
	// Addr is host:port of the native protocol (9000 by default on a server).
	Addr     string
	Database string
	Username string
	Password string
	// ReadTimeout bounds every read from the server; zero means DefaultReadTimeout.
	ReadTimeout time.Duration
}

// DefaultReadTimeout is short on purpose: a statement 18.16 does not understand can leave the
// driver waiting for an answer that never comes.
const DefaultReadTimeout = 30 * time.Second

// Conn is one connection pool to the server.
type Conn struct {
	driver.Conn
}

// Open connects and checks the server answers.
func Open(ctx context.Context, o Options) (*Conn, error) {
	c, err := Dial(o)
	if err != nil {
		return nil, err
	}
	if err := c.Ping(ctx); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("clickhouse: %s: %w", o.Addr, err)
	}
	return c, nil
}

// Dial returns a connection pool without waiting for the server: each use connects, so a server
// that is down now and up later serves the uses after.
func Dial(o Options) (*Conn, error) {
	if o.Addr == "" {
		return nil, errors.New("clickhouse: no address")
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = DefaultReadTimeout
	}
	if o.Username == "" {
		o.Username = "default"
	}
	conn, err := ch.Open(&ch.Options{
		Protocol:    ch.Native,
		Addr:        []string{o.Addr},
		Auth:        ch.Auth{Database: o.Database, Username: o.Username, Password: o.Password},
		DialTimeout: 5 * time.Second,
		ReadTimeout: o.ReadTimeout,
	})
	if err != nil {
		return nil, fmt.Errorf("clickhouse: %w", err)
	}
	return &Conn{conn}, nil
}

// insertColumns matches an INSERT that names its columns.
var insertColumns = regexp.MustCompile(`(?is)^\s*INSERT\s+INTO\s+[\w.]+\s*\(`)

// Batch prepares a batch insert. The statement must name its columns (INSERT INTO t (a, b)), which
// 18.16 needs to send the batch's header.
func (c *Conn) Batch(ctx context.Context, insert string) (driver.Batch, error) {
	if !insertColumns.MatchString(insert) {
		return nil, fmt.Errorf("clickhouse: %q: a batch INSERT must name its columns", insert)
	}
	b, err := c.PrepareBatch(ctx, insert)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: prepare %q: %w", insert, err)
	}
	return b, nil
}

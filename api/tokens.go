package api

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
)

// The tokens file: one token a line, followed by its scopes.
//
//	# CI deploys, read and write
//	3f9c0d2e7b5a41c8a6e1f0b9d4c7e2a1 read command
//	9a1b2c3d4e5f60718293a4b5c6d7e8f9 admin
//
// Blank lines and everything after a '#' are ignored. A token is 16 to 512
// characters of the RFC 6750 token syntax (letters, digits, - . _ ~ + /,
// then any '='), so whatever the file holds can be sent in a Bearer header.

// scope is a set of permissions, one bit each.
type scope uint8

const (
	scopeRead scope = 1 << iota
	scopeCommand
	scopeAdmin
)

// scopeAll is what admin grants: every scope there is.
const scopeAll = scopeRead | scopeCommand | scopeAdmin

var scopeNames = map[string]scope{"read": scopeRead, "command": scopeCommand, "admin": scopeAll}

func (s scope) String() string {
	switch s {
	case scopeRead:
		return "read"
	case scopeCommand:
		return "command"
	}
	return "admin"
}

const (
	minTokenLen  = 16
	maxTokenLen  = 512
	maxLineBytes = 64 << 10
)

// ErrTokensFile is wrapped by every error that a tokens file's content
// causes (not by one that reading it causes).
var ErrTokensFile = errors.New("api: invalid tokens file")

// TokensFileError names the line of a tokens file that is wrong.
type TokensFileError struct {
	Path   string
	Line   int // 1-based; 0 for the file as a whole
	Reason string
}

func (e *TokensFileError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("api: tokens file %s: %s", e.Path, e.Reason)
	}
	return fmt.Sprintf("api: tokens file %s line %d: %s", e.Path, e.Line, e.Reason)
}

func (e *TokensFileError) Unwrap() error { return ErrTokensFile }

// Tokens are the bearer tokens the API accepts, read from a file and read
// again by Reload. Requests see either the old set or the new one whole,
// never a mix, and a file that does not parse changes nothing.
type Tokens struct {
	path string
	set  atomic.Pointer[tokenSet]
}

// tokenSet holds digests, not tokens: a lookup compares fixed-size
// digests in constant time, so neither a token's length nor how much of
// it a guess got right shows in the time an answer takes.
type tokenSet struct {
	digests [][sha256.Size]byte
	scopes  []scope
}

// LoadTokens reads the tokens file at path.
func LoadTokens(path string) (*Tokens, error) {
	t := &Tokens{path: path}
	if err := t.Reload(); err != nil {
		return nil, err
	}
	return t, nil
}

// Reload reads the file again. On error the tokens in force stay.
func (t *Tokens) Reload() error {
	f, err := os.Open(t.path)
	if err != nil {
		return fmt.Errorf("api: tokens file: %w", err)
	}
	defer f.Close()
	set, err := parseTokens(t.path, f)
	if err != nil {
		return err
	}
	t.set.Store(set)
	return nil
}

// Path is the file the tokens come from.
func (t *Tokens) Path() string { return t.path }

// Len is how many tokens are in force.
func (t *Tokens) Len() int { return len(t.set.Load().digests) }

// scopesOf returns the scopes of token, none for a token not in force.
// Every entry is compared, and the result is assembled without a branch
// on any comparison, so the time taken depends only on how many tokens
// are in force, not on which one (if any) matched.
func (t *Tokens) scopesOf(token []byte) scope {
	set := t.set.Load()
	d := sha256.Sum256(token)
	var got int
	for i := range set.digests {
		eq := subtle.ConstantTimeCompare(d[:], set.digests[i][:])
		got |= subtle.ConstantTimeSelect(eq, int(set.scopes[i]), 0)
	}
	return scope(got)
}

func parseTokens(path string, r io.Reader) (*tokenSet, error) {
	set := &tokenSet{}
	firstLine := map[[sha256.Size]byte]int{}
	bad := func(line int, format string, args ...any) error {
		return &TokensFileError{Path: path, Line: line, Reason: fmt.Sprintf(format, args...)}
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLineBytes)
	n := 0
	for sc.Scan() {
		n++
		line, _, _ := bytes.Cut(sc.Bytes(), []byte("#"))
		fields := strings.Fields(string(line))
		if len(fields) == 0 {
			continue
		}
		tok := fields[0]
		if reason := checkToken(tok); reason != "" {
			// The token itself stays out of the message: it goes to logs.
			return nil, bad(n, "the token %s", reason)
		}
		if len(fields) == 1 {
			return nil, bad(n, "the token has no scopes; give one or more of read, command, admin")
		}
		var granted scope
		for _, name := range fields[1:] {
			s, ok := scopeNames[name]
			if !ok {
				return nil, bad(n, "unknown scope %q; the scopes are read, command and admin", name)
			}
			granted |= s
		}
		d := sha256.Sum256([]byte(tok))
		if first, dup := firstLine[d]; dup {
			return nil, bad(n, "the token is on line %d already; give each token once, with all its scopes", first)
		}
		firstLine[d] = n
		set.digests = append(set.digests, d)
		set.scopes = append(set.scopes, granted)
	}
	if err := sc.Err(); errors.Is(err, bufio.ErrTooLong) {
		return nil, bad(n+1, "the line is longer than %d bytes", maxLineBytes)
	} else if err != nil {
		return nil, fmt.Errorf("api: tokens file %s: %w", path, err)
	}
	if len(set.digests) == 0 {
		// Most likely a file caught half-written; refusing every request
		// would be the wrong way to find out.
		return nil, bad(0, "no tokens")
	}
	return set, nil
}

// checkToken applies the token68 syntax of RFC 6750 and the length
// bounds; it returns what is wrong, or "".
func checkToken(tok string) string {
	if len(tok) < minTokenLen || len(tok) > maxTokenLen {
		return fmt.Sprintf("is %d characters; tokens are %d to %d", len(tok), minTokenLen, maxTokenLen)
	}
	if !isToken68(tok) {
		return "has a character a Bearer token cannot carry (allowed: letters, digits, - . _ ~ + / and trailing =)"
	}
	return ""
}

func isToken68(s string) bool {
	body := strings.TrimRight(s, "=")
	if body == "" {
		return false
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/':
		default:
			return false
		}
	}
	return true
}

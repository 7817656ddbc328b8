package api

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTokensFileErrors: a malformed file is refused with the line at
// fault named, and never with the token in the message (it goes to logs).
func TestTokensFileErrors(t *testing.T) {
	const good = "good-token-0123456789 read\n"
	for _, c := range []struct {
		name, content string
		line          int
		reason        string
	}{
		{"no scopes", good + "\n  lonely-token-0123456789   # comment\n", 3, "no scopes"},
		{"unknown scope", good + "token-0123456789abc read write\n", 2, `unknown scope "write"`},
		{"scope in upper case", "token-0123456789abc READ\n", 1, `unknown scope "READ"`},
		{"short token", good + "# x\nshort-token read\n", 3, "is 11 characters"},
		{"long token", strings.Repeat("t", 513) + " read\n", 1, "is 513 characters"},
		{"bad character", good + "token-0123456789\"abc read\n", 2, "cannot carry"},
		{"equals inside", "token=0123456789abc read\n", 1, "cannot carry"},
		{"only equals", "================ read\n", 1, "cannot carry"},
		{"non-ASCII", "tökén-0123456789abc read\n", 1, "cannot carry"},
		{"same token twice", good + "other-token-0123456789 command\n" + "good-token-0123456789 command\n", 3, "on line 1 already"},
		{"no tokens", "# nothing here\n\n", 0, "no tokens"},
		{"empty", "", 0, "no tokens"},
		{"line too long", good + "# " + strings.Repeat("x", maxLineBytes) + "\n", 2, "longer than"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "tokens")
			if err := os.WriteFile(path, []byte(c.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := LoadTokens(path)
			var fe *TokensFileError
			if !errors.As(err, &fe) || !errors.Is(err, ErrTokensFile) {
				t.Fatalf("error %v, want a *TokensFileError", err)
			}
			if fe.Line != c.line || !strings.Contains(fe.Reason, c.reason) || fe.Path != path {
				t.Errorf("error %q (line %d), want line %d and %q", err, fe.Line, c.line, c.reason)
			}
			if !strings.HasPrefix(err.Error(), "api: tokens file "+path) {
				t.Errorf("error %q does not name the file", err)
			}
			for _, secret := range []string{"good-token", "lonely-token", "other-token", "token-0123456789abc"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q shows a token", err)
				}
			}
		})
	}
	if _, err := LoadTokens(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, os.ErrNotExist) || errors.Is(err, ErrTokensFile) {
		t.Errorf("a missing file: %v", err)
	}
}

// TestTokensScopes: each token gets its scopes, admin all of them, and
// nothing else gets any: not a prefix, not a token with a line's comment
// or another's scopes appended.
func TestTokensScopes(t *testing.T) {
	tokens := writeTokens(t, "\r\n# comment\r\n"+
		"read-token-0123456789\tread\r\n"+
		"   both-token-0123456789 command read read   \n"+
		"cmd-token-0123456789 command#no space before the comment\n"+
		"admin.token_0123456789~+/== admin\n")
	if tokens.Len() != 4 {
		t.Fatalf("%d tokens, want 4", tokens.Len())
	}
	for token, want := range map[string]scope{
		"read-token-0123456789":       scopeRead,
		"both-token-0123456789":       scopeRead | scopeCommand,
		"cmd-token-0123456789":        scopeCommand,
		"admin.token_0123456789~+/==": scopeAll,
		"admin.token_0123456789~+/=":  0,
		"read-token-012345678":        0,
		"read-token-0123456789 ":      0,
		"read-token-0123456789 read":  0,
		"cmd-token-0123456789#no":     0,
		"READ-TOKEN-0123456789":       0,
		"":                            0,
	} {
		if got := tokens.scopesOf([]byte(token)); got != want {
			t.Errorf("%q: scopes %b, want %b", token, got, want)
		}
	}
}

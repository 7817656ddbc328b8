package main

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/titan-commerce/titan/api"
	"github.com/titan-commerce/titan/internal/instance"
)

func TestHelpNamesEveryVariable(t *testing.T) {
	var out bytes.Buffer
	if code := run([]string{"help"}, &out, &out); code != 0 {
		t.Fatalf("help exited %d", code)
	}
	for _, v := range []string{"TITAN_KAFKA_BROKERS", "TITAN_STATE_DIR", "TITAN_HTTP_ADDR", "TITAN_PARTITIONS", "TITAN_TOPOLOGIES", "in memory",
		"TITAN_API_TOKENS_FILE", "TITAN_API_READ_AUTH", "TITAN_API_ALLOWED_HOSTS", "SIGHUP"} {
		if !strings.Contains(out.String(), v) {
			t.Errorf("help does not mention %s", v)
		}
	}
}

func TestFlagsWinOverEnvironment(t *testing.T) {
	t.Setenv("TITAN_KAFKA_BROKERS", "127.0.0.1:1, 127.0.0.1:2")
	t.Setenv("TITAN_PARTITIONS", "16")
	t.Setenv("TITAN_HTTP_ADDR", "127.0.0.1:9999")
	fs, load := runFlags(&bytes.Buffer{})
	if err := fs.Parse([]string{"--partitions", "4", "--command-wait", "3s"}); err != nil {
		t.Fatal(err)
	}
	cfg, _, err := load()
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Brokers) != 2 || cfg.Brokers[1] != "127.0.0.1:2" {
		t.Errorf("brokers %q", cfg.Brokers)
	}
	if cfg.Partitions != 4 {
		t.Errorf("partitions %d: the flag must win", cfg.Partitions)
	}
	if cfg.HTTPAddr != "127.0.0.1:9999" || cfg.CommandWait != 3*time.Second {
		t.Errorf("http %q wait %v", cfg.HTTPAddr, cfg.CommandWait)
	}
}

func TestDefaults(t *testing.T) {
	// make test exports the test broker; the defaults are what a bare
	// environment gets.
	for _, v := range []string{"TITAN_KAFKA_BROKERS", "TITAN_HTTP_ADDR", "TITAN_PARTITIONS"} {
		t.Setenv(v, "")
	}
	fs, load := runFlags(&bytes.Buffer{})
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	cfg, _, err := load()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTPAddr != "127.0.0.1:8080" || len(cfg.Brokers) != 0 || cfg.Partitions != 8 {
		t.Errorf("defaults %+v", cfg)
	}
	// The liveness beacon listens on loopback unless told otherwise.
	if cfg.PeerAddr != "127.0.0.1:0" || cfg.PeerAdvertise != "" {
		t.Errorf("peer defaults %q, %q", cfg.PeerAddr, cfg.PeerAdvertise)
	}
}

func TestBadConfigurationExits2(t *testing.T) {
	for _, args := range [][]string{
		{"run", "--partitions", "-1"},
		{"run", "--brokers", "no-port"},
		{"run", "--topologies", "nope"},
		{"run", "--sync", "sometimes"},
		{"run", "--brokers", "127.0.0.1:9092", "--peer-addr", "no-port"},
		{"run", "--brokers", "127.0.0.1:9092", "--peer-advertise", "10.0.0.1"},
		{"run", "--log-level", "loud"},
		{"run", "--no-such-flag"},
		{"frobnicate"},
	} {
		var errOut bytes.Buffer
		if code := run(args, &bytes.Buffer{}, &errOut); code != 2 {
			t.Errorf("%q exited %d, want 2 (%s)", args, code, errOut.String())
		}
	}
	t.Setenv("TITAN_PARTITIONS", "many")
	if code := run([]string{"run"}, &bytes.Buffer{}, &bytes.Buffer{}); code != 2 {
		t.Errorf("bad TITAN_PARTITIONS exited %d, want 2", code)
	}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestAPIAccessFlags: the three access settings come from flags or the
// environment, the tokens file is read at load, and the printed config
// names the file but never a token.
func TestAPIAccessFlags(t *testing.T) {
	const token = "ops-token-0123456789abcdef"
	path := writeFile(t, "tokens", "# ops\n"+token+" admin\n")
	t.Setenv("TITAN_API_TOKENS_FILE", path)
	t.Setenv("TITAN_API_READ_AUTH", "true")
	t.Setenv("TITAN_API_ALLOWED_HOSTS", "titan.internal, 10.0.0.7")
	fs, load := runFlags(&bytes.Buffer{})
	if err := fs.Parse([]string{"--api-allowed-hosts", "titan.example"}); err != nil {
		t.Fatal(err)
	}
	cfg, _, err := load()
	if err != nil {
		t.Fatal(err)
	}
	a := cfg.APIAccess
	if a.Tokens == nil || a.Tokens.Path() != path || a.Tokens.Len() != 1 || !a.ReadAuth ||
		len(a.AllowedHosts) != 1 || a.AllowedHosts[0] != "titan.example" {
		t.Errorf("access %+v: want the file's token, read auth and the flag's host", a)
	}
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	printed := cfg.String()
	for _, want := range []string{"api_tokens_file=" + path + " (1 tokens)", "api_read_auth=true", "api_allowed_hosts=titan.example"} {
		if !strings.Contains(printed, want) {
			t.Errorf("config does not say %q:\n%s", want, printed)
		}
	}
	if strings.Contains(printed, token) {
		t.Errorf("config shows the token:\n%s", printed)
	}
}

// TestBadAPIAccessExits2: a tokens file that does not parse stops the
// start with its line named, and so do the access settings that cannot
// work; nothing is started.
func TestBadAPIAccessExits2(t *testing.T) {
	bad := writeFile(t, "tokens", "good-token-0123456789 command\n\nbad-token-0123456789 write\n")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--api-tokens-file", bad}, "tokens file " + bad + " line 3: unknown scope \"write\""},
		{[]string{"run", "--api-tokens-file", bad + ".missing"}, "no such file"},
		{[]string{"run", "--api-read-auth"}, "read auth needs a tokens file"},
		{[]string{"run", "--api-allowed-hosts", "titan.internal:8080"}, "without a port"},
	} {
		var errOut bytes.Buffer
		if code := run(c.args, &bytes.Buffer{}, &errOut); code != 2 || !strings.Contains(errOut.String(), c.want) {
			t.Errorf("%q exited %d with %q; want 2 and %q", c.args, code, errOut.String(), c.want)
		}
	}
}

// TestSinkNeedsClickHouse: titan run --sink without ClickHouse's address
// stops at start, as any setting that cannot work does.
func TestSinkNeedsClickHouse(t *testing.T) {
	t.Setenv("TITAN_CLICKHOUSE_ADDR", "") // make test sets it
	var errOut bytes.Buffer
	if code := run([]string{"run", "--sink"}, &bytes.Buffer{}, &errOut); code != 2 || !strings.Contains(errOut.String(), "sink needs ClickHouse's address") {
		t.Errorf("run --sink exited %d with %q", code, errOut.String())
	}
}

// TestAnnounceAPI: an open API is announced once, plainly, as a warning;
// one with tokens says how many and from where, never which.
func TestAnnounceAPI(t *testing.T) {
	var out bytes.Buffer
	cfg := instance.Config{HTTPAddr: "0.0.0.0:8080", Logger: slog.New(slog.NewTextHandler(&out, nil))}
	announceAPI(cfg)
	if got := out.String(); strings.Count(got, "\n") != 1 || !strings.Contains(got, "level=WARN") ||
		!strings.Contains(got, "API OPEN") || !strings.Contains(got, "anyone who can reach 0.0.0.0:8080") {
		t.Errorf("open API announced as %q", got)
	}
	out.Reset()
	const token = "ops-token-0123456789abcdef"
	tokens, err := api.LoadTokens(writeFile(t, "tokens", token+" command\n"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.APIAccess = api.Access{Tokens: tokens}
	announceAPI(cfg)
	if got := out.String(); strings.Contains(got, "OPEN") || !strings.Contains(got, "tokens=1") || strings.Contains(got, token) {
		t.Errorf("API with tokens announced as %q", got)
	}
	out.Reset()
	cfg.HTTPAddr = ""
	announceAPI(cfg)
	if out.Len() != 0 {
		t.Errorf("an instance without an API announced %q", out.String())
	}
}

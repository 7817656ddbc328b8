package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestHelpNamesEveryVariable(t *testing.T) {
	var out bytes.Buffer
	if code := run([]string{"help"}, &out, &out); code != 0 {
		t.Fatalf("help exited %d", code)
	}
	for _, v := range []string{"TITAN_KAFKA_BROKERS", "TITAN_STATE_DIR", "TITAN_HTTP_ADDR", "TITAN_PARTITIONS", "TITAN_TOPOLOGIES", "in memory"} {
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
}

func TestBadConfigurationExits2(t *testing.T) {
	for _, args := range [][]string{
		{"run", "--partitions", "-1"},
		{"run", "--brokers", "no-port"},
		{"run", "--topologies", "nope"},
		{"run", "--sync", "sometimes"},
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

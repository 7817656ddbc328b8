package main

import (
	"errors"
	"fmt"
	"io"
	"syscall"

	"github.com/titan-commerce/titan/internal/instance"
)

// startFailed reports why titan run could not start and returns its exit
// code. An API address that cannot be listened on is said in the terms of
// the flag that sets it, which a bare "bind: address already in use" does
// not name.
func startFailed(cfg instance.Config, err error, stderr io.Writer) int {
	if !errors.Is(err, instance.ErrHTTPListen) {
		cfg.Logger.Error("start failed", "err", err)
		return 1
	}
	why := err.Error()
	if errors.Is(err, syscall.EADDRINUSE) {
		why = "the address is in use: another titan, or another program, listens there"
	}
	fmt.Fprintf(stderr, "titan: --http-addr %s: %s; stop it, or give another address with --http-addr or TITAN_HTTP_ADDR\n", cfg.HTTPAddr, why)
	return 1
}

// Command vcci runs the whole platform locally with no setup (the embedded
// default), generates spend files, and runs the end-to-end and API benchmarks.
//
//	vcci run                          all five services and the REST gateway
//	vcci gen -rows N -o FILE          a deterministic spend CSV
//	vcci bench-e2e -rows N -bin DIR   upload N rows through REST, measured
//	vcci bench-api [flags]            ghz and a REST load against every service
//	vcci service-token rotate|retire  rotate the services' credential
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmd, args := "run", os.Args[1:]
	if len(args) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "run":
		err = runLocal(ctx, args)
	case "gen":
		err = gen(args)
	case "bench-e2e":
		err = benchE2E(ctx, args)
	case "bench-api":
		err = benchAPI(ctx, args)
	case "service-token":
		err = serviceToken(ctx, args, os.Stdout)
	default:
		err = fmt.Errorf("unknown command %q: want run, gen, bench-e2e, bench-api or service-token", cmd)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "vcci:", err)
		os.Exit(1)
	}
}

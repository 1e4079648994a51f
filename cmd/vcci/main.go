// Command vcci runs the whole platform locally with no setup (the embedded
// default), generates spend files, and runs the end-to-end and API benchmarks.
//
//	vcci run                          all five services and the REST gateway
//	vcci gen -rows N -o FILE [-mix]   a deterministic spend CSV; -mix: spend and activity lines
//	vcci bench-e2e -rows N -bin DIR   upload N rows through REST, measured
//	vcci bench-api [flags]            ghz and a REST load against every service
//	vcci service-token rotate|retire  rotate the services' credential
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := dispatch(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "vcci:", err)
		os.Exit(1)
	}
}

// dispatch runs the command args name (run when none is named).
func dispatch(ctx context.Context, args []string) error {
	cmd := "run"
	if len(args) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "run":
		return runLocal(ctx, args)
	case "gen":
		return gen(args)
	case "bench-e2e":
		return benchE2E(ctx, args)
	case "bench-api":
		return benchAPI(ctx, args)
	case "service-token":
		return serviceToken(ctx, args, os.Stdout)
	}
	return fmt.Errorf("unknown command %q: want run, gen, bench-e2e, bench-api or service-token", cmd)
}

// parseFlags parses args into fs, naming the command in its error.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%s: %w", fs.Name(), err)
	}
	return nil
}

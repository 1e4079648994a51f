package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vcci-dev/vcci/pkg/config"
	"github.com/vcci-dev/vcci/pkg/tenancy"
)

// serviceToken rotates the service credential (docs/security.md): rotate
// makes a new current token, which every service sends within
// tenancy.CredentialRefresh, while the old one is still accepted; retire
// stops accepting the old one. It needs the operator's DATABASE_URL: no
// RPC can rotate the token.
func serviceToken(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("service-token", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: vcci service-token rotate|retire  (the database is DATABASE_URL's)")
	}
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("service-token: %w", err)
	}
	if fs.NArg() != 1 || (fs.Arg(0) != "rotate" && fs.Arg(0) != "retire") {
		fs.Usage()
		return errors.New("service-token: want rotate or retire")
	}
	pool, err := pgxpool.New(ctx, config.String("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/vcci?sslmode=disable"))
	if err != nil {
		return fmt.Errorf("service-token: %w", err)
	}
	defer pool.Close()
	if err := tenancy.Migrate(ctx, pool); err != nil {
		return fmt.Errorf("service-token: %w", err)
	}
	if fs.Arg(0) == "rotate" {
		if err := tenancy.RotateServiceToken(ctx, pool); err != nil {
			return fmt.Errorf("service-token rotate: %w", err)
		}
		fmt.Fprintf(out, "rotated: services send the new token within %s; both are accepted until `vcci service-token retire` (possible after %s)\n",
			tenancy.CredentialRefresh, tenancy.RetireAfter)
		return nil
	}
	retired, err := tenancy.RetireServiceToken(ctx, pool)
	if err != nil {
		return fmt.Errorf("service-token retire: %w", err)
	}
	if !retired {
		fmt.Fprintln(out, "no previous token to retire")
		return nil
	}
	fmt.Fprintf(out, "retired: the previous token is refused everywhere within %s\n", tenancy.CredentialRefresh)
	return nil
}

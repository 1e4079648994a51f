// Command dump writes the OpenAPI document the gateway serves at
// /openapi.json to the file named by its argument, or to stdout, so that
// `make lint-api` lints what a partner gets rather than the generator's
// part of it. It is indented, so that a linter's line numbers point
// somewhere readable; the gateway serves it compact.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/vcci-dev/vcci/gateway/openapi"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "dump:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	compact, err := openapi.Document()
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, compact, "", "  "); err != nil {
		return fmt.Errorf("indent: %w", err)
	}
	doc := append(buf.Bytes(), '\n')
	switch len(args) {
	case 0:
		if _, err := os.Stdout.Write(doc); err != nil {
			return fmt.Errorf("stdout: %w", err)
		}
		return nil
	case 1:
		// G703: writing where its caller says is this command's job.
		if err := os.WriteFile(args[0], doc, 0o600); err != nil { //nolint:gosec // G703, see above
			return fmt.Errorf("write: %w", err)
		}
		return nil
	}
	return errors.New("usage: dump [file]")
}

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
		return err
	}
	doc := append(buf.Bytes(), '\n')
	switch len(args) {
	case 0:
		_, err = os.Stdout.Write(doc)
		return err
	case 1:
		return os.WriteFile(args[0], doc, 0o644)
	}
	return errors.New("usage: dump [file]")
}

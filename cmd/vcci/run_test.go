package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vcci-dev/vcci/pkg/testsupport"
)

// TestDevKeyFileIsPrivate: the key vcci run saves is readable by its owner
// only, and a key file others can read is made private when it is used.
func TestDevKeyFileIsPrivate(t *testing.T) {
	t.Setenv("VCCI_API_KEY", "")
	ctx := context.Background()
	url := testsupport.NewDatabase(t, "run")
	file := filepath.Join(t.TempDir(), ".vcci-dev-key")
	mode := func() os.FileMode {
		fi, err := os.Stat(file)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Mode().Perm()
	}

	key, err := bootstrapTenant(ctx, url, file)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(file)
	if strings.TrimSpace(string(b)) != key || !strings.HasPrefix(key, "vcci_") {
		t.Fatalf("file holds %q, key %q", b, key)
	}
	if m := mode(); m != 0o600 {
		t.Fatalf("new key file mode %o, want 600", m)
	}

	// A file others can read (made by an older vcci, or by hand).
	if err := os.Chmod(file, 0o644); err != nil {
		t.Fatal(err)
	}
	again, err := bootstrapTenant(ctx, url, file)
	if err != nil || again != key {
		t.Fatalf("second run: key %q, %v; want %q", again, err, key)
	}
	if m := mode(); m != 0o600 {
		t.Fatalf("existing key file mode %o after the run, want 600", m)
	}

	// An empty file others can read gets a new key, and is made private.
	if err := os.WriteFile(file, nil, 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(file, 0o666); err != nil { // past the umask
		t.Fatal(err)
	}
	fresh, err := bootstrapTenant(ctx, url, file)
	if err != nil || fresh == key || fresh == "" {
		t.Fatalf("empty file: key %q, %v", fresh, err)
	}
	if m := mode(); m != 0o600 {
		t.Fatalf("rewritten key file mode %o, want 600", m)
	}
}

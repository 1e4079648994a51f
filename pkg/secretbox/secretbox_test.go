package secretbox_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/vcci-dev/vcci/pkg/secretbox"
)

func box(t *testing.T, k byte) *secretbox.Box {
	t.Helper()
	b, err := secretbox.New(bytes.Repeat([]byte{k}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSealOpens(t *testing.T) {
	b := box(t, 1)
	const secret, owner = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "tenant-a"
	s1, err := b.Seal(secret, owner)
	if err != nil {
		t.Fatal(err)
	}
	s2, _ := b.Seal(secret, owner)
	if !secretbox.Sealed(s1) || strings.Contains(s1, "MfKQ9r8") || s1 == s2 {
		t.Fatalf("sealed %q and %q: want two different values, neither showing the secret", s1, s2)
	}
	for _, s := range []string{s1, s2} {
		if got, err := b.Open(s, owner); err != nil || got != secret {
			t.Fatalf("Open = %q, %v; want %q", got, err, secret)
		}
	}
	// A value from before sealing comes back as it is.
	if got, err := b.Open(secret, owner); err != nil || got != secret || secretbox.Sealed(secret) {
		t.Fatalf("Open(clear) = %q, %v", got, err)
	}
	altered := s1[:len(s1)-2] + map[bool]string{true: "AA", false: "BA"}[strings.HasSuffix(s1, "BA")]
	for name, open := range map[string]func() (string, error){
		"another owner": func() (string, error) { return b.Open(s1, "tenant-b") },
		"another key":   func() (string, error) { return box(t, 2).Open(s1, owner) },
		"altered":       func() (string, error) { return b.Open(altered, owner) },
		"cut short":     func() (string, error) { return b.Open("sealed:v1:AAAA", owner) },
		"not base64":    func() (string, error) { return b.Open("sealed:v1:!!", owner) },
	} {
		if got, err := open(); !errors.Is(err, secretbox.ErrOpen) || got != "" {
			t.Errorf("%s: %q, %v; want ErrOpen", name, got, err)
		}
	}
}

func TestNewWantsA32ByteKey(t *testing.T) {
	if _, err := secretbox.New(make([]byte, 16)); err == nil {
		t.Fatal("a 16-byte key was taken")
	}
}

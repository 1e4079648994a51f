package secretbox_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
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
		"v2 cut short":  func() (string, error) { return b.Open(b.Current()+"AAAA", owner) },
		"no key id":     func() (string, error) { return b.Open("sealed:v2:AAAA", owner) },
		"v3":            func() (string, error) { return b.Open("sealed:v3:"+strings.TrimPrefix(s1, "sealed:v2:"), owner) },
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

// sealV1 is plain sealed under k for owner as values were before they
// named their key.
func sealV1(t *testing.T, k byte, plain, owner string) string {
	t.Helper()
	block, err := aes.NewCipher(bytes.Repeat([]byte{k}, 32))
	if err != nil {
		t.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	nonce := bytes.Repeat([]byte{7}, aead.NonceSize())
	return "sealed:v1:" + base64.RawStdEncoding.EncodeToString(aead.Seal(nonce, nonce, []byte(plain), []byte(owner)))
}

// A box moving to a new key opens what the old one sealed, before and
// after values named their key, and seals under the new one only.
func TestABoxOpensUnderOlderKeysAndSealsUnderItsFirst(t *testing.T) {
	const secret, owner = "whsec_rotate", "tenant-a"
	old, fresh := box(t, 1), box(t, 2)
	both, err := secretbox.New(bytes.Repeat([]byte{2}, 32), bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	id1, id2 := secretbox.KeyID(bytes.Repeat([]byte{1}, 32)), secretbox.KeyID(bytes.Repeat([]byte{2}, 32))
	if len(id1) != 8 || id1 == id2 || old.Current() != "sealed:v2:"+id1+":" || both.Current() != "sealed:v2:"+id2+":" {
		t.Fatalf("key ids %q, %q; current %q, %q", id1, id2, old.Current(), both.Current())
	}
	byOld, err := old.Seal(secret, owner)
	if err != nil {
		t.Fatal(err)
	}
	byNew, err := both.Seal(secret, owner)
	if err != nil {
		t.Fatal(err)
	}
	v1 := sealV1(t, 1, secret, owner)
	for _, c := range []struct {
		name, value string
		b           *secretbox.Box
		opens       bool
	}{
		{"old key's value, both keys", byOld, both, true},
		{"old key's value, new key alone", byOld, fresh, false},
		{"new key's value, both keys", byNew, both, true},
		{"new key's value, new key alone", byNew, fresh, true},
		{"new key's value, old key alone", byNew, old, false},
		{"unnamed value, both keys", v1, both, true},
		{"unnamed value, old key alone", v1, old, true},
		{"unnamed value, new key alone", v1, fresh, false},
	} {
		got, err := c.b.Open(c.value, owner)
		if c.opens && (err != nil || got != secret) || !c.opens && !errors.Is(err, secretbox.ErrOpen) {
			t.Errorf("%s: %q, %v", c.name, got, err)
		}
	}
	if !strings.HasPrefix(byNew, both.Current()) || strings.HasPrefix(byOld, both.Current()) || strings.HasPrefix(v1, both.Current()) {
		t.Errorf("Current %q tells %q, %q and %q apart wrongly", both.Current(), byNew, byOld, v1)
	}
}

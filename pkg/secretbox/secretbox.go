// Package secretbox seals the short secrets the platform must read back
// (webhook signing secrets) with AES-256-GCM, so that the tables that hold
// them do not hold them in the clear. Each sealed value is bound to what it
// belongs to (its tenant): copied to another tenant's row, it does not open.
package secretbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// Prefix marks a sealed value; a value without it was stored in the clear
// before sealing existed.
const Prefix = "sealed:v1:"

// Box seals and opens values under one key.
type Box struct{ aead cipher.AEAD }

// New returns a Box under key, which must be 32 bytes.
func New(key []byte) (*Box, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("secretbox.New: key of %d bytes, want 32", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secretbox.New: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secretbox.New: %w", err)
	}
	return &Box{aead: aead}, nil
}

// Seal returns plain sealed, bound to owner.
func (b *Box) Seal(plain, owner string) (string, error) {
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("secretbox.Seal: %w", err)
	}
	out := b.aead.Seal(nonce, nonce, []byte(plain), []byte(owner))
	return Prefix + base64.RawStdEncoding.EncodeToString(out), nil
}

// Sealed reports whether s is a sealed value.
func Sealed(s string) bool { return strings.HasPrefix(s, Prefix) }

// ErrOpen is a sealed value that does not open: another key, another
// owner, or altered.
var ErrOpen = errors.New("secretbox: the value does not open under this key and owner")

// Open returns what s seals for owner; a value stored in the clear (not
// Sealed) is returned as it is.
func (b *Box) Open(s, owner string) (string, error) {
	enc, ok := strings.CutPrefix(s, Prefix)
	if !ok {
		return s, nil
	}
	raw, err := base64.RawStdEncoding.DecodeString(enc)
	n := b.aead.NonceSize()
	if err != nil || len(raw) < n {
		return "", ErrOpen
	}
	plain, err := b.aead.Open(nil, raw[:n], raw[n:], []byte(owner))
	if err != nil {
		return "", ErrOpen
	}
	return string(plain), nil
}

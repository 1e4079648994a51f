// Package secretbox seals the short secrets the platform must read back
// (webhook signing secrets) with AES-256-GCM, so that the tables that hold
// them do not hold them in the clear. Each sealed value is bound to what it
// belongs to (its tenant): copied to another tenant's row, it does not open.
//
// A value names the key that sealed it ("sealed:v2:<key id>:..."), so a Box
// can hold the keys it is moving away from: it opens under any of them and
// seals under the first, and Current tells which values to seal again.
package secretbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Prefix marks a sealed value; a value without it was stored in the clear
// before sealing existed.
const Prefix = "sealed:"

const (
	v1 = Prefix + "v1:" // before key ids: tried under every key
	v2 = Prefix + "v2:"
)

// Box seals under one key and opens under it and older ones.
type Box struct{ keys []key }

type key struct {
	id   string
	aead cipher.AEAD
}

// New returns a Box that seals under key and also opens what older keys
// sealed. Every key must be 32 bytes.
func New(current []byte, older ...[]byte) (*Box, error) {
	b := &Box{}
	for i, k := range append([][]byte{current}, older...) {
		if len(k) != 32 {
			return nil, fmt.Errorf("secretbox.New: key %d of %d bytes, want 32", i, len(k))
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, fmt.Errorf("secretbox.New: %w", err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("secretbox.New: %w", err)
		}
		b.keys = append(b.keys, key{id: KeyID(k), aead: aead})
	}
	return b, nil
}

// KeyID names a key in the values it seals: 8 hex digits of a hash of it,
// which tell keys apart without telling anything of them.
func KeyID(k []byte) string {
	sum := sha256.Sum256(append([]byte("vcci/secretbox/key-id/"), k...))
	return hex.EncodeToString(sum[:4])
}

// Current is the prefix of values sealed under the Box's sealing key: a
// stored value without it is in the clear or under an older key.
func (b *Box) Current() string { return v2 + b.keys[0].id + ":" }

// Seal returns plain sealed under the current key, bound to owner.
func (b *Box) Seal(plain, owner string) (string, error) {
	aead := b.keys[0].aead
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("secretbox.Seal: %w", err)
	}
	out := aead.Seal(nonce, nonce, []byte(plain), []byte(owner))
	return b.Current() + base64.RawStdEncoding.EncodeToString(out), nil
}

// Sealed reports whether s is a sealed value.
func Sealed(s string) bool { return strings.HasPrefix(s, Prefix) }

// ErrOpen is a sealed value that does not open: a key the Box does not
// hold, another owner, or altered.
var ErrOpen = errors.New("secretbox: the value does not open under these keys and owner")

// Open returns what s seals for owner; a value stored in the clear (not
// Sealed) is returned as it is.
func (b *Box) Open(s, owner string) (string, error) {
	if !Sealed(s) {
		return s, nil
	}
	var keys []key
	var enc string
	if rest, ok := strings.CutPrefix(s, v2); ok {
		var id string
		id, enc, _ = strings.Cut(rest, ":")
		for _, k := range b.keys {
			if k.id == id {
				keys = []key{k}
			}
		}
	} else if enc, ok = strings.CutPrefix(s, v1); ok {
		keys = b.keys
	} else {
		return "", ErrOpen
	}
	raw, err := base64.RawStdEncoding.DecodeString(enc)
	if err != nil {
		return "", ErrOpen
	}
	for _, k := range keys {
		n := k.aead.NonceSize()
		if len(raw) < n {
			return "", ErrOpen
		}
		if plain, err := k.aead.Open(nil, raw[:n], raw[n:], []byte(owner)); err == nil {
			return string(plain), nil
		}
	}
	return "", ErrOpen
}

// Package pagetoken makes the opaque cursors list calls hand out. A token
// carries the sort keys of the last row served, a fingerprint of the query it
// belongs to, and an HMAC over both and the caller's tenant: a client cannot
// forge or alter one, and a token used with other filters or by another
// tenant is refused with an error that says which parameter is wrong.
package pagetoken

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"

	"github.com/google/uuid"

	"github.com/vcci-dev/vcci/pkg/apperr"
)

const (
	version = 1
	macLen  = 16
	fpLen   = 8
	// Param is the request field tokens arrive in.
	Param = "page_token"
	// maxKeys bounds what Decode allocates for a hostile token.
	maxKeys = 16
)

// encoding is strict so that a token has one text: otherwise the spare bits
// of its last character could be altered and the token still accepted.
// (Decode refuses the CR and LF that even strict decoding skips.)
var encoding = base64.RawURLEncoding.Strict()

// Codec encodes and checks tokens with one key; every replica must share it
// (tenancy.DeriveKey gives one).
type Codec struct{ key []byte }

// New returns a Codec; key should be 32 random bytes.
func New(key []byte) *Codec {
	if len(key) < 16 {
		panic("pagetoken: key shorter than 16 bytes")
	}
	return &Codec{key: key}
}

// Fingerprint identifies a query: the same filters and order give the same
// fingerprint. query should be a canonical rendering of them.
func fingerprint(query string) []byte {
	h := sha256.Sum256([]byte(query))
	return h[:fpLen]
}

// Encode returns the token for resuming query after a row with sort keys keys.
func (c *Codec) Encode(tenant uuid.UUID, query string, keys []string) string {
	b := make([]byte, 0, 64)
	b = append(b, version)
	b = append(b, fingerprint(query)...)
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
	}
	b = append(b, c.mac(tenant, b)...)
	return encoding.EncodeToString(b)
}

func (c *Codec) mac(tenant uuid.UUID, payload []byte) []byte {
	m := hmac.New(sha256.New, c.key)
	m.Write(tenant[:])
	m.Write(payload)
	return m.Sum(nil)[:macLen]
}

// Decode checks token against the caller's tenant and query and returns the
// sort keys it carries. Every failure is an InvalidArgument on page_token.
func (c *Codec) Decode(token string, tenant uuid.UUID, query string) ([]string, error) {
	b, err := encoding.DecodeString(token)
	if err != nil || len(b) < 1+fpLen+1+macLen || encoding.EncodedLen(len(b)) != len(token) {
		return nil, apperr.Invalid(Param, "is malformed; pass next_page_token from the previous response unchanged")
	}
	payload, sum := b[:len(b)-macLen], b[len(b)-macLen:]
	if payload[0] != version {
		return nil, apperr.Invalid(Param, "was made by an incompatible version; start again from the first page")
	}
	if !hmac.Equal(sum, c.mac(tenant, payload)) {
		return nil, apperr.Invalid(Param, "is not valid: it was altered, or issued to another caller")
	}
	if !hmac.Equal(payload[1:1+fpLen], fingerprint(query)) {
		return nil, apperr.Invalid(Param, "belongs to a different query: keep the filters and order_by of the request that returned it")
	}
	keys, err := decodeKeys(payload[1+fpLen:])
	if err != nil {
		return nil, apperr.Invalid(Param, "is malformed: %v", err)
	}
	return keys, nil
}

func decodeKeys(b []byte) ([]string, error) {
	n, w := binary.Uvarint(b)
	if w <= 0 || n > maxKeys {
		return nil, errors.New("bad key count")
	}
	b = b[w:]
	keys := make([]string, 0, n)
	for range n {
		l, w := binary.Uvarint(b)
		if w <= 0 {
			return nil, errors.New("truncated key")
		}
		b = b[w:]
		if l > uint64(len(b)) {
			return nil, errors.New("truncated key")
		}
		keys = append(keys, string(b[:l]))
		b = b[l:]
	}
	if len(b) != 0 {
		return nil, errors.New("trailing bytes")
	}
	return keys, nil
}

// Package signedlink signs the tokens of links that stand in for an API
// key (a report's file, a supplier's submission form): a payload and an
// expiry under an HMAC-SHA256, so a token proves what it names until it
// expires. Keys rotate: one signs, the previous ones still verify.
package signedlink

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc/metadata"
)

// Errors of Open.
var (
	ErrBad     = errors.New("signedlink: token not signed here")
	ErrExpired = errors.New("signedlink: token expired")
)

// Signer signs and opens one kind of token: purpose keeps a token of one
// kind from passing for another under the same key.
type Signer struct {
	domain []byte
	keys   [][]byte // the first signs; all verify
	now    func() time.Time
}

// New returns a Signer of purpose's tokens signing with key and also
// accepting tokens signed with previous (keys being rotated out); now is
// the clock (nil: time.Now).
func New(purpose string, key []byte, now func() time.Time, previous ...[]byte) *Signer {
	if now == nil {
		now = time.Now
	}
	return &Signer{domain: []byte(purpose + "\x00"), keys: append([][]byte{key}, previous...), now: now}
}

// Now is the Signer's clock.
func (s *Signer) Now() time.Time { return s.now() }

var enc = base64.RawURLEncoding

// Sign returns the token of payload, valid until exp (to the second).
func (s *Signer) Sign(payload []byte, exp time.Time) string {
	p := binary.BigEndian.AppendUint64(slices.Clip(payload), uint64(exp.Unix())) //nolint:gosec // after 1970
	return enc.EncodeToString(p) + "." + enc.EncodeToString(s.mac(s.keys[0], p))
}

// Open returns the payload token signs: ErrBad when the token is longer
// than maxLen characters or its signature does not hold under any key,
// ErrExpired after its expiry.
func (s *Signer) Open(token string, maxLen int) ([]byte, error) {
	strict := enc.Strict()
	ps, ms, ok := strings.Cut(token, ".")
	if !ok || len(token) > maxLen {
		return nil, ErrBad
	}
	p, err1 := strict.DecodeString(ps)
	m, err2 := strict.DecodeString(ms)
	if err1 != nil || err2 != nil || len(p) < 8 || !s.signed(p, m) {
		return nil, ErrBad
	}
	n := len(p) - 8
	exp := int64(binary.BigEndian.Uint64(p[n:])) //nolint:gosec // signed by Sign
	if !s.now().Before(time.Unix(exp, 0)) {
		return nil, ErrExpired
	}
	return p[:n], nil
}

func (s *Signer) mac(key, p []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(s.domain)
	m.Write(p)
	return m.Sum(nil)
}

// signed reports whether m is p's MAC under one of s's keys.
func (s *Signer) signed(p, m []byte) bool {
	for _, k := range s.keys {
		if hmac.Equal(m, s.mac(k, p)) {
			return true
		}
	}
	return false
}

// A link's token in a REST path is a credential: the gateway leaves Hidden
// in its place, before anything records the path, and passes the token to
// the service as Header metadata.
const (
	Hidden = "-"
	Header = "x-vcci-link-token"
)

// Token is a request's token: tok, or the gateway's Header metadata when
// tok is Hidden.
func Token(ctx context.Context, tok string) string {
	if tok == Hidden {
		if v := metadata.ValueFromIncomingContext(ctx, Header); len(v) == 1 {
			return v[0]
		}
	}
	return tok
}

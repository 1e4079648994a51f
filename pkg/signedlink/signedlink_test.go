package signedlink_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"

	"github.com/vcci-dev/vcci/pkg/signedlink"
)

func TestSignAndOpen(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	key, old := []byte("current key"), []byte("old key")
	s := signedlink.New("vcci/test", key, clock, old)
	tok := s.Sign([]byte("payload"), now.Add(time.Hour))

	if p, err := s.Open(tok, 100); err != nil || string(p) != "payload" {
		t.Fatalf("open = %q, %v", p, err)
	}
	// Signed under the old key, it still opens while that key is listed.
	byOld := signedlink.New("vcci/test", old, clock).Sign([]byte("p"), now.Add(time.Hour))
	if p, err := s.Open(byOld, 100); err != nil || string(p) != "p" {
		t.Fatalf("old key's token: %q, %v", p, err)
	}
	for name, bad := range map[string]string{
		"another key":     signedlink.New("vcci/test", []byte("other"), clock).Sign([]byte("payload"), now.Add(time.Hour)),
		"another purpose": signedlink.New("vcci/other", key, clock).Sign([]byte("payload"), now.Add(time.Hour)),
		"altered payload": strings.Replace(tok, tok[:2], "AA", 1),
		"no signature":    strings.Split(tok, ".")[0],
		"too long":        tok + strings.Repeat("A", 100),
		"padding":         tok + "=",
		"empty":           "",
	} {
		if _, err := s.Open(bad, 100); !errors.Is(err, signedlink.ErrBad) {
			t.Errorf("%s: %v, want ErrBad", name, err)
		}
	}
	if _, err := signedlink.New("vcci/test", key, clock).Open(byOld, 100); !errors.Is(err, signedlink.ErrBad) {
		t.Errorf("the old key, once dropped: %v", err)
	}
	// At its expiry to the second, and after, it is expired, not bad.
	for _, at := range []time.Time{now.Add(time.Hour), now.Add(2 * time.Hour)} {
		late := signedlink.New("vcci/test", key, func() time.Time { return at })
		if _, err := late.Open(tok, 100); !errors.Is(err, signedlink.ErrExpired) {
			t.Errorf("at %v: %v, want ErrExpired", at, err)
		}
	}
	// Sign does not write into the caller's payload.
	buf := make([]byte, 3, 64)
	copy(buf, "abc")
	s.Sign(buf, now)
	if got := buf[:4]; string(got) != "abc\x00" {
		t.Errorf("Sign wrote past the payload: %q", got)
	}
}

func TestToken(t *testing.T) {
	in := metadata.NewIncomingContext(context.Background(), metadata.Pairs(signedlink.Header, "secret"))
	for _, c := range []struct {
		ctx       context.Context
		tok, want string
	}{
		{in, signedlink.Hidden, "secret"},
		{in, "own", "own"},
		{context.Background(), signedlink.Hidden, signedlink.Hidden},
		{metadata.NewIncomingContext(context.Background(), metadata.Pairs(signedlink.Header, "a", signedlink.Header, "b")), signedlink.Hidden, signedlink.Hidden},
	} {
		if got := signedlink.Token(c.ctx, c.tok); got != c.want {
			t.Errorf("Token(%q) = %q, want %q", c.tok, got, c.want)
		}
	}
}

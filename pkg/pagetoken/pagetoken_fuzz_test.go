package pagetoken

import (
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/vcci-dev/vcci/pkg/apperr"
)

func fuzzCodec() (*Codec, uuid.UUID) {
	return New([]byte("0123456789abcdef0123456789abcdef")), uuid.MustParse("7d3c1f4e-2a9b-4c1d-8e5f-0a1b2c3d4e5f")
}

// refused fails t unless err is the one InvalidArgument on page_token that
// every bad token gets.
func refused(t *testing.T, what string, err error) {
	t.Helper()
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Kind != apperr.InvalidArgument || len(ae.Violations) != 1 || ae.Violations[0].Field != Param {
		t.Fatalf("%s: err = %#v, want one InvalidArgument on %s", what, err, Param)
	}
}

// FuzzDecode feeds Decode arbitrary text: it must refuse it as a bad
// page_token, or accept only a token Encode itself would make.
func FuzzDecode(f *testing.F) {
	c, tenant := fuzzCodec()
	f.Add(c.Encode(tenant, "q", []string{"1234.5678", "SUP-00042"}))
	f.Add(c.Encode(tenant, "q", nil))
	f.Add(c.Encode(tenant, "other query", []string{"2024-03-01", "T1"}))
	f.Add("")
	f.Add("AQ")
	f.Add("not base64!")
	f.Fuzz(func(t *testing.T, tok string) {
		keys, err := c.Decode(tok, tenant, "q")
		if err != nil {
			refused(t, "decode", err)
			return
		}
		if len(keys) > maxKeys || c.Encode(tenant, "q", keys) != tok {
			t.Fatalf("accepted %q as keys %q, which encode to %q", tok, keys, c.Encode(tenant, "q", keys))
		}
	})
}

// FuzzRoundTrip encodes up to three keys and decodes them back, then
// alters the token by one byte, in its bytes and in its text, and
// presents it to another tenant and query: each must be refused.
func FuzzRoundTrip(f *testing.F) {
	f.Add("suppliers|q=|naics=|country=|order=kg_co2e desc", "1234.5678000", "SUP-00042", "", uint8(2), uint16(5), byte(1))
	f.Add("transactions|supplier=S1|start=2024-01-01|end=|naics=|cat=0|order=date desc", "2024-03-01", "PO-2024-0001", "", uint8(2), uint16(40), byte(0x80))
	f.Add("", "", "", "", uint8(0), uint16(0), byte(0))
	f.Add("q", "ünïcödé", "\x00\xff", "a much longer key than the others, to cross a varint's one-byte length: "+
		"0123456789012345678901234567890123456789012345678901234567890123456789", uint8(3), uint16(999), byte(0xff))
	c, tenant := fuzzCodec()
	other := uuid.MustParse("11111111-2222-4333-8444-555555555555")
	f.Fuzz(func(t *testing.T, query, k1, k2, k3 string, n uint8, pos uint16, flip byte) {
		keys := []string{k1, k2, k3}[:n%4]
		tok := c.Encode(tenant, query, keys)
		got, err := c.Decode(tok, tenant, query)
		if err != nil || !slices.Equal(got, keys) {
			t.Fatalf("Decode(Encode(%q)) = %q, %v", keys, got, err)
		}
		_, err = c.Decode(tok, other, query)
		refused(t, "another tenant", err)
		_, err = c.Decode(tok, tenant, query+"|x")
		refused(t, "another query", err)

		raw, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil {
			t.Fatal(err)
		}
		raw[int(pos)%len(raw)] ^= max(flip, 1)
		_, err = c.Decode(base64.RawURLEncoding.EncodeToString(raw), tenant, query)
		refused(t, "a byte altered", err)

		const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
		text := []byte(tok)
		i := int(pos) % len(text)
		text[i] = alphabet[(strings.IndexByte(alphabet, text[i])+1+int(flip)%63)%64]
		_, err = c.Decode(string(text), tenant, query)
		refused(t, "a character altered", err)
	})
}

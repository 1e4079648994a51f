package pagetoken

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/vcci-dev/vcci/pkg/apperr"
)

func TestRoundTripAndRefusals(t *testing.T) {
	c := New([]byte("0123456789abcdef0123456789abcdef"))
	tenant, other := uuid.New(), uuid.New()
	q := "suppliers|order=kg_co2e desc|country=DE"
	keys := []string{"1234.5678", "SUP-00042", ""}
	tok := c.Encode(tenant, q, keys)
	got, err := c.Decode(tok, tenant, q)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, "|") != strings.Join(keys, "|") || len(got) != 3 {
		t.Fatalf("keys = %q, want %q", got, keys)
	}

	// Flip one byte of the keys: the MAC must catch it.
	raw := []byte(tok)
	raw[len(raw)/2] ^= 1
	if raw[len(raw)/2] == '-'+1 || raw[len(raw)/2] == '_'+1 { // stay in the alphabet
		raw[len(raw)/2] = 'A'
	}
	// The last character's spare bits (the token is not a multiple of 3
	// bytes): decoding ignores them unless strict.
	spare := []byte(tok)
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	spare[len(spare)-1] = alphabet[strings.IndexByte(alphabet, spare[len(spare)-1])^1]
	if len(tok)%4 == 0 {
		t.Fatalf("token %q has no spare bits to alter", tok)
	}
	cases := []struct {
		name, token, query, want string
		tenant                   uuid.UUID
	}{
		{"another tenant", tok, q, "issued to another caller", other},
		{"another query", tok, "suppliers|order=spend_usd desc", "different query", tenant},
		{"altered", string(raw), q, "", tenant},
		{"not base64", "%%%", q, "malformed", tenant},
		{"spare bits altered", string(spare), q, "malformed", tenant},
		{"line break inserted", tok[:10] + "\r\n" + tok[10:], q, "malformed", tenant},
		{"too short", "AQ", q, "malformed", tenant},
		{"other key", New([]byte("fedcba9876543210fedcba9876543210")).Encode(tenant, q, keys), q, "issued to another caller", tenant},
	}
	for _, tc := range cases {
		_, err := c.Decode(tc.token, tc.tenant, tc.query)
		var ae *apperr.Error
		if !errors.As(err, &ae) || ae.Kind != apperr.InvalidArgument {
			t.Fatalf("%s: err = %v, want InvalidArgument", tc.name, err)
		}
		if len(ae.Violations) != 1 || ae.Violations[0].Field != Param {
			t.Fatalf("%s: violations = %+v, want one on %s", tc.name, ae.Violations, Param)
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("%s: err = %q, want it to say %q", tc.name, err, tc.want)
		}
	}
}

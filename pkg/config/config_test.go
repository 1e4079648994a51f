package config_test

import (
	"strings"
	"testing"

	"github.com/vcci-dev/vcci/pkg/config"
)

func TestRedact(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"postgres://vcci:s3cret@db:5432/vcci?sslmode=require", "postgres://vcci:xxxxx@db:5432/vcci?sslmode=require"},
		{"postgresql://vcci:s3cret@db/vcci", "postgresql://vcci:xxxxx@db/vcci"},
		{"postgres://postgres@127.0.0.1:5432/vcci?sslmode=disable", "postgres://postgres@127.0.0.1:5432/vcci?sslmode=disable"},
		{"postgres://db/vcci?user=vcci&password=s3cret", "postgres://db/vcci?password=xxxxx&user=vcci"},
		{"postgres://db/vcci?sslpassword=s3cret", "postgres://db/vcci?sslpassword=xxxxx"},
		{"redis://:s3cret@redis:6379/0", "redis://:xxxxx@redis:6379/0"},
		{"rediss://default:s3cret@redis:6380", "rediss://default:xxxxx@redis:6380"},
		// A URL that does not parse loses all of its user information.
		{"redis://:s3cret@redis:port/0", "redis://xxxxx@redis:port/0"},
		{"postgres://vcci:s3c ret@db/vcci", "postgres://xxxxx@db/vcci"},
		{"postgres://vcci:p@ss@db:bad/vcci?password=s3cret", "postgres://xxxxx@db:bad/vcci?password=xxxxx"},
		{"host=db user=vcci password=s3cret dbname=vcci", "host=db user=vcci password=xxxxx dbname=vcci"},
		{"host=db password = 's3 cret\\' x' dbname=vcci", "host=db password = xxxxx dbname=vcci"},
		{"host=db PASSWORD=s3cret sslpassword=s3cret", "host=db PASSWORD=xxxxx sslpassword=xxxxx"},
		{"host=db user=vcci", "host=db user=vcci"},
		{"", ""},
	} {
		if got := config.Redact(c.in); got != c.want {
			t.Errorf("Redact(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestKeys(t *testing.T) {
	a, b := strings.Repeat("A", 43)+"=", "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=" // 32 zero bytes; 1 to 32
	t.Setenv("VCCI_TEST_KEYS", a+", "+b)
	keys, err := config.Keys("VCCI_TEST_KEYS", 32)
	if err != nil || len(keys) != 2 || keys[0][0] != 0 || keys[1][0] != 1 || keys[1][31] != 32 {
		t.Fatalf("Keys = %v, %v", keys, err)
	}
	t.Setenv("VCCI_TEST_KEYS", "")
	if keys, err := config.Keys("VCCI_TEST_KEYS", 32); err != nil || keys != nil {
		t.Fatalf("unset: %v, %v", keys, err)
	}
	for _, bad := range []string{b + ",c2VjcmV0", b + ",!!"} {
		t.Setenv("VCCI_TEST_KEYS", bad)
		_, err := config.Keys("VCCI_TEST_KEYS", 32)
		if err == nil || err.Error() != "config: VCCI_TEST_KEYS: key 2 is not 32 bytes in base64" {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// A key pair: one current key and the previous ones; two current keys, or
// a malformed one, are refused naming the variable.
func TestKeyPair(t *testing.T) {
	a, b := strings.Repeat("A", 43)+"=", "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=" // 32 zero bytes; 1 to 32
	t.Setenv("VCCI_TEST_KEY", b)
	t.Setenv("VCCI_TEST_KEY_PREVIOUS", a+","+b)
	cur, prev, err := config.KeyPair("VCCI_TEST_KEY", 32)
	if err != nil || cur[0] != 1 || len(prev) != 2 || prev[0][0] != 0 {
		t.Fatalf("KeyPair = %v, %v, %v", cur, prev, err)
	}
	for _, c := range []struct{ key, previous, want string }{
		{a + "," + b, "", "config: VCCI_TEST_KEY holds 2 keys: one is current, older ones go in VCCI_TEST_KEY_PREVIOUS"},
		{"c2hvcnQ=", "", "config: VCCI_TEST_KEY: key 1 is not 32 bytes in base64"},
		{a, b + ",x", "config: VCCI_TEST_KEY_PREVIOUS: key 2 is not 32 bytes in base64"},
	} {
		t.Setenv("VCCI_TEST_KEY", c.key)
		t.Setenv("VCCI_TEST_KEY_PREVIOUS", c.previous)
		if _, _, err := config.KeyPair("VCCI_TEST_KEY", 32); err == nil || err.Error() != c.want {
			t.Errorf("%q, %q: %v; want %q", c.key, c.previous, err, c.want)
		}
	}
	t.Setenv("VCCI_TEST_KEY", "")
	t.Setenv("VCCI_TEST_KEY_PREVIOUS", "")
	if cur, prev, err := config.KeyPair("VCCI_TEST_KEY", 32); err != nil || cur != nil || prev != nil {
		t.Fatalf("unset: %v, %v, %v", cur, prev, err)
	}
}

package reporting

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/vcci-dev/vcci/pkg/apperr"
)

// LinkTTL is how long a report link works.
const LinkTTL = 15 * time.Minute

// ReasonLinkExpired tells an expired link from a forged one (both refuse
// the download); the gateway answers it 410 Gone.
const ReasonLinkExpired = apperr.ReasonReportLinkExpired

// Link errors. A forged or altered link is unauthenticated: it proves no
// tenant.
var (
	ErrBadLink     = apperr.New(apperr.Unauthenticated, "the report link is not valid")
	ErrLinkExpired = &apperr.Error{Kind: apperr.FailedPrecondition, Msg: "the report link has expired: create another", Reason: ReasonLinkExpired}
)

// Links signs and checks report links: a token carrying the tenant, the
// report's id and the expiry, with an HMAC-SHA256 over them. Every
// replica must share the keys (REPORT_LINK_KEY, else tenancy.DeriveKey's).
type Links struct {
	keys [][]byte // the first signs; all verify
	now  func() time.Time
}

// NewLinks returns Links signing with key and also accepting links signed
// with previous (keys being rotated out); now is the clock (nil:
// time.Now).
func NewLinks(key []byte, now func() time.Time, previous ...[]byte) *Links {
	if now == nil {
		now = time.Now
	}
	return &Links{keys: append([][]byte{key}, previous...), now: now}
}

const linkPayload = 16 + 8 + 8 // tenant, id, expiry in Unix seconds

// Sign returns the token of report id's link for tenant and when it
// expires.
func (l *Links) Sign(tenant uuid.UUID, id int64) (string, time.Time) {
	exp := l.now().Add(LinkTTL).Truncate(time.Second)
	p := make([]byte, 0, linkPayload)
	p = append(p, tenant[:]...)
	p = binary.BigEndian.AppendUint64(p, uint64(id))         //nolint:gosec // ids are positive
	p = binary.BigEndian.AppendUint64(p, uint64(exp.Unix())) //nolint:gosec // after 1970
	enc := base64.RawURLEncoding
	return enc.EncodeToString(p) + "." + enc.EncodeToString(linkMAC(l.keys[0], p)), exp
}

func linkMAC(key, p []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("vcci/report-link\x00"))
	m.Write(p)
	return m.Sum(nil)
}

// signed reports whether m is p's MAC under one of l's keys.
func (l *Links) signed(p, m []byte) bool {
	for _, k := range l.keys {
		if hmac.Equal(m, linkMAC(k, p)) {
			return true
		}
	}
	return false
}

// Verify returns the tenant and report id token names: ErrBadLink when its
// signature does not hold, ErrLinkExpired after its expiry.
func (l *Links) Verify(token string) (uuid.UUID, int64, error) {
	enc := base64.RawURLEncoding.Strict()
	ps, ms, ok := strings.Cut(token, ".")
	if !ok || len(token) > 128 {
		return uuid.Nil, 0, ErrBadLink
	}
	p, err1 := enc.DecodeString(ps)
	m, err2 := enc.DecodeString(ms)
	if err1 != nil || err2 != nil || len(p) != linkPayload || !l.signed(p, m) {
		return uuid.Nil, 0, ErrBadLink
	}
	tenant := uuid.UUID(p[:16])
	id := int64(binary.BigEndian.Uint64(p[16:24]))  //nolint:gosec // signed by Sign, from a positive id
	exp := int64(binary.BigEndian.Uint64(p[24:32])) //nolint:gosec // signed by Sign
	if !l.now().Before(time.Unix(exp, 0)) {
		return uuid.Nil, 0, ErrLinkExpired
	}
	return tenant, id, nil
}

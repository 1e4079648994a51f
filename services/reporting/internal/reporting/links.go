package reporting

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/vcci-dev/vcci/pkg/apperr"
	"github.com/vcci-dev/vcci/pkg/signedlink"
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
type Links struct{ s *signedlink.Signer }

// NewLinks returns Links signing with key and also accepting links signed
// with previous (keys being rotated out); now is the clock (nil:
// time.Now).
func NewLinks(key []byte, now func() time.Time, previous ...[]byte) *Links {
	return &Links{signedlink.New("vcci/report-link", key, now, previous...)}
}

// Sign returns the token of report id's link for tenant and when it
// expires.
func (l *Links) Sign(tenant uuid.UUID, id int64) (string, time.Time) {
	exp := l.s.Now().Add(LinkTTL).Truncate(time.Second)
	p := binary.BigEndian.AppendUint64(tenant[:], uint64(id)) //nolint:gosec // ids are positive
	return l.s.Sign(p, exp), exp
}

// Verify returns the tenant and report id token names: ErrBadLink when its
// signature does not hold, ErrLinkExpired after its expiry.
func (l *Links) Verify(token string) (uuid.UUID, int64, error) {
	p, err := l.s.Open(token, 128)
	switch {
	case errors.Is(err, signedlink.ErrExpired):
		return uuid.Nil, 0, ErrLinkExpired
	case err != nil || len(p) != 24:
		return uuid.Nil, 0, ErrBadLink
	}
	return uuid.UUID(p[:16]), int64(binary.BigEndian.Uint64(p[16:])), nil //nolint:gosec // signed by Sign, from a positive id
}

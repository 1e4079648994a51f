package intake

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/vcci-dev/vcci/pkg/apperr"
	"github.com/vcci-dev/vcci/pkg/refdata"
)

// Category rule sentinels.
var (
	ErrRuleNotFound = apperr.New(apperr.NotFound, "category rule not found")
	ErrRuleExists   = apperr.New(apperr.AlreadyExists, "a category rule with that id already exists")
	// ErrRuleMatchTaken is a rule on the very match another rule has: the
	// winner between them would be left to chance.
	ErrRuleMatchTaken = apperr.New(apperr.AlreadyExists, "another category rule already matches on that naics_prefix, activity_prefix or supplier_id")
	ErrTooManyRules   = apperr.New(apperr.FailedPrecondition, fmt.Sprintf("the tenant has %d category rules, the most it may keep: delete one first", MaxRules))
)

// MaxRules bounds a tenant's category rules: an upload loads them all and
// matches its lines in memory.
const MaxRules = 1000

// RulePrefix starts a category rule's resource name.
const RulePrefix = "categoryRules/"

// maxRuleDescription bounds a rule's description, in bytes.
const maxRuleDescription = 1024

// CategoryRule gives a Scope 3 category to the lines, without one of their
// own, that it matches on exactly one of NAICSPrefix, ActivityPrefix and
// SupplierID (the others empty).
type CategoryRule struct {
	ID                                      string
	NAICSPrefix, ActivityPrefix, SupplierID string
	Category                                int16
	Description                             string
	CreatedAt                               time.Time
}

// RuleLister lists a tenant's category rules by id, those after afterID
// ("" from the first).
type RuleLister interface {
	Rules(ctx context.Context, tenant uuid.UUID, afterID string, limit int) ([]CategoryRule, error)
}

// RuleStore keeps category rules.
type RuleStore interface {
	RuleLister
	// CreateRule stores r: an id the tenant has is ErrRuleExists, a match
	// another rule has ErrRuleMatchTaken, a rule past MaxRules
	// ErrTooManyRules.
	CreateRule(ctx context.Context, tenant uuid.UUID, r CategoryRule) (CategoryRule, error)
	// Rule returns one rule, or ErrRuleNotFound.
	Rule(ctx context.Context, tenant uuid.UUID, id string) (CategoryRule, error)
	// DeleteRule deletes one rule, or is ErrRuleNotFound.
	DeleteRule(ctx context.Context, tenant uuid.UUID, id string) error
}

// RuleID parses "categoryRules/{rule}" of the request field field.
func RuleID(field, name string) (string, error) {
	id, ok := strings.CutPrefix(name, RulePrefix)
	if !ok || !mappingIDPattern.MatchString(id) {
		return "", apperr.Invalid(field, "%q is not %s{rule}", clean(name, 200), RulePrefix)
	}
	return id, nil
}

// CheckRule validates a rule to create, and lower-cases its activity
// prefix as uploads' activities are.
func CheckRule(r *CategoryRule) error {
	if !mappingIDPattern.MatchString(r.ID) {
		return apperr.Invalid("category_rule_id", "must be 1 to 63 lower-case letters, digits and hyphens, starting with a letter, got %q", clean(r.ID, 100))
	}
	r.ActivityPrefix = strings.ToLower(r.ActivityPrefix)
	set := make([]string, 0, 3)
	for _, f := range []struct{ name, v string }{{"naics_prefix", r.NAICSPrefix}, {"activity_prefix", r.ActivityPrefix}, {"supplier_id", r.SupplierID}} {
		if f.v != "" {
			set = append(set, f.name)
		}
	}
	switch len(set) {
	case 0:
		return apperr.Invalid("category_rule", "must match on one of naics_prefix, activity_prefix and supplier_id")
	case 1:
	default:
		return apperr.Invalid("category_rule."+set[1], "a rule matches on one field only, and %s is set", set[0])
	}
	switch {
	case r.NAICSPrefix != "" && (len(r.NAICSPrefix) > 6 || !digits(r.NAICSPrefix)):
		return apperr.Invalid("category_rule.naics_prefix", "must be 1 to 6 digits, the start of a NAICS code, got %q", clean(r.NAICSPrefix, 100))
	case r.ActivityPrefix != "":
		if err := checkActivityPrefix(r.ActivityPrefix); err != nil {
			return err
		}
	case r.SupplierID != "" && (len(r.SupplierID) > maxIDLen || !isText(r.SupplierID) || strings.TrimSpace(r.SupplierID) != r.SupplierID):
		return apperr.Invalid("category_rule.supplier_id", "must be a supplier id as uploaded: 1 to %d bytes of UTF-8 text, without NUL bytes or outer spaces", maxIDLen)
	}
	if r.Category < 1 || r.Category > 15 {
		return apperr.Invalid("category_rule.category", "must be a Scope 3 category (SCOPE_CATEGORY_PURCHASED_GOODS_AND_SERVICES to SCOPE_CATEGORY_INVESTMENTS, 1 to 15), got %d", r.Category)
	}
	if len(r.Description) > maxRuleDescription || !isText(r.Description) {
		return apperr.Invalid("category_rule.description", "must be at most %d bytes of UTF-8 text without NUL bytes", maxRuleDescription)
	}
	return nil
}

// isText reports whether s is text PostgreSQL can hold.
func isText(s string) bool { return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 }

// checkActivityPrefix asks that prefix start at least one activity id of
// the shipped activity factors: one that starts none is a typo.
func checkActivityPrefix(prefix string) error {
	set, err := refdata.DESNZ()
	if err != nil {
		return fmt.Errorf("checkActivityPrefix: %w", err)
	}
	if len(prefix) > maxIDLen || !isText(prefix) ||
		!slices.ContainsFunc(set.All(), func(f refdata.ActivityFactor) bool { return strings.HasPrefix(f.Activity, prefix) }) {
		return apperr.Invalid("category_rule.activity_prefix", "%q starts no activity of %s (GET /v1/factorSets/%s/factors lists them)",
			clean(prefix, 100), set.Name, set.Name)
	}
	return nil
}

// CreateRule validates and stores a category rule.
func (s *Service) CreateRule(ctx context.Context, tenant uuid.UUID, r CategoryRule) (CategoryRule, error) {
	if err := CheckRule(&r); err != nil {
		return CategoryRule{}, err
	}
	return s.store.CreateRule(ctx, tenant, r)
}

// Rule returns a category rule.
func (s *Service) Rule(ctx context.Context, tenant uuid.UUID, id string) (CategoryRule, error) {
	return s.store.Rule(ctx, tenant, id)
}

// Rules lists category rules after afterID.
func (s *Service) Rules(ctx context.Context, tenant uuid.UUID, afterID string, limit int) ([]CategoryRule, error) {
	return s.store.Rules(ctx, tenant, afterID, limit)
}

// DeleteRule deletes a category rule.
func (s *Service) DeleteRule(ctx context.Context, tenant uuid.UUID, id string) error {
	return s.store.DeleteRule(ctx, tenant, id)
}

// LoadRules reads all of a tenant's category rules, for one upload.
func LoadRules(ctx context.Context, store RuleLister, tenant uuid.UUID) (*Rules, error) {
	rs, err := store.Rules(ctx, tenant, "", MaxRules+1)
	if err != nil {
		return nil, fmt.Errorf("LoadRules: %w", err)
	}
	if len(rs) > MaxRules {
		return nil, fmt.Errorf("LoadRules: tenant %s has more than %d category rules", tenant, MaxRules)
	}
	return NewRules(rs), nil
}

// Rules decides the category of lines without one of their own: of the
// rules that match a line, the supplier's wins, then the activity rule of
// the longest prefix, then the NAICS rule of the longest prefix. Matching
// is in memory; a Rules is not safe for concurrent use (it remembers the
// activities it matched).
type Rules struct {
	supplier map[string]*CategoryRule
	naics    map[string]*CategoryRule // by prefix
	activity []*CategoryRule          // longest prefix first
	byAct    map[string]*CategoryRule // activity id -> its rule, nil for none
}

// NewRules indexes rules for matching.
func NewRules(rules []CategoryRule) *Rules {
	m := &Rules{supplier: map[string]*CategoryRule{}, naics: map[string]*CategoryRule{}, byAct: map[string]*CategoryRule{}}
	for i := range rules {
		r := &rules[i]
		switch {
		case r.SupplierID != "":
			m.supplier[r.SupplierID] = r
		case r.ActivityPrefix != "":
			m.activity = append(m.activity, r)
		case r.NAICSPrefix != "":
			m.naics[r.NAICSPrefix] = r
		}
	}
	slices.SortFunc(m.activity, func(a, b *CategoryRule) int { return cmp.Compare(len(b.ActivityPrefix), len(a.ActivityPrefix)) })
	return m
}

// Match returns the rule that decides r's category, or nil. r's own
// category, if it has one, is not its business.
func (m *Rules) Match(r *Row) *CategoryRule {
	if m == nil {
		return nil
	}
	if x := m.supplier[r.SupplierID]; x != nil {
		return x
	}
	if r.Activity != "" && len(m.activity) > 0 {
		x, ok := m.byAct[r.Activity]
		if !ok {
			i := slices.IndexFunc(m.activity, func(a *CategoryRule) bool { return strings.HasPrefix(r.Activity, a.ActivityPrefix) })
			if i >= 0 {
				x = m.activity[i]
			}
			m.byAct[r.Activity] = x
		}
		if x != nil {
			return x
		}
	}
	for n := min(len(r.NAICS), 6); n > 0; n-- {
		if x := m.naics[r.NAICS[:n]]; x != nil {
			return x
		}
	}
	return nil
}

package grpcapi

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/vcci-dev/vcci/pkg/apperr"
	commonv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/common/v1"
	"github.com/vcci-dev/vcci/services/calculator/internal/calculator"
)

// maxFilterLen bounds a filter's text.
const maxFilterLen = 500

// parseFilter reads the subset of AIP-160 ListFactors takes: comparisons
// `field = value` or `field:value`, joined by AND. A value is a bare word
// or a double-quoted string. On text fields `=` is exact (a trailing `*`
// makes it a prefix) and `:` means contains, ignoring case; on code, whose
// digits are a hierarchy, `:` means starts with.
func parseFilter(s string) ([]calculator.FactorCond, error) {
	switch {
	case len(s) > maxFilterLen:
		return nil, apperr.Invalid("filter", "longer than %d bytes", maxFilterLen)
	case !utf8.ValidString(s):
		return nil, apperr.Invalid("filter", "not valid UTF-8")
	case strings.IndexByte(s, 0) >= 0:
		return nil, apperr.Invalid("filter", "contains a NUL byte")
	}
	var conds []calculator.FactorCond
	rest := strings.TrimSpace(s)
	trim := func(s string) string { return strings.TrimLeftFunc(s, unicode.IsSpace) }
	for rest != "" {
		if len(conds) > 0 {
			var and string
			and, rest = cutWord(rest)
			if and != "AND" {
				return nil, apperr.Invalid("filter", "expected AND, got %q: only comparisons joined by AND are supported", and)
			}
		}
		var field, op, value string
		i := strings.IndexFunc(rest, func(r rune) bool { return (r < 'a' || r > 'z') && r != '_' })
		if i <= 0 {
			return nil, apperr.Invalid("filter", "expected a field name at %q", rest)
		}
		field, rest = rest[:i], trim(rest[i:])
		if rest == "" || (rest[0] != '=' && rest[0] != ':') {
			return nil, apperr.Invalid("filter", "expected = or : after %s", field)
		}
		op, rest = rest[:1], trim(rest[1:])
		if strings.HasPrefix(rest, `"`) {
			q, err := strconv.QuotedPrefix(rest)
			if err != nil {
				return nil, apperr.Invalid("filter", "unterminated string after %s%s", field, op)
			}
			value, _ = strconv.Unquote(q)
			rest = trim(rest[len(q):])
		} else {
			value, rest = cutWord(rest)
		}
		c, err := factorCond(field, op, value)
		if err != nil {
			return nil, err
		}
		conds = append(conds, c)
	}
	return conds, nil
}

// cutWord splits s after its first word.
func cutWord(s string) (word, rest string) {
	i := strings.IndexFunc(s, unicode.IsSpace)
	if i < 0 {
		return s, ""
	}
	return s[:i], strings.TrimLeftFunc(s[i:], unicode.IsSpace)
}

// The filter fields named more than once.
const (
	fieldCategory = "category"
	fieldCode     = "code"
)

// factorCond checks one comparison and puts its value in canonical form.
func factorCond(field, op, value string) (calculator.FactorCond, error) {
	c := calculator.FactorCond{Field: field, Op: calculator.OpEquals, Value: value}
	switch field {
	case fieldCategory:
		n, err := strconv.Atoi(value)
		if v, ok := commonv1.ScopeCategory_value[value]; ok {
			n, err = int(v), nil
		}
		if op != "=" || err != nil || n < 1 || n > 15 {
			return c, apperr.Invalid("filter", "%s%s%s: want category = a Scope 3 category, 1 to 15 or its name (SCOPE_CATEGORY_WASTE)", field, op, value)
		}
		c.Value = strconv.Itoa(n)
		return c, nil
	case "year":
		n, err := strconv.Atoi(value)
		if op != "=" || err != nil || n < 0 || n > 9999 {
			return c, apperr.Invalid("filter", "%s%s%s: want year = a year", field, op, value)
		}
		c.Value = strconv.Itoa(n)
		return c, nil
	case "gas":
		if op != "=" || value == "" {
			return c, apperr.Invalid("filter", "%s%s%s: want gas = a gas id (CO2, CH4, N2O, SF6, HFC134a, ...)", field, op, value)
		}
		return c, nil
	case fieldCode, "activity", "title", "unit", "region", "version":
	default:
		return c, apperr.Invalid("filter", "unknown field %q; one of category, code, activity, title, unit, region, year, version, gas", field)
	}
	if prefix, ok := strings.CutSuffix(value, "*"); ok {
		c.Op, c.Value = calculator.OpPrefix, prefix
	} else if op == ":" {
		c.Op = calculator.OpContains
		if field == fieldCode || field == "activity" {
			c.Op = calculator.OpPrefix
		}
	}
	if c.Value == "" || strings.Contains(c.Value, "*") {
		return c, apperr.Invalid("filter", "%s%s%q: want a value, with * only at its end", field, op, value)
	}
	return c, nil
}

// filterKey renders conditions canonically, for the page token.
func filterKey(conds []calculator.FactorCond) string {
	var b strings.Builder
	for _, c := range conds {
		fmt.Fprintf(&b, "%s/%d/%q;", c.Field, c.Op, c.Value)
	}
	return b.String()
}

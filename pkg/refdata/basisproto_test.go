package refdata

import (
	"errors"
	"testing"

	"github.com/vcci-dev/vcci/pkg/apperr"
	calculatorv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/calculator/v1"
)

func TestBasisProto(t *testing.T) {
	for e, b := range map[calculatorv1.GwpBasis]Basis{0: "", 1: AR4, 2: AR5, 3: AR6} {
		if got, err := BasisFromProto("gwp_basis", e); got != b || err != nil || BasisProto(b) != e {
			t.Errorf("%v: read %q, %v; written back %v", e, got, err, BasisProto(b))
		}
	}
	_, err := BasisFromProto("report.gwp_basis", 9)
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Kind != apperr.InvalidArgument || ae.Violations[0].Field != "report.gwp_basis" {
		t.Errorf("basis 9: %v, want InvalidArgument naming report.gwp_basis", err)
	}
}

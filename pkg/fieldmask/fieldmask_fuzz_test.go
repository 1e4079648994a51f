package fieldmask

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/vcci-dev/vcci/pkg/apperr"
	intakev1 "github.com/vcci-dev/vcci/pkg/gen/vcci/intake/v1"
)

// paths renders m back into field-mask paths, in proto names.
func paths(m Mask) []string {
	var out []string
	for k, c := range m.fields {
		if c.IsAll() {
			out = append(out, k)
			continue
		}
		for _, p := range paths(c) {
			out = append(out, k+"."+p)
		}
	}
	slices.Sort(out)
	return out
}

// FuzzParse parses a read mask as REST sends it (comma-separated) against
// the messages the API masks. An error is one InvalidArgument on the
// parameter that quotes the bad path; a mask parses back from its own
// paths to itself, whatever their order, and pruning leaves only what it
// selects.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"date,supplier.displayName,emission_result", "supplier.name,supplier", "kg_co2e,kgCo2ePerUsd,naicsCodes",
		"suppliers.name", "next_page_token,suppliers", "date.year", "supplier.nope", "", " , ", "supplier..name", "name; DROP TABLE x",
	} {
		for msg := range byte(3) {
			f.Add(s, msg)
		}
	}
	messages := []func() proto.Message{
		func() proto.Message { return tx() },
		func() proto.Message { return tx().GetSupplier() },
		func() proto.Message {
			return &intakev1.ListSuppliersResponse{Suppliers: []*intakev1.Supplier{tx().GetSupplier()}, NextPageToken: "t"}
		},
	}
	f.Fuzz(func(t *testing.T, mask string, msg byte) {
		full := messages[int(msg)%len(messages)]
		in := strings.Split(mask, ",")
		m, err := Parse(full(), &fieldmaskpb.FieldMask{Paths: in}, "read_mask")
		if err != nil {
			var ae *apperr.Error
			if !errors.As(err, &ae) || ae.Kind != apperr.InvalidArgument || len(ae.Violations) != 1 || ae.Violations[0].Field != "read_mask" {
				t.Fatalf("Parse(%q): %#v, want one InvalidArgument on read_mask", in, err)
			}
			named := slices.ContainsFunc(in, func(p string) bool {
				p = strings.TrimSpace(p)
				return p != "" && strings.Contains(err.Error(), strconv.Quote(p))
			})
			if !named && !strings.Contains(err.Error(), "empty path") {
				t.Fatalf("Parse(%q): %q names none of the paths", in, err)
			}
			return
		}
		out := paths(m)
		for _, order := range [][]string{out, reversed(out)} {
			again, err := Parse(full(), &fieldmaskpb.FieldMask{Paths: order}, "read_mask")
			if err != nil || again.String() != m.String() {
				t.Fatalf("mask %s of %q: its paths %q parse to %s, %v", m, in, order, again, err)
			}
		}
		if again, _ := Parse(full(), &fieldmaskpb.FieldMask{Paths: reversed(in)}, "read_mask"); again.String() != m.String() {
			t.Fatalf("%q parses to %s, reversed to %s", in, m, again)
		}
		pruned := full()
		m.Prune(pruned)
		checkPruned(t, pruned.ProtoReflect(), m)
	})
}

func reversed(s []string) []string {
	out := slices.Clone(s)
	slices.Reverse(out)
	return out
}

// checkPruned fails t if r holds a field m does not select.
func checkPruned(t *testing.T, r protoreflect.Message, m Mask) {
	t.Helper()
	r.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		name := string(fd.Name())
		if !m.Has(name) {
			t.Fatalf("pruned to %s, %s still holds %s", m, r.Descriptor().Name(), name)
		}
		if sub := m.Sub(name); !sub.IsAll() && fd.Kind() == protoreflect.MessageKind && !fd.IsList() && !fd.IsMap() {
			checkPruned(t, v.Message(), sub)
		}
		return true
	})
}

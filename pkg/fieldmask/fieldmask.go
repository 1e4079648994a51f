// Package fieldmask checks read masks against a message's fields and prunes
// responses to them. Paths use the proto field names (kg_co2e); the JSON
// names REST clients see (kgCo2e) are accepted too. Services also ask a Mask
// which fields are wanted, so that the SQL they run and the lookups they make
// shrink with it.
package fieldmask

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/vcci-dev/vcci/pkg/apperr"
)

// Mask is a parsed read mask: a tree of selected fields. The zero Mask
// selects everything.
type Mask struct {
	all    bool
	fields map[string]Mask
}

// All selects every field.
var All = Mask{all: true}

// Parse checks fm's paths against m's fields (param names the request field
// in errors) and returns the Mask; a nil or empty fm selects everything.
func Parse(m proto.Message, fm *fieldmaskpb.FieldMask, param string) (Mask, error) {
	if len(fm.GetPaths()) == 0 {
		return All, nil
	}
	root := Mask{fields: map[string]Mask{}}
	desc := m.ProtoReflect().Descriptor()
	for _, path := range fm.GetPaths() {
		path = strings.TrimSpace(path)
		if path == "" {
			return Mask{}, apperr.Invalid(param, "has an empty path")
		}
		// Every path is checked whole, even under a field already selected
		// whole, so that what is refused does not depend on the order.
		fields, err := resolve(desc, path, param)
		if err != nil {
			return Mask{}, err
		}
		root.add(fields)
	}
	return root, nil
}

// resolve checks path against d's fields and returns their proto names.
func resolve(d protoreflect.MessageDescriptor, path, param string) ([]string, error) {
	parts := strings.Split(path, ".")
	fields := make([]string, len(parts))
	for i, part := range parts {
		if d == nil {
			return nil, apperr.Invalid(param, "%q: %s is not a message, it has no field %q", path, strings.Join(parts[:i], "."), part)
		}
		fd := lookup(d, part)
		if fd == nil {
			where := ""
			if len(parts) > 1 { // name the whole path too: the part may be in several
				where = strconv.Quote(path) + ": "
			}
			return nil, apperr.Invalid(param, "%sunknown field %q in %s; its fields are %s", where, part, d.Name(), names(d))
		}
		fields[i] = string(fd.Name())
		d = nil
		if fd.Kind() == protoreflect.MessageKind && !fd.IsList() && !fd.IsMap() {
			d = fd.Message()
		}
	}
	return fields, nil
}

// add selects the field at the end of path (proto names), whole.
func (m Mask) add(path []string) {
	node := m // shares m's map with the tree
	for _, name := range path[:len(path)-1] {
		child, ok := node.fields[name]
		if ok && child.all {
			return // the whole field is selected already
		}
		if !ok {
			child = Mask{fields: map[string]Mask{}}
			node.fields[name] = child
		}
		node = child
	}
	node.fields[path[len(path)-1]] = All
}

func lookup(d protoreflect.MessageDescriptor, part string) protoreflect.FieldDescriptor {
	if fd := d.Fields().ByName(protoreflect.Name(part)); fd != nil {
		return fd
	}
	return d.Fields().ByJSONName(part)
}

func names(d protoreflect.MessageDescriptor) string {
	fields := d.Fields()
	out := make([]string, 0, fields.Len())
	for i := range fields.Len() {
		out = append(out, string(fields.Get(i).Name()))
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}

// IsAll reports whether m selects every field.
func (m Mask) IsAll() bool { return m.all || m.fields == nil }

// Has reports whether field (a top-level proto name) is wanted, whole or in
// part.
func (m Mask) Has(field string) bool {
	if m.IsAll() {
		return true
	}
	_, ok := m.fields[field]
	return ok
}

// Fields lists the top-level fields selected, whole or in part, sorted; nil
// when m selects everything, and empty (not nil) when it selects nothing.
func (m Mask) Fields() []string {
	if m.IsAll() {
		return nil
	}
	out := make([]string, 0, len(m.fields))
	for k := range m.fields {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Sub returns the mask for a message field; All when the field is selected
// whole (or m selects everything).
func (m Mask) Sub(field string) Mask {
	if m.IsAll() {
		return All
	}
	if c, ok := m.fields[field]; ok {
		return c
	}
	return Mask{fields: map[string]Mask{}}
}

// Prune clears the fields of msg that m does not select.
func (m Mask) Prune(msg proto.Message) {
	if m.IsAll() || msg == nil {
		return
	}
	prune(msg.ProtoReflect(), m)
}

func prune(r protoreflect.Message, m Mask) {
	r.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		c, ok := m.fields[string(fd.Name())]
		switch {
		case !ok:
			r.Clear(fd)
		case !c.IsAll() && fd.Kind() == protoreflect.MessageKind && !fd.IsList() && !fd.IsMap():
			prune(v.Message(), c)
		}
		return true
	})
}

// String renders the selected paths, sorted (for cache keys).
func (m Mask) String() string {
	if m.IsAll() {
		return "*"
	}
	var out []string
	for k, c := range m.fields {
		if c.IsAll() {
			out = append(out, k)
		} else {
			out = append(out, fmt.Sprintf("%s(%s)", k, c.String()))
		}
	}
	slices.Sort(out)
	return strings.Join(out, ",")
}

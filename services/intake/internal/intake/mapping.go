package intake

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/vcci-dev/vcci/pkg/apperr"
)

// Mapping sentinels.
var (
	ErrMappingNotFound = apperr.New(apperr.NotFound, "column mapping not found")
	ErrMappingExists   = apperr.New(apperr.AlreadyExists, "a column mapping with that id already exists")
)

// ColumnMapping is a tenant's saved mapping of an ERP export's header names
// onto the spend file's columns.
type ColumnMapping struct {
	ID        string
	Columns   map[string]string // header name -> column
	CreatedAt time.Time
}

// MappingStore keeps column mappings.
type MappingStore interface {
	// CreateMapping stores m; an id the tenant has is ErrMappingExists.
	CreateMapping(ctx context.Context, tenant uuid.UUID, m ColumnMapping) (ColumnMapping, error)
	// Mapping returns one mapping, or ErrMappingNotFound.
	Mapping(ctx context.Context, tenant uuid.UUID, id string) (ColumnMapping, error)
	// Mappings lists mappings by id, those after afterID ("" from the first).
	Mappings(ctx context.Context, tenant uuid.UUID, afterID string, limit int) ([]ColumnMapping, error)
	// DeleteMapping deletes one mapping, or is ErrMappingNotFound.
	DeleteMapping(ctx context.Context, tenant uuid.UUID, id string) error
}

// MappingPrefix starts a column mapping's resource name.
const MappingPrefix = "columnMappings/"

// Limits on a mapping.
const (
	maxMappingEntries = 200
	maxSourceName     = 256
)

// mappingID is an AIP-122 resource id.
var mappingIDPattern = regexp.MustCompile(`^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$`)

// MappingID parses "columnMappings/{mapping}" of the request field field.
func MappingID(field, name string) (string, error) {
	id, ok := strings.CutPrefix(name, MappingPrefix)
	if !ok || !mappingIDPattern.MatchString(id) {
		return "", apperr.Invalid(field, "%q is not %s{mapping}", clean(name, 200), MappingPrefix)
	}
	return id, nil
}

// CheckMapping validates a mapping to create: its id, that every target is
// a column, and that no two header names map to one column. Whether the
// required columns are all there is the header's question, at upload.
func CheckMapping(m ColumnMapping) error {
	if !mappingIDPattern.MatchString(m.ID) {
		return apperr.Invalid("column_mapping_id", "must be 1 to 63 lower-case letters, digits and hyphens, starting with a letter, got %q", clean(m.ID, 100))
	}
	if len(m.Columns) == 0 {
		return apperr.Invalid("column_mapping.columns", "must map at least one header name")
	}
	if len(m.Columns) > maxMappingEntries {
		return apperr.Invalid("column_mapping.columns", "maps %d header names, at most %d", len(m.Columns), maxMappingEntries)
	}
	columns := Columns()
	from := map[string]string{}
	for _, src := range slices.Sorted(maps.Keys(m.Columns)) {
		target := m.Columns[src]
		field := fmt.Sprintf("column_mapping.columns[%q]", clean(src, 100))
		switch {
		case strings.TrimSpace(src) == "" || len(src) > maxSourceName || !utf8.ValidString(src) || strings.IndexByte(src, 0) >= 0:
			return apperr.Invalid(field, "a header name must be 1 to %d bytes of UTF-8 text without NUL bytes", maxSourceName)
		case !slices.Contains(columns[:], target):
			return apperr.Invalid(field, "%q is not a column; the columns are %s", clean(target, 100), strings.Join(columns[:], ","))
		case from[target] != "":
			return apperr.Invalid(field, "%q and %q both map to %s", from[target], src, target)
		}
		from[target] = src
	}
	return nil
}

// CreateMapping validates and stores a mapping.
func (s *Service) CreateMapping(ctx context.Context, tenant uuid.UUID, m ColumnMapping) (ColumnMapping, error) {
	if err := CheckMapping(m); err != nil {
		return ColumnMapping{}, err
	}
	return s.store.CreateMapping(ctx, tenant, m)
}

// Mapping returns a mapping.
func (s *Service) Mapping(ctx context.Context, tenant uuid.UUID, id string) (ColumnMapping, error) {
	return s.store.Mapping(ctx, tenant, id)
}

// Mappings lists mappings after afterID.
func (s *Service) Mappings(ctx context.Context, tenant uuid.UUID, afterID string, limit int) ([]ColumnMapping, error) {
	return s.store.Mappings(ctx, tenant, afterID, limit)
}

// DeleteMapping deletes a mapping.
func (s *Service) DeleteMapping(ctx context.Context, tenant uuid.UUID, id string) error {
	return s.store.DeleteMapping(ctx, tenant, id)
}

// resolveMapping looks up the mapping an upload names, into nu.Mapping.
func (s *Service) resolveMapping(ctx context.Context, tenant uuid.UUID, nu *NewUpload) error {
	if nu.ColumnMapping == "" {
		return nil
	}
	id, err := MappingID("column_mapping", nu.ColumnMapping)
	if err != nil {
		return err
	}
	m, err := s.store.Mapping(ctx, tenant, id)
	if err != nil {
		if errors.Is(err, ErrMappingNotFound) {
			return apperr.Invalid("column_mapping", "%s does not exist", nu.ColumnMapping)
		}
		return err
	}
	nu.Mapping = m.Columns
	return nil
}

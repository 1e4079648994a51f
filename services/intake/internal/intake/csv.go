package intake

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/vcci-dev/vcci/pkg/apperr"
)

// Columns are the file's columns, in any order; all but the optional ones
// must be in the header. A line is spend (naics_code, amount, currency) or,
// when activity is set, activity data (activity, quantity, unit; an amount
// is then optional, kept as the line's spend). A spend line naming the
// supplier's product (product_id) may give the quantity bought and its
// unit, for the supplier's product footprint; its spend is the fallback.
func Columns() [numColumns]string {
	return [numColumns]string{"transaction_id", "date", "supplier_id", "supplier_name", "naics_code", "amount", "currency", "description",
		"supplier_country", "category", "activity", "quantity", "unit", "product_id"}
}

// optional reports whether column c may be left out of the header.
func optional(c int) bool { return c >= colCountry }

// required lists the columns a header must name.
func required() string {
	var out []string
	for c, col := range Columns() {
		if !optional(c) {
			out = append(out, col)
		}
	}
	return strings.Join(out, ",")
}

const (
	colTx = iota
	colDate
	colSupplier
	colSupplierName
	colNAICS
	colAmount
	colCurrency
	colDescription
	colCountry
	colCategory
	colActivity
	colQuantity
	colUnit
	colProduct
	numColumns
)

// Limits on what one row may hold.
const (
	MaxLineBytes  = 64 << 10
	maxIDLen      = 128
	maxNameLen    = 512
	maxDescLen    = 2048
	MaxErrorsKept = 100_000
	// maxHeaderErrors bounds the errors kept of one header.
	maxHeaderErrors = 100
	// MaxIDsInMemory bounds the ids the validator remembers to find
	// duplicates (about 50 bytes each); a longer file's later duplicates
	// are found by the store (see Validator.DuplicatesUnchecked).
	MaxIDsInMemory = 4 << 20
	blockRows      = 4096
	valueKeepBytes = 100
)

// firstDate is the earliest transaction date accepted.
func firstDate() time.Time { return time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC) }

// isAmount matches -?[0-9]{1,14}(\.[0-9]{1,4})? without a regexp: it runs
// once per row.
func isAmount(s string) bool {
	s = strings.TrimPrefix(s, "-")
	whole, frac, dot := strings.Cut(s, ".")
	if len(whole) < 1 || len(whole) > 14 || !digits(whole) {
		return false
	}
	return !dot || (len(frac) >= 1 && len(frac) <= 4 && digits(frac))
}

// IsNAICS checks the shape of a NAICS-6 code.
func IsNAICS(s string) bool { return len(s) == 6 && digits(s) }

// IsCountry checks the shape of an ISO 3166-1 alpha-2 code (two letters A-Z).
func IsCountry(s string) bool {
	return len(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z'
}

func digits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Row is one accepted purchase line.
type Row struct {
	Line                            int64
	TransactionID                   string
	Date                            time.Time
	SupplierID, SupplierName, NAICS string
	Amount, Currency, Description   string // Amount in Currency, as uploaded
	// AmountUSD is Amount in US dollars (refdata.FX): Amount itself for
	// USD.
	AmountUSD string
	Country   string // ISO 3166-1 alpha-2, or empty
	// Category is the line's Scope 3 category: its own (Override), else
	// the one of the category rule Rule names, else its factor's default.
	Category int16
	Override bool
	Rule     string
	// An activity line's activity (a DESNZ factor id), quantity and unit,
	// as given. Quantity and unit are also a product line's; both are empty
	// on other spend lines.
	Activity, Quantity, Unit string
	// ProductID is the supplier's product bought, or empty.
	ProductID string
	// Upload is the upload the row belongs to, set where the rows of
	// several uploads travel together; 0 is the upload at hand.
	Upload int64
}

// CategorySource says where the line's category came from: "line" (its
// own), "categoryRules/{rule}", or "factor" (its factor's default).
func (r *Row) CategorySource() string {
	switch {
	case r.Override:
		return "line"
	case r.Rule != "":
		return RulePrefix + r.Rule
	}
	return "factor"
}

// RowError says why one line was rejected.
type RowError struct {
	Row            int64
	Column, Reason string
	Value          string
}

// ErrorPage is a page of an upload's row errors.
type ErrorPage struct {
	Errors []RowError
	Last   int64 // the seq of the page's last error, for the next page
	Total  int64 // the upload's row errors, on every page
}

// Sniff rejects, from the first bytes of a file, content that is not CSV at
// all, so it is refused before anything is stored. The header line must be
// clean UTF-8 text; past it, a NUL byte or an invalid sequence is the error
// of the row it is in (the Validator's), and only a sample of which more
// than one byte in a hundred is bad (a binary file, UTF-16, Latin-1 text)
// is refused whole.
func Sniff(head []byte) error {
	return sniffText(FormatCSV, head)
}

// sniffText is Sniff for a text format: CSV or JSON Lines.
func sniffText(f Format, head []byte) error {
	if len(head) == 0 {
		return apperr.Invalid("file", "is empty")
	}
	head = bytes.TrimPrefix(head, []byte("\xef\xbb\xbf"))
	head = trimCutRune(head)
	first, _, _ := bytes.Cut(head, []byte("\n"))
	if i := bytes.IndexByte(first, 0); i >= 0 {
		return apperr.Invalid("file", "is not a %s file: binary content (NUL byte at offset %d)", f, i)
	}
	if !utf8.Valid(first) {
		return apperr.Invalid("file", "is not a %s file: the %s is not UTF-8 text", f, firstLineName(f))
	}
	nul, invalid := badBytes(head)
	// A few bad bytes in a short file are still its rows' errors.
	tooMany := func(n int) bool { return n > 16 && n*100 > len(head) }
	if tooMany(nul) {
		return apperr.Invalid("file", "is not a %s file: binary content (%d NUL bytes in the first %d)", f, nul, len(head))
	}
	if tooMany(invalid) {
		return apperr.Invalid("file", "is not a %s file: not UTF-8 text (%d invalid bytes in the first %d)", f, invalid, len(head))
	}
	if f == FormatCSV && !bytes.Contains(first, []byte(",")) {
		return apperr.Invalid("file", "is not a CSV file: the first line is not a comma-separated header (want %s)", required())
	}
	return nil
}

// trimCutRune drops a multi-byte rune cut short at the end of a sample.
func trimCutRune(b []byte) []byte {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				return b[:i]
			}
			return b
		}
	}
	return b
}

// badBytes counts b's NUL bytes and the bytes of its invalid UTF-8
// sequences.
func badBytes(b []byte) (nul, invalid int) {
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		switch {
		case r == 0:
			nul++
		case r == utf8.RuneError && n == 1:
			invalid++
		}
		b = b[n:]
	}
	return nul, invalid
}

// CodeChecker tells which NAICS codes have a factor, and the Scope 3
// category each known one is reported under.
type CodeChecker interface {
	Categories(ctx context.Context, codes []string) (map[string]int16, error)
}

// Validator reads a spend CSV and hands out its accepted rows one at a time,
// keeping the rejected ones' errors. Parsing runs in its own goroutine, one
// block ahead, so parsing and storing use both cores.
type Validator struct {
	ctx    context.Context
	codes  CodeChecker
	known  map[string]int16 // NAICS code -> category; 0 for no factor
	blocks chan block
	cur    []parsed
	pos    int
	err    error
	cancel context.CancelFunc

	// Progress, read by the owner after Next returns false (or via Progress).
	Read, Accepted, Rejected int64
	Errors                   []RowError
	MinDate, MaxDate         time.Time
	progress                 func(read int64)
	maxIDs                   int
	mapping                  map[string]string
	rules                    *Rules
	spoolDir                 string
	// Ignored are the header's columns no column took (with a mapping).
	Ignored   []string
	unchecked atomic.Bool // set by the parser when its id set filled up
}

// Option changes a Validator's defaults.
type Option func(*Validator)

// WithMapping reads the header through mapping (header name -> column):
// header names neither mapped nor a column's own are ignored (Ignored).
func WithMapping(mapping map[string]string) Option { return func(v *Validator) { v.mapping = mapping } }

// WithRules decides the category of lines without one of their own by
// rules before their factor's default.
func WithRules(rules *Rules) Option { return func(v *Validator) { v.rules = rules } }

// WithSpoolDir sets where an XLSX workbook is spooled (default os.TempDir).
func WithSpoolDir(dir string) Option { return func(v *Validator) { v.spoolDir = dir } }

// WithMaxIDsInMemory sets how many transaction ids the validator keeps to
// find duplicates (MaxIDsInMemory by default).
func WithMaxIDsInMemory(n int) Option { return func(v *Validator) { v.maxIDs = n } }

// DuplicatesUnchecked reports, once Next has returned false, whether the
// file had more rows than the validator could check for duplicate ids in
// memory: the accepted rows past that point may repeat an id, and the
// caller must check them.
func (v *Validator) DuplicatesUnchecked() bool { return v.unchecked.Load() }

type parsed struct {
	row Row
	bad *RowError
}

type block struct {
	rows []parsed
	err  error
}

// HeaderError is a header that does not name the columns needed.
type HeaderError struct {
	Errors []RowError
	// Summary, when set, is the error's text: the missing columns and the
	// mapping that would supply them (mapHeader).
	Summary string
}

func (e *HeaderError) Error() string {
	if e.Summary != "" {
		return e.Summary
	}
	return fmt.Sprintf("header: %s: %s", e.Errors[0].Column, e.Errors[0].Reason)
}

// NewValidator reads the header of r and starts parsing. r is CSV, an XLSX
// workbook or JSON Lines, as its first bytes show (DetectFormat). progress,
// if not nil, is called with the rows read so far every block.
func NewValidator(ctx context.Context, r io.Reader, codes CodeChecker, progress func(int64), opts ...Option) (*Validator, error) {
	ctx, cancel := context.WithCancel(ctx)
	v := &Validator{ctx: ctx, codes: codes, known: map[string]int16{}, blocks: make(chan block, 2), cancel: cancel, progress: progress,
		maxIDs: MaxIDsInMemory}
	for _, o := range opts {
		o(v)
	}
	recs, err := openRecords(r, v.spoolDir)
	if err != nil {
		cancel()
		return nil, err
	}
	idx, err := v.readHeader(recs)
	if err != nil {
		cancel()
		_ = recs.Close()
		return nil, err
	}
	go v.parse(ctx, recs, idx)
	return v, nil
}

// readHeader maps the header's columns, through the mapping if any.
func (v *Validator) readHeader(recs recordSource) (layout, error) {
	header, err := recs.Header()
	if err != nil {
		return layout{}, err
	}
	idx, ignored, he := mapHeader(header, v.mapping)
	if he != nil {
		return layout{}, he
	}
	v.Ignored = ignored
	if d, ok := recs.(dateColumn); ok {
		d.setDateColumn(idx.idx[colDate])
	}
	return idx, nil
}

// Close stops the parser (for an early return).
func (v *Validator) Close() { v.cancel() }

// layout is where each column is in the file's records.
type layout struct {
	idx    [numColumns]int // -1 for an optional column left out
	fields int             // fields in the header
}

func (v *Validator) parse(ctx context.Context, recs recordSource, idx layout) {
	defer close(v.blocks)
	defer func() { _ = recs.Close() }() // a read-only source: nothing to lose
	// A panic here would take the whole service down, not one upload: it
	// fails the upload instead (as River does for a job's own goroutine).
	defer func() {
		if p := recover(); p != nil {
			select {
			case v.blocks <- block{err: fmt.Errorf("validating the file: panic: %v", p)}:
			case <-ctx.Done():
			}
		}
	}()
	seen := newIDSet(v.maxIDs)
	defer func() { v.unchecked.Store(seen.full) }()
	minDate, maxDate := firstDate(), time.Now().UTC().AddDate(1, 0, 0)
	var read int64
	// The first block grows as it fills (most files are a few rows); later
	// ones are allocated whole.
	blk := make([]parsed, 0, 64)
	send := func(b block) bool {
		select {
		case v.blocks <- b:
			return true
		case <-ctx.Done():
			return false
		}
	}
	for {
		rec, err := recs.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			send(block{err: err})
			return
		}
		read++
		if rec.bad != nil {
			blk = append(blk, parsed{bad: rec.bad})
		} else {
			blk = append(blk, validateRecord(rec.line, rec.fields, idx, seen, minDate, maxDate))
		}
		if len(blk) == blockRows {
			if !send(block{rows: blk}) {
				return
			}
			if v.progress != nil {
				v.progress(read)
			}
			blk = make([]parsed, 0, blockRows)
		}
	}
	if len(blk) > 0 {
		send(block{rows: blk})
	}
}

func csvReason(err error) string {
	if pe, ok := errors.AsType[*csv.ParseError](err); ok {
		return pe.Err.Error()
	}
	return err.Error()
}

// keep is what is stored of a rejected value: its first bytes, as text.
func keep(s string) string {
	if len(s) <= valueKeepBytes {
		return clean(s, valueKeepBytes)
	}
	return clean(s, valueKeepBytes) + "…"
}

// clean is s's first n bytes at most, cut at a rune boundary, as text
// PostgreSQL can hold: invalid sequences and NUL bytes become U+FFFD.
func clean(s string, n int) string {
	if len(s) > n {
		i := n
		for i > 0 && i > n-utf8.UTFMax && !utf8.RuneStart(s[i]) {
			i--
		}
		if !utf8.RuneStart(s[i]) {
			i = n // not UTF-8 there anyway
		}
		s = s[:i]
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\ufffd"), "\x00", "\ufffd")
}

// invalidAt is the offset of s's first invalid UTF-8 sequence, or -1.
func invalidAt(s string) int {
	if utf8.ValidString(s) {
		return -1
	}
	for i, r := range s {
		if r == utf8.RuneError {
			if _, n := utf8.DecodeRuneInString(s[i:]); n == 1 {
				return i
			}
		}
	}
	return -1
}

func validateRecord(line int64, rec []string, lay layout, seen *idSet, minDate, maxDate time.Time) parsed {
	idx := lay.idx
	bad := func(col int, reason string, value string) parsed {
		name := ""
		if col >= 0 {
			name = Columns()[col]
		}
		return parsed{bad: &RowError{Row: line, Column: name, Reason: reason, Value: keep(value)}}
	}
	if strings.HasSuffix(rec[len(rec)-1], cutMarker) {
		return bad(-1, fmt.Sprintf("line is over %d bytes, over the %d-byte limit", MaxRecordBytes, MaxLineBytes), "")
	}
	size := 0
	for _, f := range rec {
		size += len(f) + 1
	}
	if size > MaxLineBytes {
		return bad(-1, fmt.Sprintf("line is %d bytes, over the %d-byte limit", size, MaxLineBytes), "")
	}
	if len(rec) != lay.fields {
		return bad(-1, fmt.Sprintf("has %d fields, the header has %d", len(rec), lay.fields), "")
	}
	// PostgreSQL's text holds neither, so such a field is its row's error
	// here, not the file's when its rows are stored.
	for c := range numColumns {
		if idx[c] < 0 {
			continue
		}
		f := rec[idx[c]]
		if i := invalidAt(f); i >= 0 {
			return bad(c, fmt.Sprintf("not valid UTF-8 text at byte %d of the field (the file must be UTF-8)", i+1), f)
		}
		if i := strings.IndexByte(f, 0); i >= 0 {
			return bad(c, fmt.Sprintf("contains a NUL byte (0x00) at byte %d of the field", i+1), f)
		}
	}
	get := func(c int) string {
		if idx[c] < 0 {
			return ""
		}
		return strings.TrimSpace(rec[idx[c]])
	}
	r := Row{Line: line, TransactionID: get(colTx), SupplierID: get(colSupplier), SupplierName: get(colSupplierName),
		NAICS: get(colNAICS), Amount: get(colAmount), Currency: strings.ToUpper(get(colCurrency)), Description: get(colDescription),
		Country: strings.ToUpper(get(colCountry)), Activity: strings.ToLower(get(colActivity)), Quantity: get(colQuantity), Unit: get(colUnit),
		ProductID: get(colProduct)}
	if col, reason := checkKind(&r, get(colCategory)); reason != "" {
		return bad(col, reason, get(col))
	}
	switch {
	case r.TransactionID == "":
		return bad(colTx, "required", "")
	case r.SupplierID == "":
		return bad(colSupplier, "required", "")
	}
	for _, f := range []struct {
		col, max int
		v        string
	}{{colTx, maxIDLen, r.TransactionID}, {colSupplier, maxIDLen, r.SupplierID}, {colProduct, maxIDLen, r.ProductID},
		{colSupplierName, maxNameLen, r.SupplierName}, {colDescription, maxDescLen, r.Description}} {
		if len(f.v) > f.max {
			return bad(f.col, fmt.Sprintf("longer than %d bytes", f.max), f.v)
		}
	}
	switch {
	case !IsNAICS(r.NAICS) && (r.Activity == "" || r.NAICS != ""):
		return bad(colNAICS, "not a 6-digit NAICS code", r.NAICS)
	case !isAmount(r.Amount):
		return bad(colAmount, "not a number with at most 4 decimals (like 1234.56 or -80.00)", r.Amount)
	case len(r.Currency) != 3:
		return bad(colCurrency, "not an ISO 4217 currency code (like USD or EUR)", r.Currency)
	case r.Country != "" && !IsCountry(r.Country):
		return bad(colCountry, "not an ISO 3166-1 alpha-2 country code (like DE or US)", r.Country)
	}
	d, err := time.Parse(time.DateOnly, get(colDate))
	if err != nil {
		return bad(colDate, "not a date in YYYY-MM-DD form", get(colDate))
	}
	if d.Before(minDate) || d.After(maxDate) {
		return bad(colDate, fmt.Sprintf("outside %s..%s", minDate.Format(time.DateOnly), maxDate.Format(time.DateOnly)), get(colDate))
	}
	r.Date = d
	if r.AmountUSD, err = ToUSD(r.Amount, r.Currency, d); err != nil {
		return bad(colCurrency, err.Error(), r.Currency)
	}
	if first, dup := seen.add(r.TransactionID, line); dup {
		return bad(colTx, DuplicateReason(first), r.TransactionID)
	}
	return parsed{row: r}
}

// DuplicateReason is the error of a row repeating the transaction id of
// the file's row first.
func DuplicateReason(first int64) string {
	return fmt.Sprintf("duplicate transaction id: first seen on row %d", first)
}

// Next returns the next accepted row; ok is false at the end or on error
// (see Err).
func (v *Validator) Next() (Row, bool) {
	for {
		if v.pos < len(v.cur) {
			p := v.cur[v.pos]
			v.pos++
			if p.bad == nil && p.row.Activity == "" && v.known[p.row.NAICS] == 0 {
				p.bad = &RowError{Row: p.row.Line, Column: "naics_code", Reason: "no emission factor for this NAICS code in the factor library", Value: p.row.NAICS}
			}
			if p.bad == nil && !p.row.Override {
				p.bad = v.categorize(&p.row)
			}
			if p.bad != nil {
				v.reject(*p.bad)
				continue
			}
			v.Accepted++
			if v.MinDate.IsZero() || p.row.Date.Before(v.MinDate) {
				v.MinDate = p.row.Date
			}
			if p.row.Date.After(v.MaxDate) {
				v.MaxDate = p.row.Date
			}
			return p.row, true
		}
		if v.err != nil {
			return Row{}, false
		}
		b, ok := <-v.blocks
		if !ok {
			return Row{}, false
		}
		if b.err != nil {
			v.err = b.err
			return Row{}, false
		}
		v.Read += int64(len(b.rows))
		if err := v.resolveCodes(b.rows); err != nil {
			v.err = err
			return Row{}, false
		}
		v.cur, v.pos = b.rows, 0
	}
}

// categorize gives a line without a category of its own the one of the
// rule that matches it, else its factor's default (checkActivity set an
// activity line's); a line left without one is rejected.
func (v *Validator) categorize(r *Row) *RowError {
	if r.Activity == "" {
		r.Category = v.known[r.NAICS]
	}
	if rule := v.rules.Match(r); rule != nil {
		r.Category, r.Rule = rule.Category, rule.ID
	}
	if r.Category == 0 {
		return &RowError{Row: r.Line, Column: Columns()[colCategory], Reason: "required for this activity: its factor has no default Scope 3 category " +
			"(it is the reporter's own fuel or energy use), and no category rule matches the line"}
	}
	return nil
}

// resolveCodes asks, in one call, about the block's codes not seen before.
func (v *Validator) resolveCodes(rows []parsed) error {
	var ask []string
	asked := map[string]bool{}
	for _, p := range rows {
		if p.bad != nil || p.row.Activity != "" {
			continue
		}
		if _, ok := v.known[p.row.NAICS]; !ok && !asked[p.row.NAICS] {
			asked[p.row.NAICS] = true
			ask = append(ask, p.row.NAICS)
		}
	}
	if len(ask) == 0 {
		return nil
	}
	got, err := v.codes.Categories(v.ctx, ask)
	if err != nil {
		return fmt.Errorf("checking NAICS codes: %w", err)
	}
	for _, c := range ask {
		v.known[c] = got[c]
	}
	return nil
}

func (v *Validator) reject(e RowError) {
	v.Rejected++
	if len(v.Errors) < MaxErrorsKept {
		v.Errors = append(v.Errors, e)
	}
}

// All reads every remaining accepted row (for a file small enough to hold).
func (v *Validator) All() ([]Row, error) {
	var rows []Row
	for {
		r, ok := v.Next()
		if !ok {
			return rows, v.Err()
		}
		rows = append(rows, r)
	}
}

// Err is the error that stopped Next early, if any.
func (v *Validator) Err() error { return v.err }

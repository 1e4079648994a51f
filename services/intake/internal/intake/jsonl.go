package intake

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// jsonlRecords reads JSON Lines: one object per line, whose keys are the
// columns. The first object's keys are the header, and it is the first row
// too; a later object may leave keys out (empty fields) but not add any.
type jsonlRecords struct {
	br        *bufio.Reader
	line      int64
	keys      []string
	index     map[string]int
	first     []string // the first object's fields, until Next returns them
	firstLine int64
}

func newJSONLRecords(br *bufio.Reader) *jsonlRecords { return &jsonlRecords{br: br} }

func (j *jsonlRecords) Header() ([]string, error) {
	b, tooLong, err := j.readLine()
	if err != nil {
		return nil, &HeaderError{Errors: []RowError{{Row: 1, Reason: "cannot read the first line: " + err.Error()}}}
	}
	if tooLong {
		return nil, &HeaderError{Errors: []RowError{{Row: j.line, Reason: fmt.Sprintf("the first line is over %d bytes", MaxLineBytes)}}}
	}
	j.index = map[string]int{}
	var bad *RowError
	j.first, bad = j.object(b, true)
	j.firstLine = j.line
	if bad != nil {
		bad.Reason = "the first line's keys are the header: " + bad.Reason
		return nil, &HeaderError{Errors: []RowError{*bad}}
	}
	return j.keys, nil
}

func (j *jsonlRecords) Next() (record, error) {
	if j.first != nil {
		rec := record{fields: j.first, line: j.firstLine}
		j.first = nil
		return rec, nil
	}
	b, tooLong, err := j.readLine()
	if err != nil {
		return record{}, err
	}
	if tooLong {
		return record{line: j.line, bad: &RowError{Row: j.line, Reason: fmt.Sprintf("line is over %d bytes, over the %d-byte limit", MaxLineBytes, MaxLineBytes)}}, nil
	}
	rec, bad := j.object(b, false)
	return record{fields: rec, line: j.line, bad: bad}, nil
}

// readLine returns the next line that is not blank, without its newline;
// tooLong when it is over MaxLineBytes (the rest of it is skipped). err is
// io.EOF at the end.
func (j *jsonlRecords) readLine() (line []byte, tooLong bool, err error) {
	for {
		var buf []byte
		for {
			part, err := j.br.ReadSlice('\n')
			if tooLong || len(buf)+len(part) > MaxLineBytes+1 {
				tooLong = true
			} else {
				buf = append(buf, part...)
			}
			if errors.Is(err, bufio.ErrBufferFull) {
				continue
			}
			if err != nil && (!errors.Is(err, io.EOF) || (len(buf) == 0 && !tooLong)) {
				return nil, false, err //nolint:wrapcheck // io.EOF as it is; a read error is the chunk reader's, wrapped there
			}
			break
		}
		j.line++
		if trimmed := bytes.TrimSpace(bytes.TrimPrefix(buf, []byte("\xef\xbb\xbf"))); len(trimmed) > 0 || tooLong {
			return trimmed, tooLong, nil
		}
	}
}

// object reads one line's object into fields in header order; with
// header, its keys become the header.
func (j *jsonlRecords) object(b []byte, header bool) ([]string, *RowError) {
	bad := func(col, reason, value string) *RowError {
		return &RowError{Row: j.line, Column: keep(col), Reason: reason, Value: keep(value)}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, bad("", "not a JSON object", string(b))
	}
	rec := make([]string, len(j.keys))
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, bad("", notJSON(err), string(b))
		}
		key, _ := t.(string)
		v, reason := jsonValue(dec)
		if reason != "" {
			return nil, bad(key, reason, string(b))
		}
		i, ok := j.index[key]
		switch {
		case header && ok:
			return nil, bad(key, "key appears twice", key)
		case header:
			i = len(j.keys)
			j.index[key] = i
			j.keys = append(j.keys, key)
			rec = append(rec, "") //nolint:makezero // the header line grows its record, from empty, key by key
		case !ok:
			return nil, bad(key, "not a key of the first line (its keys are the columns)", key)
		}
		rec[i] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, bad("", notJSON(err), string(b))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, bad("", "more than one JSON value on the line", string(b))
	}
	return rec, nil
}

// jsonValue reads a field's value: a string, or a number as its exact JSON
// text; null is an empty field. Anything else is the reason it is refused.
func jsonValue(dec *json.Decoder) (value, reason string) {
	t, err := dec.Token()
	if err != nil {
		return "", notJSON(err)
	}
	switch v := t.(type) {
	case string:
		return v, ""
	case json.Number:
		return string(v), ""
	case nil:
		return "", ""
	}
	return "", "must be a string or a number"
}

func notJSON(err error) string { return "not valid JSON: " + err.Error() }

func (*jsonlRecords) Close() error { return nil }

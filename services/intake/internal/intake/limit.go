package intake

import (
	"bytes"
	"io"
)

// MaxRecordBytes is the most of one CSV record that reaches the parser.
// encoding/csv holds a whole record (a line, or several inside quotes) in
// memory, so a file of one endless field would take the worker down; past
// this size the rest of the record is dropped and the row rejected.
// Records between MaxLineBytes and this size are rejected by the
// validator with their exact size.
const MaxRecordBytes = 1 << 20

// cutMarker ends a record cut at MaxRecordBytes. It holds a NUL byte, which
// no accepted field can, so no real value is mistaken for it.
const cutMarker = "\x00vcci:record-over-limit"

// Where a byte falls in a CSV record, as encoding/csv reads it (without
// LazyQuotes): only what decides where a record ends is tracked.
const (
	fieldStart = iota
	unquoted
	quoted
	quoteSeen // a quote inside a quoted field: its end, or half of ""
	quoteCR   // a carriage return after a closing quote
	badLine   // a quote error: encoding/csv drops the rest of the line
)

// recordLimiter passes a CSV stream through, cutting every record at
// MaxRecordBytes: the cut record is ended with cutMarker and its newlines
// inside quotes become blank lines, which encoding/csv skips but counts,
// so later rows keep their line numbers.
type recordLimiter struct {
	r    io.Reader
	max  int
	buf  []byte
	in   []byte // read, not yet scanned
	out  []byte // to return before scanning more
	err  error
	st   int
	n    int  // bytes of the current record so far
	skip bool // dropping the rest of a cut record
}

func newRecordLimiter(r io.Reader, limit int) *recordLimiter {
	return &recordLimiter{r: r, max: limit, buf: make([]byte, 64<<10)}
}

// step moves the state on by c and reports whether c ends the record.
func (l *recordLimiter) step(c byte) bool {
	switch l.st {
	case fieldStart:
		switch c {
		case '"':
			l.st = quoted
		case ',':
		case '\n':
			return true
		default:
			l.st = unquoted
		}
	case unquoted:
		switch c {
		case ',':
			l.st = fieldStart
		case '\n':
			l.st = fieldStart
			return true
		case '"':
			l.st = badLine
		}
	case quoted:
		if c == '"' {
			l.st = quoteSeen
		}
	case quoteSeen:
		switch c {
		case '"':
			l.st = quoted
		case ',':
			l.st = fieldStart
		case '\n':
			l.st = fieldStart
			return true
		case '\r':
			l.st = quoteCR
		default:
			l.st = badLine
		}
	case quoteCR:
		if c == '\n' {
			l.st = fieldStart
			return true
		}
		l.st = badLine
	case badLine:
		if c == '\n' {
			l.st = fieldStart
			return true
		}
	}
	return false
}

// cut ends the record at hand where it was cut, as valid CSV where it can:
// the marker closes an open quoted field or adds a field; a line encoding/csv
// will refuse anyway just ends.
func (l *recordLimiter) cut() {
	switch l.st {
	case fieldStart, unquoted:
		l.out = append(l.out[:0], cutMarker+"\n"...)
	case quoted:
		l.out = append(l.out[:0], cutMarker+"\"\n"...)
	case quoteSeen:
		l.out = append(l.out[:0], ","+cutMarker+"\n"...)
	default:
		l.out = append(l.out[:0], '\n')
	}
	l.skip = true
}

func (l *recordLimiter) Read(p []byte) (int, error) {
	for {
		if len(l.out) > 0 {
			n := copy(p, l.out)
			l.out = l.out[n:]
			return n, nil
		}
		if len(l.in) == 0 {
			if l.err != nil {
				return 0, l.err
			}
			var n int
			n, l.err = l.r.Read(l.buf)
			l.in = l.buf[:n]
			continue
		}
		if l.skip {
			l.drop()
			continue
		}
		// Pass bytes through until p is full or a record runs over.
		i, over := l.pass(l.in[:min(len(l.in), len(p))])
		copy(p, l.in[:i])
		l.in = l.in[i:]
		if over {
			// The byte at i is the first over the limit; it is dropped
			// with the rest of the record.
			l.cut()
		}
		if i > 0 {
			return i, nil
		}
	}
}

// pass moves over in and returns how many of its bytes may be passed on;
// over reports that the byte after them is the first over the limit.
// Runs of bytes that cannot change the state are skipped with IndexByte;
// the rest go through step one at a time.
func (l *recordLimiter) pass(in []byte) (i int, over bool) {
	for i < len(in) {
		if k, end := l.bulk(in[i:]); k > 0 {
			i += k
			if end {
				l.n = 0
			} else {
				l.n += k
			}
			continue
		}
		st := l.st
		if l.step(in[i]) {
			l.n, i = 0, i+1
			continue
		}
		l.n++
		if l.n > l.max {
			l.st = st // drop steps this byte again
			return i, true
		}
		i++
	}
	return i, false
}

// bulk returns how many bytes at the start of b move the state only in a
// way it can tell without stepping through them (it sets the state after
// them), and whether they end the record; 0 when the next byte must be
// stepped, or when the run would take the record over the limit.
func (l *recordLimiter) bulk(b []byte) (k int, end bool) {
	room := l.max - l.n
	switch l.st {
	case quoted:
		k = bytes.IndexByte(b, '"')
		if k < 0 {
			k = len(b)
		}
		if k > room {
			return 0, false
		}
		return k, false
	case fieldStart, unquoted:
		e := bytes.IndexByte(b, '\n')
		line := b
		if e >= 0 {
			line = b[:e]
		}
		switch q := bytes.IndexByte(line, '"'); {
		case q >= 0:
			k = q
		case e >= 0:
			if e > room {
				return 0, false
			}
			l.st = fieldStart
			return e + 1, true
		default:
			k = len(b)
		}
		if k == 0 || k > room {
			return 0, false
		}
		if b[k-1] == ',' {
			l.st = fieldStart
		} else {
			l.st = unquoted
		}
		return k, false
	case badLine:
		e := bytes.IndexByte(b, '\n')
		if e < 0 {
			if len(b) > room {
				return 0, false
			}
			return len(b), false
		}
		if e > room {
			return 0, false
		}
		l.st = fieldStart
		return e + 1, true
	}
	return 0, false
}

// drop scans the cut record's remaining bytes, keeping only its newlines
// inside quotes (as blank lines).
func (l *recordLimiter) drop() {
	for i, c := range l.in {
		inQuotes := l.st == quoted
		if l.step(c) {
			l.in = l.in[i+1:]
			l.skip, l.n = false, 0
			return
		}
		if inQuotes && c == '\n' {
			l.out = append(l.out, '\n')
		}
	}
	l.in = nil
}

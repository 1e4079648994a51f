package intake

import (
	"bytes"
	"context"
	"encoding/csv"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// Records within the limit pass through byte for byte, whatever their
// quoting, line ends or errors, and however the reads fall.
func TestRecordLimiterPassesShortRecordsThrough(t *testing.T) {
	for name, in := range map[string]string{
		"plain":              "a,b,c\n1,2,3\n",
		"quoted multi-line":  "a,\"b\nc\"\"d\",e\n\"x\"\r\ny,z",
		"crlf":               "a,b\r\n\r\n1,2\r\n",
		"bare quote":         "a,b\"c,d\nok,row\n",
		"bad closing quote":  "\"a\"x,b\n\"c\",d\n",
		"quote then cr":      "\"a\"\rb\n1\n",
		"blank lines":        "\n\na\n\n",
		"unterminated quote": "a,\"bc\nd",
	} {
		for _, max := range []int{64, 1 << 20} {
			got, err := io.ReadAll(iotest.OneByteReader(newRecordLimiter(iotest.HalfReader(strings.NewReader(in)), max)))
			if err != nil || string(got) != in {
				t.Errorf("%s (max %d): got %q, %v; want %q", name, max, got, err, in)
			}
		}
	}
}

// A record over the limit is cut and marked whatever state its last byte
// left it in; the newlines it held inside quotes stay, as blank lines.
func TestRecordLimiterCutsLongRecords(t *testing.T) {
	long := strings.Repeat("x", 20)
	for name, tc := range map[string]struct{ in, want string }{
		"unquoted":        {"a," + long + "\nb\n", "a,xxxxxxxx" + cutMarker + "\nb\n"},
		"at a comma":      {"abcdefghi," + long + "\nb\n", "abcdefghi," + cutMarker + "\nb\n"},
		"quoted":          {"\"" + long + "\n" + long + "\"\nb\n", "\"xxxxxxxxx" + cutMarker + "\"\n\nb\n"},
		"after a quote":   {"\"abcdefgh\"\"" + long + "\"\nb\n", "\"abcdefgh\"," + cutMarker + "\nb\n"},
		"bad line":        {"ab\"" + long + "\nb\n", "ab\"xxxxxxx\nb\n"},
		"no newline left": {long, "xxxxxxxxxx" + cutMarker + "\n"},
	} {
		got, err := io.ReadAll(newRecordLimiter(strings.NewReader(tc.in), 10))
		if err != nil || string(got) != tc.want {
			t.Errorf("%s: got %q, %v; want %q", name, got, err, tc.want)
		}
	}
}

// A record too long for memory is its row's error: the rows after it are
// stored under their own line numbers.
func TestARecordOverTheLimitIsARowError(t *testing.T) {
	var f bytes.Buffer
	f.WriteString(header)
	f.WriteString("T1,2024-01-01,S1,Acme,331110,1.00,USD,first\n")
	// Line 3: a quoted description of 3 MiB over five lines.
	f.WriteString("T2,2024-01-01,S1,Acme,331110,1.00,USD,\"")
	for range 5 {
		f.WriteString(strings.Repeat("y", 600<<10) + "\n")
	}
	f.WriteString("\"\n")
	f.WriteString("T3,2024-01-01,S1,Acme,331110,1.00,USD,after the quoted field\n") // line 9
	// Line 10: one unquoted field of 2 MiB.
	f.WriteString("T4,2024-01-01,S1,Acme,331110,1.00,USD," + strings.Repeat("z", 2<<20) + "\n")
	f.WriteString("T5,2024-01-01,S1,Acme,331110,1.00,USD,last\n") // line 11
	v, err := NewValidator(context.Background(), &f, knownCodes{"331110": true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := v.All()
	if err != nil {
		t.Fatal(err)
	}
	lines := make([]int64, 0, len(rows))
	for _, r := range rows {
		lines = append(lines, r.Line)
	}
	reason := "line is over 1048576 bytes, over the 65536-byte limit"
	want := []RowError{{Row: 3, Reason: reason}, {Row: 10, Reason: reason}}
	if len(lines) != 3 || lines[0] != 2 || lines[1] != 9 || lines[2] != 11 || v.Read != 5 || len(v.Errors) != 2 ||
		v.Errors[0] != want[0] || v.Errors[1] != want[1] {
		t.Fatalf("accepted lines %v, read %d, errors %+v; want [2 9 11], 5, %+v", lines, v.Read, v.Errors, want)
	}
}

// Past its bound the id set checks ids against those it holds and says
// that the rest went unchecked.
func TestDuplicatesPastTheBoundAreLeftToTheStore(t *testing.T) {
	file := header + "A,2024-01-01,S1,x,331110,1,USD,\nB,2024-01-01,S1,x,331110,1,USD,\nC,2024-01-01,S1,x,331110,1,USD,\n" +
		"A,2024-01-01,S1,x,331110,1,USD,\nC,2024-01-01,S1,x,331110,1,USD,\n"
	for _, tc := range []struct {
		max                int
		accepted, rejected int64
		unchecked          bool
	}{{MaxIDsInMemory, 3, 2, false}, {2, 4, 1, true}} {
		v, err := NewValidator(context.Background(), strings.NewReader(file), knownCodes{"331110": true}, nil, WithMaxIDsInMemory(tc.max))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.All(); err != nil {
			t.Fatal(err)
		}
		if v.Accepted != tc.accepted || v.Rejected != tc.rejected || v.DuplicatesUnchecked() != tc.unchecked ||
			v.Errors[0] != (RowError{Row: 5, Column: "transaction_id", Reason: "duplicate transaction id: first seen on row 2", Value: "A"}) {
			t.Errorf("max %d: accepted %d, rejected %d, unchecked %v, errors %+v", tc.max, v.Accepted, v.Rejected, v.DuplicatesUnchecked(), v.Errors)
		}
	}
}

// Whatever the input: a limit the input fits in changes nothing; a small
// one leaves no record longer than the limit and its marker, and as many
// line breaks as the input had (one more when the last record was cut
// before its line ended).
func FuzzRecordLimiter(f *testing.F) {
	f.Add([]byte("a,\"b\nc\"\"d\",e\n\"x\"\r\ny,z"), 4)
	f.Add([]byte("ab\"cdefgh\n\"ijkl\nmnop\",q\n"), 3)
	f.Fuzz(func(t *testing.T, in []byte, limit int) {
		if limit < 1 || limit > 1<<10 {
			return
		}
		all, err := io.ReadAll(newRecordLimiter(bytes.NewReader(in), len(in)+1))
		if err != nil || !bytes.Equal(all, in) {
			t.Fatalf("a limit over the input's length changed it: %q -> %q, %v", in, all, err)
		}
		out, err := io.ReadAll(newRecordLimiter(iotest.HalfReader(bytes.NewReader(in)), limit))
		if err != nil {
			t.Fatal(err)
		}
		nin, nout := bytes.Count(in, []byte("\n")), bytes.Count(out, []byte("\n"))
		if nout != nin && (nout != nin+1 || !bytes.HasSuffix(out, []byte("\n"))) {
			t.Fatalf("%q (limit %d) -> %q: %d line breaks, want %d", in, limit, out, nout, nin)
		}
		r := csv.NewReader(bytes.NewReader(out))
		r.FieldsPerRecord = -1
		for {
			rec, err := r.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				continue
			}
			if n := len(strings.Join(rec, ",")); n > limit+len(cutMarker)+2 {
				t.Fatalf("%q (limit %d): a record of %d bytes passed: %q", in, limit, n, rec)
			}
		}
	})
}

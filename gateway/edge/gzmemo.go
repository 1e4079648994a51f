package edge

import (
	"bytes"
	"strconv"
	"strings"
	"sync"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/klauspost/compress/gzip"
)

// gzMemo remembers the gzip encoding of recent large answers, by their
// body. The pages the memo of JSON answers from are the pages compressed
// most often, and compressing one costs several times what the rest of
// sending it does; an entry is used only when its body is byte-for-byte the
// answer's.
type gzMemo struct {
	memo    *lru.Cache[uint64, gzEntry]
	writers sync.Pool
}

type gzEntry struct{ body, gz []byte }

// gzipMinSize is the smallest answer sent compressed (to a client that
// takes it): below it, the gzip header and a round trip of CPU cost more
// than the bytes saved.
const gzipMinSize = 1 << 10

const (
	gzMemoMin     = 2 << 10   // smaller answers are compressed as they go
	gzMemoMax     = 256 << 10 // larger ones would crowd the memo out
	gzMemoEntries = 512
)

func newGzMemo() *gzMemo {
	c, _ := lru.New[uint64, gzEntry](gzMemoEntries) // only fails for a size <= 0
	return &gzMemo{memo: c}
}

// compressed is body gzipped at level 1 (as gzhttp would), from the memo
// when body was seen recently.
func (g *gzMemo) compressed(sum uint64, body []byte) []byte {
	if e, ok := g.memo.Get(sum); ok && bytes.Equal(e.body, body) {
		return e.gz
	}
	gz := g.compress(body)
	g.memo.Add(sum, gzEntry{body: bytes.Clone(body), gz: gz})
	return gz
}

// compress is body gzipped at level 1, without the memo.
func (g *gzMemo) compress(body []byte) []byte {
	var out bytes.Buffer
	w, _ := g.writers.Get().(*gzip.Writer)
	if w == nil {
		w, _ = gzip.NewWriterLevel(&out, gzip.BestSpeed) // level 1 is valid
	} else {
		w.Reset(&out)
	}
	_, _ = w.Write(body) // into a bytes.Buffer: it cannot fail
	w.Close()
	g.writers.Put(w)
	return out.Bytes()
}

// acceptsOnlyGzip reports whether Accept-Encoding takes gzip and no zstd
// (which gzhttp would prefer): only then is the answer gzhttp would give
// the gzip one.
func acceptsOnlyGzip(fields []string) bool {
	gz := false
	for _, f := range fields {
		for part := range strings.SplitSeq(f, ",") {
			name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			name = strings.ToLower(strings.TrimSpace(name))
			q := 1.0
			if k, v, ok := strings.Cut(strings.TrimSpace(params), "="); ok && strings.EqualFold(strings.TrimSpace(k), "q") {
				var err error
				if q, err = strconv.ParseFloat(strings.TrimSpace(v), 64); err != nil {
					return false
				}
			}
			switch name {
			case "zstd", "*":
				if q > 0 {
					return false
				}
			case "gzip", "x-gzip":
				gz = gz || q > 0
			}
		}
	}
	return gz
}

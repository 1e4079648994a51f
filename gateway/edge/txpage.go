package edge

import (
	"bytes"
	"sync"

	"github.com/cespare/xxhash/v2"
	lru "github.com/hashicorp/golang-lru/v2"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	intakev1 "github.com/vcci-dev/vcci/pkg/gen/vcci/intake/v1"
)

// Pages of transactions are rendered in parts. Each transaction embeds its
// supplier, whose running totals move with every upload, so a page's bytes
// change whenever one of its suppliers gets a line, and the whole-answer
// memo misses; but the transactions themselves, with their emission
// results, never change. txPages keeps the JSON of each transaction without
// its supplier, and of each supplier as it stands, and puts a page together
// from those: a page whose suppliers moved costs one small encoding per
// supplier instead of fifty large ones. Member order differs from
// protojson's (the supplier comes last in its transaction), which JSON
// leaves free; every value is protojson's own.
type txPages struct {
	marshal func(proto.Message) ([]byte, error)
	parts   *lru.Cache[uint64, txPart]
	bufs    sync.Pool
}

// txPart is the JSON of one encoded message (a transaction without its
// supplier, or a supplier).
type txPart struct {
	kind byte
	wire []byte
	json []byte
}

// Kinds of parts: the same bytes may encode a transaction and a supplier.
const (
	partTransaction byte = iota + 1
	partSupplier
)

// txPartEntries holds the transactions of a thousand suppliers' first pages
// with room to spare: about 40 MB at most.
const txPartEntries = 1 << 16

// Field numbers of the encodings read here (proto/vcci/intake/v1).
const (
	fieldPageTransactions = 1 // ListTransactionsResponse.transactions
	fieldTxSupplier       = 11
)

func newTxPages(marshal func(proto.Message) ([]byte, error)) *txPages {
	c, _ := lru.New[uint64, txPart](txPartEntries)
	return &txPages{marshal: marshal, parts: c}
}

// render returns the JSON of an encoded ListTransactionsResponse, or false
// when the encoding is not one it takes apart (no transactions, a field
// repeated that should not be, or bytes that do not parse): the caller then
// encodes the page whole.
func (p *txPages) render(raw []byte) ([]byte, bool) {
	elems, rest, ok := splitPage(raw)
	if !ok {
		return nil, false
	}
	// The parts first, then one buffer of the page's size: growing one
	// from a guess copied and cleared each page several times over.
	pieces := make([]txPiece, len(elems))
	size := len(`{"transactions":[]}`) + len(elems)
	for i, e := range elems {
		if pieces[i], ok = p.piece(e); !ok {
			return nil, false
		}
		size += pieces[i].size()
	}
	inner, ok := p.pageFields(rest)
	if !ok {
		return nil, false
	}
	return writePage(pieces, inner, size+1+len(inner)), true
}

// splitPage splits an encoded page into its transactions and every other
// field, as encoded; false when it does not parse or has no transactions.
func splitPage(raw []byte) (elems [][]byte, rest []byte, ok bool) {
	for b := raw; len(b) > 0; {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, nil, false
		}
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		if m < 0 {
			return nil, nil, false
		}
		if num == fieldPageTransactions && typ == protowire.BytesType {
			v, _ := protowire.ConsumeBytes(b[n:])
			elems = append(elems, v)
		} else {
			rest = append(rest, b[:n+m]...)
		}
		b = b[n+m:]
	}
	return elems, rest, len(elems) > 0
}

// txPiece is one transaction of a page, as JSON.
type txPiece struct {
	tx, sup []byte
	joined  bool // sup goes inside tx
}

// size is the length of the piece's JSON in the page.
func (pc txPiece) size() int {
	if !pc.joined {
		return len(pc.tx)
	}
	return len(pc.tx) + len(`,"supplier":`) + len(pc.sup)
}

// piece is the JSON of the encoded transaction e: the transaction without
// its supplier, and the supplier, each from the memo or encoded now.
func (p *txPages) piece(e []byte) (txPiece, bool) {
	start, end, ok := supplierField(e)
	if !ok {
		return txPiece{}, false
	}
	if start == end {
		tj, ok := p.part(partTransaction, e)
		return txPiece{tx: tj}, ok
	}
	bp, _ := p.bufs.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	without := append(append((*bp)[:0], e[:start]...), e[end:]...)
	tj, ok := p.part(partTransaction, without)
	*bp = without
	p.bufs.Put(bp)
	if !ok {
		return txPiece{}, false
	}
	sv, _ := protowire.ConsumeBytes(e[start+protowire.SizeTag(fieldTxSupplier):])
	sj, ok := p.part(partSupplier, sv)
	if !ok {
		return txPiece{}, false
	}
	tj = bytes.TrimSpace(tj)
	if len(tj) < 2 || tj[0] != '{' || tj[len(tj)-1] != '}' {
		return txPiece{}, false
	}
	return txPiece{tx: tj, sup: sj, joined: true}, true
}

// pageFields is the JSON of the page's own fields (token, page info),
// encoded from rest each time (they are small), without its braces.
func (p *txPages) pageFields(rest []byte) ([]byte, bool) {
	top := &intakev1.ListTransactionsResponse{}
	if err := proto.Unmarshal(rest, top); err != nil {
		return nil, false
	}
	rj, err := p.marshal(top)
	if err != nil {
		return nil, false
	}
	rj = bytes.TrimSpace(rj)
	if len(rj) < 2 || rj[0] != '{' {
		return nil, false
	}
	return bytes.TrimSpace(rj[1 : len(rj)-1]), true
}

// writePage puts a page's JSON together from its pieces and the page's own
// fields (inner), in a buffer of size bytes.
func writePage(pieces []txPiece, inner []byte, size int) []byte {
	out := bytes.NewBuffer(make([]byte, 0, size))
	out.WriteString(`{"transactions":[`)
	for i, pc := range pieces {
		if i > 0 {
			out.WriteByte(',')
		}
		if !pc.joined {
			out.Write(pc.tx)
			continue
		}
		out.Write(pc.tx[:len(pc.tx)-1])
		if len(bytes.TrimSpace(pc.tx[1:len(pc.tx)-1])) > 0 {
			out.WriteByte(',')
		}
		out.WriteString(`"supplier":`)
		out.Write(pc.sup)
		out.WriteByte('}')
	}
	out.WriteByte(']')
	if len(inner) > 0 {
		out.WriteByte(',')
		out.Write(inner)
	}
	out.WriteByte('}')
	return out.Bytes()
}

// supplierField finds the one supplier field of an encoded transaction:
// [start, end) of its tag and value, or start == end when there is none.
// Two of them (which proto would merge) are not taken apart.
func supplierField(e []byte) (start, end int, ok bool) {
	found := false
	for off := 0; off < len(e); {
		num, typ, n := protowire.ConsumeTag(e[off:])
		if n < 0 {
			return 0, 0, false
		}
		m := protowire.ConsumeFieldValue(num, typ, e[off+n:])
		if m < 0 {
			return 0, 0, false
		}
		if num == fieldTxSupplier {
			if found || typ != protowire.BytesType {
				return 0, 0, false
			}
			found, start, end = true, off, off+n+m
		}
		off += n + m
	}
	return start, end, true
}

// part is the JSON of one encoded message of kind, from the memo or
// encoded now.
func (p *txPages) part(kind byte, wire []byte) ([]byte, bool) {
	d := xxhash.New()
	_, _ = d.Write([]byte{kind}) // xxhash's writes never fail
	_, _ = d.Write(wire)
	h := d.Sum64()
	if e, ok := p.parts.Get(h); ok && e.kind == kind && bytes.Equal(e.wire, wire) {
		return e.json, true
	}
	var msg proto.Message = &intakev1.Transaction{}
	if kind == partSupplier {
		msg = &intakev1.Supplier{}
	}
	if err := proto.Unmarshal(wire, msg); err != nil {
		return nil, false
	}
	j, err := p.marshal(msg)
	if err != nil {
		return nil, false
	}
	p.parts.Add(h, txPart{kind: kind, wire: bytes.Clone(wire), json: j})
	return j, true
}

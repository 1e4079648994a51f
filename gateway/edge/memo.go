package edge

import (
	"bytes"
	"fmt"
	"slices"
	"sync"

	"github.com/cespare/xxhash/v2"
	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	lru "github.com/hashicorp/golang-lru/v2"
	"google.golang.org/protobuf/proto"

	intakev1 "github.com/vcci-dev/vcci/pkg/gen/vcci/intake/v1"
)

// memoJSON is the gateway's JSON marshaler with a memo of recent large
// encodings. A page of transactions, with their suppliers and results, is
// tens of kilobytes of JSON, and protojson is most of what the gateway spends
// on it; the services cache such pages, so the gateway keeps being handed the
// same messages. The binary encoding (deterministic, several times cheaper
// than protojson) identifies a message exactly: an entry is used only when
// its type and bytes are equal to the message's, so the memo can never
// answer with another message's JSON.
type memoJSON struct {
	*runtime.JSONPb
	memo  *lru.Cache[uint64, memoEntry]
	bufs  sync.Pool
	pages *txPages
}

type memoEntry struct {
	typ  string
	wire []byte
	json []byte
}

// txPageType is the message txPages renders.
var txPageType = string((&intakev1.ListTransactionsResponse{}).ProtoReflect().Descriptor().FullName())

const (
	// memoMinWire is the smallest binary encoding memoised: below it
	// protojson is cheap and the memo would only churn.
	memoMinWire = 2 << 10
	memoEntries = 512
)

func newMemoJSON(m *runtime.JSONPb) *memoJSON {
	c, _ := lru.New[uint64, memoEntry](memoEntries) // only fails for a size <= 0
	return &memoJSON{JSONPb: m, memo: c, pages: newTxPages(func(msg proto.Message) ([]byte, error) { return m.Marshal(msg) })}
}

// Marshal answers from the memo for a message seen recently. A message
// lazyCodec left encoded is keyed by the bytes it came in, and decoded only
// on a miss.
func (m *memoJSON) Marshal(v any) ([]byte, error) {
	msg, ok := v.(proto.Message)
	if !ok {
		return m.marshalPlain(v)
	}
	raw := stillEncoded(msg)
	wire := raw
	if raw == nil {
		// Sizing is a fraction of encoding: small answers (most of them)
		// go straight to protojson without being encoded twice.
		if proto.Size(msg) < memoMinWire {
			return m.marshalPlain(v)
		}
		bp, _ := m.bufs.Get().(*[]byte)
		if bp == nil {
			bp = new([]byte)
		}
		defer m.bufs.Put(bp)
		var err error
		wire, err = proto.MarshalOptions{Deterministic: true, UseCachedSize: true}.MarshalAppend((*bp)[:0], msg)
		*bp = wire
		if err != nil {
			return m.marshalPlain(v)
		}
	}
	typ := string(msg.ProtoReflect().Descriptor().FullName())
	d := xxhash.New()
	_, _ = d.WriteString(typ) // xxhash's writes never fail
	_, _ = d.Write(wire)
	h := d.Sum64()
	if e, ok := m.memo.Get(h); ok && e.typ == typ && bytes.Equal(e.wire, wire) {
		return slices.Clip(e.json), nil // shared: an append must copy
	}
	if raw != nil && typ == txPageType {
		// A page of transactions is put together from its parts.
		if out, ok := m.pages.render(raw); ok {
			m.memo.Add(h, memoEntry{typ: typ, wire: raw, json: out})
			return out, nil
		}
	}
	if raw != nil {
		decoded := msg.ProtoReflect().New().Interface()
		if err := proto.Unmarshal(raw, decoded); err != nil {
			return nil, fmt.Errorf("edge: decode %s: %w", typ, err)
		}
		v = decoded
	} else {
		wire = bytes.Clone(wire) // the buffer is reused
	}
	out, err := m.marshalPlain(v)
	if err != nil {
		return nil, err
	}
	m.memo.Add(h, memoEntry{typ: typ, wire: wire, json: out})
	return out, nil
}

// marshalPlain is protojson's encoding of v, without the memo.
func (m *memoJSON) marshalPlain(v any) ([]byte, error) {
	b, err := m.JSONPb.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("edge: marshal: %w", err)
	}
	return b, nil
}

package edge

import (
	"fmt"

	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	intakev1 "github.com/vcci-dev/vcci/pkg/gen/vcci/intake/v1"
)

// lazyCodec is the gateway's gRPC codec. It decodes every answer as the
// proto codec does, except large pages of the types in lazyTypes, which it
// keeps encoded (as the message's unknown fields) for memoJSON: a page the
// memo has seen is then answered without being decoded at all, and one it
// has not is decoded there. Only the REST forwarding reads those types, and
// only through memoJSON, so no other code ever sees a page undecoded.
type lazyCodec struct{ encoding.CodecV2 }

func newLazyCodec() lazyCodec { return lazyCodec{encoding.GetCodecV2("proto")} }

// lazyTypes are the list answers big enough to be worth it: a page of
// transactions with their suppliers and results, a page of suppliers.
var lazyTypes = map[protoreflect.FullName]bool{
	(&intakev1.ListTransactionsResponse{}).ProtoReflect().Descriptor().FullName(): true,
	(&intakev1.ListSuppliersResponse{}).ProtoReflect().Descriptor().FullName():    true,
}

func (c lazyCodec) Unmarshal(data mem.BufferSlice, v any) error {
	if m, ok := v.(proto.Message); ok && data.Len() >= memoMinWire && lazyTypes[m.ProtoReflect().Descriptor().FullName()] {
		// data's buffers go back to gRPC's pool after this returns: copy.
		m.ProtoReflect().SetUnknown(data.Materialize())
		return nil
	}
	if err := c.CodecV2.Unmarshal(data, v); err != nil {
		return fmt.Errorf("edge: lazy codec: %w", err)
	}
	return nil
}

// stillEncoded is the encoding lazyCodec left in msg, or nil when msg holds
// decoded fields.
func stillEncoded(msg proto.Message) []byte {
	r := msg.ProtoReflect()
	raw := r.GetUnknown()
	if len(raw) == 0 {
		return nil
	}
	decoded := false
	r.Range(func(protoreflect.FieldDescriptor, protoreflect.Value) bool {
		decoded = true
		return false
	})
	if decoded {
		return nil
	}
	return raw
}

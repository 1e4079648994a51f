package edge

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	intakev1 "github.com/vcci-dev/vcci/pkg/gen/vcci/intake/v1"
)

// chunkSize is how much of the body each UploadSpend message carries.
const chunkSize = 256 << 10

// uploads streams a POSTed file (raw CSV or a multipart "file" part) into
// IntakeService.UploadSpend; the body is never held whole in memory.
type uploads struct {
	client    intakev1.IntakeServiceClient
	mux       *runtime.ServeMux
	marshaler runtime.Marshaler
	max       int64
	// idle is the longest the body may stall (0: forever); write bounds
	// the answer from the end of the body (0: no bound).
	idle, write time.Duration
}

func (u *uploads) serve(w http.ResponseWriter, r *http.Request, _ map[string]string) {
	if r.ContentLength > u.max {
		tooLarge(w, "file", u.max, "MAX_UPLOAD_BYTES") // before any of it reaches intake
		return
	}
	// The server's read and write timeouts are for ordinary requests: an
	// upload's body is read for as long as it keeps coming.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	limited := http.MaxBytesReader(w, r.Body, u.max)
	r.Body = limited
	if u.idle > 0 {
		r.Body = struct {
			io.Reader
			io.Closer
		}{idleReader{r: limited, rc: rc, idle: u.idle}, limited}
	}
	f, err := u.file(r)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	body, filename, ctype := f.body, f.name, f.ctype
	if q := r.URL.Query().Get("filename"); q != "" {
		filename = q
	}
	mapping := r.URL.Query().Get("column_mapping")
	if mapping == "" {
		mapping = r.URL.Query().Get("columnMapping")
	}
	// Protobuf strings must be UTF-8, or the call fails to marshal: a
	// name is only shown back, a key must match itself.
	filename = strings.ToValidUTF8(filename, "\ufffd")
	key := r.Header.Get("Idempotency-Key")
	if !utf8.ValidString(key) {
		u.fail(w, r, status.Error(codes.InvalidArgument, "Idempotency-Key: not UTF-8 text"))
		return
	}
	ctx := forwardedContext(r.Context(), r.Header)
	// The service's response headers (rate limits) are filled in when the
	// stream ends, on success and on error alike.
	var header metadata.MD
	stream, err := u.client.UploadSpend(ctx, grpc.Header(&header))
	if err != nil {
		u.fail(w, r, err)
		return
	}
	err = stream.Send(&intakev1.UploadSpendRequest{Payload: &intakev1.UploadSpendRequest_Metadata{
		Metadata: &intakev1.UploadMetadata{Filename: filename, IdempotencyKey: key, ContentType: ctype,
			ColumnMapping: strings.ToValidUTF8(mapping, "\ufffd")}}})
	// A small file's buffer is its size: most uploads are a few hundred
	// bytes, and a chunk-sized buffer per request is most of their cost.
	size := chunkSize
	if r.ContentLength >= 0 && r.ContentLength < chunkSize {
		size = int(r.ContentLength) + 1
	}
	buf := make([]byte, size)
	for err == nil {
		n, rerr := fill(body, buf)
		if n > 0 {
			// Send returns io.EOF when the service answered early (a file it
			// refused, or an idempotent repeat): CloseAndRecv has the answer.
			err = stream.Send(&intakev1.UploadSpendRequest{Payload: &intakev1.UploadSpendRequest_Chunk{Chunk: buf[:n]}})
		}
		if errors.Is(rerr, io.EOF) {
			break
		}
		if rerr != nil {
			// The client's body failed (too large, or cut off): abandon the
			// stream so the service stores nothing.
			u.fail(w, r, rerr)
			return
		}
	}
	// The body is in. A read deadline left running would end the request
	// (net/http reads on in the background); the answer has WriteTimeout.
	_ = rc.SetReadDeadline(time.Time{})
	if u.write > 0 {
		_ = rc.SetWriteDeadline(time.Now().Add(u.write))
	}
	if err != nil && !errors.Is(err, io.EOF) {
		u.fail(w, r, err)
		return
	}
	up, err := stream.CloseAndRecv()
	forwardHeaders(w, header)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	b, err := protojson.Marshal(up)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Location", "/v1/"+up.GetName())
	w.WriteHeader(http.StatusAccepted)
	w.Write(b)
}

// fill reads r into buf until buf is full or r ends. Unlike io.ReadFull it
// returns r's own error: io.EOF at the end of the body, and r's
// io.ErrUnexpectedEOF (a multipart part without its closing boundary, a body
// short of its Content-Length) as the error it is, so that a file cut short
// is not stored as if whole.
func fill(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err //nolint:wrapcheck // a Reader's errors, io.EOF first, pass as they are
		}
	}
	return n, nil
}

// uploadFile is an upload's byte stream, the client's file name (empty
// when it gave none: intake names it by its format) and its media type.
type uploadFile struct {
	body        io.Reader
	name, ctype string
}

// file returns the upload's file.
func (*uploads) file(r *http.Request) (uploadFile, error) {
	ctype := r.Header.Get("Content-Type")
	mt, params, _ := mime.ParseMediaType(ctype)
	if mt != "multipart/form-data" {
		name := ""
		if _, p, err := mime.ParseMediaType(r.Header.Get("Content-Disposition")); err == nil && p["filename"] != "" {
			name = p["filename"]
		}
		return uploadFile{r.Body, name, ctype}, nil
	}
	if params["boundary"] == "" {
		return uploadFile{}, status.Error(codes.InvalidArgument, "file: multipart body without a boundary")
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return uploadFile{}, status.Errorf(codes.InvalidArgument, "file: %v", err)
	}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			return uploadFile{}, status.Error(codes.InvalidArgument, `file: the multipart body has no "file" part`)
		}
		if err != nil {
			return uploadFile{}, status.Errorf(codes.InvalidArgument, "file: %v", err)
		}
		if part.FormName() == "file" {
			name, ctype := part.FileName(), part.Header.Get("Content-Type")
			return uploadFile{part, name, ctype}, nil
		}
	}
}

func (u *uploads) fail(w http.ResponseWriter, r *http.Request, err error) {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		tooLarge(w, "file", mbe.Limit, "MAX_UPLOAD_BYTES")
		return
	case errors.Is(err, os.ErrDeadlineExceeded):
		stalled(w, u.idle)
		return
	}
	if _, ok := status.FromError(err); !ok || strings.HasPrefix(err.Error(), "unexpected EOF") {
		err = status.Errorf(codes.InvalidArgument, "file: reading the request body: %v", err)
	}
	runtime.HTTPError(r.Context(), u.mux, u.marshaler, w, r, err)
}

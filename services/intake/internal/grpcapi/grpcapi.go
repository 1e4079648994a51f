// Package grpcapi translates between intake's domain and the contracts: the
// IntakeService it serves (its reads through the directory's API) and the
// calculator service it calls.
package grpcapi

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/vcci-dev/vcci/pkg/apperr"
	intakev1 "github.com/vcci-dev/vcci/pkg/gen/vcci/intake/v1"
	"github.com/vcci-dev/vcci/pkg/pagetoken"
	"github.com/vcci-dev/vcci/pkg/tenancy"
	dirapi "github.com/vcci-dev/vcci/services/intake/internal/directory/grpcapi"
	"github.com/vcci-dev/vcci/services/intake/internal/intake"
)

// API implements intakev1.IntakeServiceServer: the upload RPCs here, the
// reads of suppliers and transactions in the directory's API.
type API struct {
	intakev1.UnimplementedIntakeServiceServer
	svc    *intake.Service
	tokens *pagetoken.Codec
	dir    *dirapi.API
}

// New returns the API over svc, sealing page tokens with tokens, and
// forwarding reads to dir.
func New(svc *intake.Service, tokens *pagetoken.Codec, dir *dirapi.API) *API {
	return &API{svc: svc, tokens: tokens, dir: dir}
}

// The reads of suppliers and transactions are the directory's.

func (a *API) GetSupplier(ctx context.Context, req *intakev1.GetSupplierRequest) (*intakev1.Supplier, error) {
	return a.dir.GetSupplier(ctx, req)
}

func (a *API) BatchGetSuppliers(ctx context.Context, req *intakev1.BatchGetSuppliersRequest) (*intakev1.BatchGetSuppliersResponse, error) {
	return a.dir.BatchGetSuppliers(ctx, req)
}

func (a *API) ListSuppliers(ctx context.Context, req *intakev1.ListSuppliersRequest) (*intakev1.ListSuppliersResponse, error) {
	return a.dir.ListSuppliers(ctx, req)
}

func (a *API) GetTransaction(ctx context.Context, req *intakev1.GetTransactionRequest) (*intakev1.Transaction, error) {
	return a.dir.GetTransaction(ctx, req)
}

func (a *API) ListTransactions(ctx context.Context, req *intakev1.ListTransactionsRequest) (*intakev1.ListTransactionsResponse, error) {
	return a.dir.ListTransactions(ctx, req)
}

// streamReader reads the chunks of an UploadSpend stream as one byte stream.
type streamReader struct {
	stream intakev1.IntakeService_UploadSpendServer
	cur    []byte
}

func (r *streamReader) Read(p []byte) (int, error) {
	for len(r.cur) == 0 {
		msg, err := r.stream.Recv()
		if errors.Is(err, io.EOF) {
			return 0, io.EOF // the end of the stream, as readers expect it: unwrapped
		}
		if err != nil {
			return 0, fmt.Errorf("receive upload chunk: %w", err)
		}
		if msg.GetMetadata() != nil {
			return 0, apperr.Invalid("metadata", "only the first message may carry metadata")
		}
		r.cur = msg.GetChunk()
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}

func (a *API) UploadSpend(stream intakev1.IntakeService_UploadSpendServer) error {
	ctx := stream.Context()
	tenant, err := tenancy.MustTenant(ctx)
	if err != nil {
		return err
	}
	first, err := stream.Recv()
	if errors.Is(err, io.EOF) {
		return apperr.Invalid("metadata", "the stream was empty; send metadata, then the file in chunks")
	}
	if err != nil {
		return fmt.Errorf("receive upload metadata: %w", err)
	}
	md := first.GetMetadata()
	if md == nil {
		return apperr.Invalid("metadata", "the first message must carry the metadata")
	}
	u, err := a.svc.Receive(ctx, tenant, intake.NewUpload{Filename: md.GetFilename(), IdempotencyKey: md.GetIdempotencyKey(),
		ContentType: md.GetContentType(), ColumnMapping: md.GetColumnMapping()}, &streamReader{stream: stream})
	if err != nil {
		return err
	}
	if err := stream.SendAndClose(a.toProto(u)); err != nil {
		return fmt.Errorf("send upload: %w", err)
	}
	return nil
}

func (a *API) GetUpload(ctx context.Context, req *intakev1.GetUploadRequest) (*intakev1.Upload, error) {
	return a.onUpload(ctx, req.GetName(), a.svc.Get)
}

func (a *API) RetryUpload(ctx context.Context, req *intakev1.RetryUploadRequest) (*intakev1.Upload, error) {
	return a.onUpload(ctx, req.GetName(), a.svc.Retry)
}

// onUpload runs do on the caller's upload called name.
func (a *API) onUpload(ctx context.Context, name string, do func(context.Context, uuid.UUID, int64) (intake.Upload, error)) (*intakev1.Upload, error) {
	tenant, err := tenancy.MustTenant(ctx)
	if err != nil {
		return nil, err
	}
	id, err := parseID("name", "uploads/", name)
	if err != nil {
		return nil, err
	}
	u, err := do(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	return a.toProto(u), nil
}

func (a *API) ListUploads(ctx context.Context, req *intakev1.ListUploadsRequest) (*intakev1.ListUploadsResponse, error) {
	p, err := a.startPage(ctx, "uploads", req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	before, err := tokenID(p.after)
	if err != nil {
		return nil, err
	}
	us, err := a.svc.List(ctx, p.tenant, before, p.size+1)
	if err != nil {
		return nil, err
	}
	resp := &intakev1.ListUploadsResponse{}
	us, resp.NextPageToken = nextPage(a, p, us, func(u intake.Upload) string { return strconv.FormatInt(u.ID, 10) })
	for _, u := range us {
		resp.Uploads = append(resp.Uploads, a.toProto(u))
	}
	return resp, nil
}

func (a *API) ListUploadErrors(ctx context.Context, req *intakev1.ListUploadErrorsRequest) (*intakev1.ListUploadErrorsResponse, error) {
	tenant, err := tenancy.MustTenant(ctx)
	if err != nil {
		return nil, err
	}
	id, err := parseID("parent", "uploads/", req.GetParent())
	if err != nil {
		return nil, err
	}
	size, err := pageSize(req.GetPageSize(), 100)
	if err != nil {
		return nil, err
	}
	after, err := a.idToken(tenant, req.GetParent()+"/errors", req.GetPageToken())
	if err != nil {
		return nil, err
	}
	page, err := a.svc.Errors(ctx, tenant, id, after, size)
	if err != nil {
		return nil, err
	}
	resp := &intakev1.ListUploadErrorsResponse{TotalSize: page.Total}
	for _, e := range page.Errors {
		resp.Errors = append(resp.Errors, rowError(e))
	}
	if len(page.Errors) == size && page.Last < page.Total {
		resp.NextPageToken = a.tokens.Encode(tenant, req.GetParent()+"/errors", []string{strconv.FormatInt(page.Last, 10)})
	}
	return resp, nil
}

func (*API) toProto(u intake.Upload) *intakev1.Upload {
	state := u.State
	p := &intakev1.Upload{
		Name: "uploads/" + strconv.FormatInt(u.ID, 10), Filename: u.Filename, Sha256: hex.EncodeToString(u.SHA256),
		SizeBytes: u.Size, State: intakev1.UploadState(state), RowsRead: u.Read, RowsAccepted: u.Accepted,
		RowsRejected: u.Rejected, RowsCalculated: u.Calculated, KgCo2E: u.Kg, IdempotencyKey: u.IdempotencyKey,
		ColumnMapping: u.ColumnMapping, IgnoredColumns: u.Ignored,
		CreateTime: timestamppb.New(u.CreatedAt), UpdateTime: timestamppb.New(u.UpdatedAt),
	}
	if state == intake.Failed {
		p.FailureReason = u.FailureReason
	}
	if state == intake.Succeeded || state == intake.Failed {
		p.CompleteTime = timestamppb.New(u.CompletedAt)
	}
	for _, e := range u.ErrorSamples {
		p.ErrorSamples = append(p.ErrorSamples, rowError(e))
	}
	return p
}

func rowError(e intake.RowError) *intakev1.RowError {
	return &intakev1.RowError{Row: e.Row, Column: e.Column, Reason: e.Reason, Value: e.Value}
}

func parseID(field, prefix, name string) (int64, error) {
	s, ok := strings.CutPrefix(name, prefix)
	id, err := strconv.ParseInt(s, 10, 64)
	if !ok || err != nil || id <= 0 {
		return 0, apperr.Invalid(field, "%q is not %s{id}", name, prefix)
	}
	return id, nil
}

func pageSize(n int32, def int) (int, error) {
	switch {
	case n == 0:
		return def, nil
	case n < 0 || n > 1000:
		return 0, apperr.Invalid("page_size", "must be between 1 and 1000, got %d", n)
	}
	return int(n), nil
}

// idToken reads a page token that resumes after a numeric id.
func (a *API) idToken(tenant uuid.UUID, query, tok string) (int64, error) {
	key, err := a.nameToken(tenant, query, tok)
	if err != nil {
		return 0, err
	}
	return tokenID(key)
}

// tokenID is the numeric id a page token's key holds (0 for none).
func tokenID(key string) (int64, error) {
	if key == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(key, 10, 64)
	if err != nil || n <= 0 {
		return 0, errMalformedToken
	}
	return n, nil
}

// page is a list call's caller, page size, and the key it resumes after.
type page struct {
	tenant uuid.UUID
	query  string // what the page token is sealed for
	size   int
	after  string
}

// startPage reads a list call's tenant, page size (0 means 50) and token.
func (a *API) startPage(ctx context.Context, query string, size int32, tok string) (page, error) {
	tenant, err := tenancy.MustTenant(ctx)
	if err != nil {
		return page{}, err
	}
	n, err := pageSize(size, 50)
	if err != nil {
		return page{}, err
	}
	after, err := a.nameToken(tenant, query, tok)
	return page{tenant: tenant, query: query, size: n, after: after}, err
}

// nextPage cuts items, read one past the page, to the page, and returns the
// token of the next page ("" on the last).
func nextPage[T any](a *API, p page, items []T, key func(T) string) ([]T, string) {
	if len(items) <= p.size {
		return items, ""
	}
	items = items[:p.size]
	return items, a.tokens.Encode(p.tenant, p.query, []string{key(items[len(items)-1])})
}

var errMalformedToken = apperr.Invalid("page_token", "is malformed; pass next_page_token unchanged")

// nameToken reads a page token that resumes after one key ("" for none).
func (a *API) nameToken(tenant uuid.UUID, query, tok string) (string, error) {
	if tok == "" {
		return "", nil
	}
	keys, err := a.tokens.Decode(tok, tenant, query)
	if err != nil {
		return "", err
	}
	if len(keys) != 1 || keys[0] == "" {
		return "", errMalformedToken
	}
	return keys[0], nil
}

func (a *API) AdjustSupplierTotals(ctx context.Context, req *intakev1.AdjustSupplierTotalsRequest) (*intakev1.AdjustSupplierTotalsResponse, error) {
	tenant, err := tenancy.MustTenant(ctx)
	if err != nil {
		return nil, err
	}
	totals := make([]intake.SupplierTotal, len(req.GetSuppliers()))
	for i, s := range req.GetSuppliers() {
		totals[i] = intake.SupplierTotal{ID: s.GetKey(), Kg: s.GetKgCo2E()}
	}
	applied, err := a.svc.AdjustSupplierTotals(ctx, tenant, req.GetAdjustmentId(), totals)
	if err != nil {
		return nil, err
	}
	return &intakev1.AdjustSupplierTotalsResponse{Applied: applied}, nil
}

package grpcapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/vcci-dev/vcci/pkg/apperr"
	"github.com/vcci-dev/vcci/pkg/decimal"
	calculatorv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/calculator/v1"
	"github.com/vcci-dev/vcci/pkg/tenancy"
	"github.com/vcci-dev/vcci/services/calculator/internal/calculator"
)

// lineFromProto reads one line; field names it in errors ("lines[3]").
// Its upload is the caller's to set.
func lineFromProto(field string, l *calculatorv1.SpendLine) (calculator.Line, error) {
	d, err := time.Parse(time.DateOnly, l.GetDate())
	if err != nil {
		return calculator.Line{}, apperr.Invalid(field+".date", "%q is not a YYYY-MM-DD date", l.GetDate())
	}
	return calculator.Line{TransactionID: l.GetTransactionId(), Date: d, SupplierID: l.GetSupplierId(), NAICS: l.GetNaicsCode(), Amount: l.GetAmountUsd(),
		Currency: l.GetCurrency(), Original: l.GetAmount(), Activity: l.GetActivity(), Quantity: l.GetQuantity(), Unit: l.GetUnit(),
		Category:  int16(min(max(l.GetCategory(), -1), 16)), // clamped; the service refuses outside 0-15
		ProductID: strings.TrimSpace(l.GetProductId()), SupplierCountry: strings.ToUpper(strings.TrimSpace(l.GetSupplierCountry()))}, nil
}

func (a *API) Calculate(ctx context.Context, req *calculatorv1.CalculateRequest) (*calculatorv1.EmissionResult, error) {
	tenant, err := tenancy.MustTenant(ctx)
	if err != nil {
		return nil, err
	}
	if req.GetLine() == nil {
		return nil, apperr.Invalid("line", "required")
	}
	l, err := lineFromProto("line", req.GetLine())
	if err != nil {
		return nil, err
	}
	out, err := a.svc.Compute(ctx, tenant, []calculator.Line{l})
	if err != nil {
		return nil, renameLines(err, func(int) string { return "line" })
	}
	return computedProto(out.Results[0]), nil
}

func (a *API) BatchCalculate(ctx context.Context, req *calculatorv1.BatchCalculateRequest) (*calculatorv1.BatchCalculateResponse, error) {
	tenant, err := tenancy.MustTenant(ctx)
	if err != nil {
		return nil, err
	}
	if n := len(req.GetLines()); n > calculator.MaxCompute {
		return nil, apperr.Invalid("lines", "at most %d lines per call, got %d; send larger sets with StreamCalculate", calculator.MaxCompute, n)
	}
	lines, err := linesFromProto(req.GetLines(), 0)
	if err != nil {
		return nil, err
	}
	out, err := a.svc.Compute(ctx, tenant, lines)
	if err != nil {
		return nil, err
	}
	resp := &calculatorv1.BatchCalculateResponse{Results: make([]*calculatorv1.EmissionResult, len(out.Results)),
		KgCo2E: decimal.Round(out.Kg, 7), LineCount: int64(len(out.Results))}
	for i, r := range out.Results {
		resp.Results[i] = computedProto(r)
	}
	return resp, nil
}

// streamChunk is how many lines of a stream are calculated at once: the
// server holds at most one chunk of lines, and the results it answers with.
const streamChunk = 1000

func (a *API) StreamCalculate(stream calculatorv1.CalculatorService_StreamCalculateServer) error {
	ctx := stream.Context()
	tenant, err := tenancy.MustTenant(ctx)
	if err != nil {
		return err
	}
	s := streamSum{kg: new(big.Rat), resp: &calculatorv1.BatchCalculateResponse{}}
	chunk := make([]*calculatorv1.SpendLine, 0, streamChunk)
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err //nolint:wrapcheck // the stream's status, as grpc gives it
		}
		if chunk = append(chunk, req.GetLine()); len(chunk) == streamChunk {
			if err := a.addChunk(ctx, tenant, chunk, &s); err != nil {
				return err
			}
			chunk = chunk[:0]
		}
	}
	if err := a.addChunk(ctx, tenant, chunk, &s); err != nil {
		return err
	}
	s.resp.KgCo2E = decimal.Round(s.kg, 7)
	return stream.SendAndClose(s.resp) //nolint:wrapcheck // the stream's status, as grpc gives it
}

// streamSum is a stream's answer so far and its exact total.
type streamSum struct {
	kg   *big.Rat
	resp *calculatorv1.BatchCalculateResponse
}

// addChunk calculates the next lines of a stream into s, keeping the
// results of the first MaxCompute lines.
func (a *API) addChunk(ctx context.Context, tenant uuid.UUID, chunk []*calculatorv1.SpendLine, s *streamSum) error {
	if len(chunk) == 0 {
		return nil
	}
	first := int(s.resp.GetLineCount())
	lines, err := linesFromProto(chunk, first)
	if err != nil {
		return err
	}
	out, err := a.svc.Compute(ctx, tenant, lines)
	if err != nil {
		return renameLines(err, func(i int) string { return fmt.Sprintf("lines[%d]", first+i) })
	}
	s.kg.Add(s.kg, out.Kg)
	for _, r := range out.Results[:max(0, min(len(out.Results), calculator.MaxCompute-first))] {
		s.resp.Results = append(s.resp.Results, computedProto(r))
	}
	s.resp.LineCount += int64(len(out.Results))
	return nil
}

// linesFromProto reads lines, the first being lines[first] in errors.
func linesFromProto(ls []*calculatorv1.SpendLine, first int) ([]calculator.Line, error) {
	lines := make([]calculator.Line, len(ls))
	for i, l := range ls {
		var err error
		if lines[i], err = lineFromProto(fmt.Sprintf("lines[%d]", first+i), l); err != nil {
			return nil, err
		}
	}
	return lines, nil
}

// computedProto is a result calculated without storing: no upload, and a
// name only when the line named its transaction.
func computedProto(r calculator.Result) *calculatorv1.EmissionResult {
	out := resultProto(r)
	if r.TransactionID == "" {
		out.Name = ""
	}
	return out
}

// renameLines rewrites the fields the service named "lines[i].field" as
// name(i) + ".field": the one line of Calculate, or a chunk's line i as
// the stream's.
func renameLines(err error, name func(int) string) error {
	var ae *apperr.Error
	if !errors.As(err, &ae) || len(ae.Violations) == 0 {
		return err
	}
	out := *ae
	out.Violations = make([]apperr.Violation, len(ae.Violations))
	for k, v := range ae.Violations {
		out.Violations[k] = v
		idx, rest, ok := strings.Cut(strings.TrimPrefix(v.Field, "lines["), "]")
		i, convErr := strconv.Atoi(idx)
		if !ok || convErr != nil || !strings.HasPrefix(v.Field, "lines[") {
			continue
		}
		out.Violations[k].Field = name(i) + rest
		if k == 0 {
			out.Msg = out.Violations[k].Field + strings.TrimPrefix(ae.Msg, v.Field)
		}
	}
	return &out
}

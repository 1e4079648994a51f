package main

import (
	"archive/zip"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"io"
	"maps"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/xuri/excelize/v2"

	"github.com/vcci-dev/vcci/pkg/tenancy"
	"github.com/vcci-dev/vcci/pkg/testsupport"
)

type report struct {
	Name, State, Error, FileName, ContentType, Sha256, SizeBytes string
	FinishTime, ExpireTime, AsOfDate                             string
}

// Reports through the gateway and the real services: each format of a GHG
// inventory built by its job from uploaded lines shows the inventory API's
// total; bad requests name their field; the file downloads with a key
// (ETag, If-None-Match, Range) and through a link with none; another
// tenant reaches none of it.
func TestReportThroughREST(t *testing.T) {
	p := start(t, nil)
	recv := newReceiver(t)
	recv.register(t, p, "report.ready")
	// 10,000 USD of steel and 5,000 USD of cement in June 2024.
	const lines = "transaction_id,date,supplier_id,supplier_name,naics_code,amount,currency,description\n" +
		"R1,2024-06-14,S1,Steel Co,331110,10000.00,USD,coil\n" +
		"R2,2024-06-20,S2,Cement Co,327310,5000.00,USD,cement\n"
	var u struct{ Name string }
	if code := p.call(t, "POST", "/v1/uploads", p.key, strings.NewReader(lines), &u, "Content-Type", "text/csv"); code != http.StatusAccepted {
		t.Fatalf("upload: HTTP %d %+v", code, u)
	}
	if got := p.wait(t, p.key, u.Name); got.State != "UPLOAD_STATE_SUCCEEDED" {
		t.Fatalf("upload = %+v", got)
	}
	var inv struct{ TotalKgCo2e string }
	if code := p.call(t, "GET", "/v1/inventory", p.key, nil, &inv); code != http.StatusOK || inv.TotalKgCo2e == "" {
		t.Fatalf("inventory: HTTP %d %+v", code, inv)
	}
	// The reports show t CO2e to 3 decimals.
	kg, _ := new(big.Rat).SetString(inv.TotalKgCo2e)
	wantT := new(big.Rat).Quo(kg, big.NewRat(1000, 1)).FloatString(3)

	for _, c := range []struct{ body, field string }{
		{`{"kind":"REPORT_KIND_UNSPECIFIED","format":"REPORT_FORMAT_JSON","periodStart":"2024-01-01","periodEnd":"2024-12-31"}`, "report.kind"},
		{`{"kind":"REPORT_KIND_CDP","periodStart":"2024-01-01","periodEnd":"2024-12-31"}`, "report.format"},
		{`{"kind":"REPORT_KIND_CDP","format":"REPORT_FORMAT_PDF","periodStart":"2020-01-01","periodEnd":"2020-12-31"}`, "report.period"},
	} {
		var e struct{ Message string }
		if code := p.call(t, "POST", "/v1/reports", p.key, strings.NewReader(c.body), &e, "Content-Type", "application/json"); code != http.StatusBadRequest ||
			!strings.Contains(e.Message, c.field) {
			t.Errorf("CreateReport %s: HTTP %d %q, want 400 naming %s", c.body, code, e.Message, c.field)
		}
	}

	build := func(format string) report {
		var r report
		body := `{"kind":"REPORT_KIND_GHG_INVENTORY","format":"` + format + `","periodStart":"2024-01-01","periodEnd":"2024-12-31","organization":"Acme"}`
		if code := p.call(t, "POST", "/v1/reports", p.key, strings.NewReader(body), &r, "Content-Type", "application/json"); code != http.StatusOK ||
			r.State != "REPORT_STATE_QUEUED" {
			t.Fatalf("CreateReport %s: %d %+v", format, code, r)
		}
		for deadline := time.Now().Add(60 * time.Second); r.State != "REPORT_STATE_SUCCEEDED"; {
			if r.State == "REPORT_STATE_FAILED" || time.Now().After(deadline) {
				t.Fatalf("report not built: %+v", r)
			}
			time.Sleep(50 * time.Millisecond)
			p.call(t, "GET", "/v1/"+r.Name, p.key, nil, &r)
		}
		return r
	}
	get := func(path, key string, hdr ...string) (*http.Response, []byte) {
		req, _ := http.NewRequest(http.MethodGet, p.base+path, http.NoBody)
		if key != "" {
			req.Header.Set("x-api-key", key)
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	// The same total in every format: JSON's and CSV's cell, XLSX's number,
	// the PDF's text.
	totals := map[string]string{}
	files := map[string][]byte{}
	for _, f := range []string{"REPORT_FORMAT_JSON", "REPORT_FORMAT_XLSX", "REPORT_FORMAT_CSV", "REPORT_FORMAT_PDF"} {
		r := build(f)
		resp, b := get("/v1/"+r.Name+"/file", p.key)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != r.ContentType {
			t.Fatalf("download %s: %d %v", f, resp.StatusCode, resp.Header)
		}
		files[f] = b
		totals[f] = reportTotal(t, f, b)
	}
	want := map[string]string{"REPORT_FORMAT_JSON": wantT, "REPORT_FORMAT_XLSX": wantT, "REPORT_FORMAT_CSV": wantT, "REPORT_FORMAT_PDF": "%PDF-"}
	if !maps.Equal(totals, want) {
		t.Fatalf("totals by format %v, want %v (inventory %s kg)", totals, want, inv.TotalKgCo2e)
	}

	r := build("REPORT_FORMAT_JSON")
	resp, file := get("/v1/"+r.Name+"/file", p.key)
	sum := sha256.Sum256(file)
	if resp.StatusCode != http.StatusOK || hex.EncodeToString(sum[:]) != r.Sha256 || resp.Header.Get("ETag") != `"`+r.Sha256+`"` ||
		resp.Header.Get("Content-Disposition") != `attachment; filename="`+r.FileName+`"` || !bytes.Contains(file, []byte(`"title": "GHG Protocol Scope 3 inventory"`)) {
		t.Fatalf("download: %d %s %v, want the file of %+v", resp.StatusCode, file, resp.Header, r)
	}
	if resp, _ := get("/v1/"+r.Name+"/file", p.key, "If-None-Match", `"`+r.Sha256+`"`); resp.StatusCode != http.StatusNotModified {
		t.Fatalf("If-None-Match: %d, want 304", resp.StatusCode)
	}
	if resp, b := get("/v1/"+r.Name+"/file", p.key, "Range", "bytes=2-9"); resp.StatusCode != http.StatusPartialContent || !bytes.Equal(b, file[2:10]) {
		t.Fatalf("Range: %d %q, want 206 %q", resp.StatusCode, b, file[2:10])
	}

	// Each built report was announced once, by id, with its file's sum.
	testsupport.WaitFor(t, "report.ready for each report", 30*time.Second, func() bool { evs, _ := recv.received(); return len(evs) == 5 })
	evs, ids := recv.received()
	slices.Sort(ids)
	if want := []string{"report-1-ready", "report-2-ready", "report-3-ready", "report-4-ready", "report-5-ready"}; !slices.Equal(ids, want) {
		t.Fatalf("report.ready ids %v, want %v", ids, want)
	}
	for _, ev := range evs {
		var d struct {
			Report   string `json:"report"`
			Sha256   string `json:"sha256"`
			Download string `json:"download"`
		}
		if err := json.Unmarshal(ev.Data, &d); err != nil || ev.Type != "report.ready" || d.Download != "/v1/"+d.Report+"/file" {
			t.Fatalf("event %+v (%s): %v", ev, ev.Data, err)
		}
		if d.Report == r.Name && d.Sha256 != r.Sha256 {
			t.Fatalf("report.ready of %s says sha256 %s, the report %s", r.Name, d.Sha256, r.Sha256)
		}
	}

	var link struct{ URL string }
	if code := p.call(t, "POST", "/v1/"+r.Name+":createLink", p.key, nil, &link); code != http.StatusOK || !strings.HasPrefix(link.URL, "/v1/reportFiles/") {
		t.Fatalf("CreateReportLink: %d %+v", code, link)
	}
	if resp, b := get(link.URL, ""); resp.StatusCode != http.StatusOK || !bytes.Equal(b, file) {
		t.Fatalf("link without a key: %d %s", resp.StatusCode, b)
	}
	// Altered: another report's id under the same signature.
	tok := strings.TrimPrefix(link.URL, "/v1/reportFiles/")
	tampered := "AAAA" + tok[4:]
	if resp, _ := get("/v1/reportFiles/"+tampered, ""); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("altered link: %d, want 401", resp.StatusCode)
	}

	other := testsupport.Key(t, p.pool, "globex")
	if resp, _ := get("/v1/"+r.Name+"/file", other); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("another tenant's download: %d, want 404", resp.StatusCode)
	}

	// Kept REPORT_RETENTION (90 days by default) after it ended, unless
	// deleted first; deleted, its file and links go with it.
	finish, _ := time.Parse(time.RFC3339Nano, r.FinishTime)
	if exp, _ := time.Parse(time.RFC3339Nano, r.ExpireTime); finish.IsZero() || !exp.Equal(finish.Add(90*24*time.Hour)) {
		t.Fatalf("expireTime %q, want finishTime %s plus 90 days", r.ExpireTime, r.FinishTime)
	}
	if code := p.call(t, "DELETE", "/v1/"+r.Name, p.key, nil, nil); code != http.StatusOK {
		t.Fatalf("DELETE /v1/%s: %d", r.Name, code)
	}
	for _, path := range []string{"/v1/" + r.Name, "/v1/" + r.Name + "/file", link.URL} {
		if resp, b := get(path, p.key); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("GET %s after the delete: %d %s, want 404", path, resp.StatusCode, b)
		}
	}
}

// jsonTable is the rows of a JSON report's table name; none if it has none.
func jsonTable(t *testing.T, b []byte, name string) [][]string {
	t.Helper()
	var d struct {
		Sections []struct {
			Tables []struct {
				Name string     `json:"name"`
				Rows [][]string `json:"rows"`
			} `json:"tables"`
		} `json:"sections"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	for _, s := range d.Sections {
		for _, tb := range s.Tables {
			if tb.Name == name {
				return tb.Rows
			}
		}
	}
	return nil
}

// reportTotal reads the Scope 3 total (t CO2e) off a GHG inventory's
// "totals" table in the file's format; a PDF's first bytes.
func reportTotal(t *testing.T, format string, b []byte) string {
	t.Helper()
	switch format {
	case "REPORT_FORMAT_JSON":
		if rows := jsonTable(t, b, "totals"); len(rows) > 0 {
			return rows[0][0]
		}
	case "REPORT_FORMAT_XLSX":
		f, err := excelize.OpenReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if typ, err := f.GetCellType("totals", "A2"); err != nil || typ != excelize.CellTypeNumber && typ != excelize.CellTypeUnset {
			t.Fatalf("totals!A2 is %v (%v), want a number", typ, err)
		}
		v, err := f.GetCellValue("totals", "A2", excelize.Options{RawCellValue: true})
		if err != nil {
			t.Fatal(err)
		}
		x, _ := new(big.Rat).SetString(v)
		return x.FloatString(3)
	case "REPORT_FORMAT_CSV":
		z, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatal(err)
		}
		f, err := z.Open("totals.csv")
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		recs, err := csv.NewReader(f).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		return recs[1][0]
	case "REPORT_FORMAT_PDF":
		return string(b[:min(5, len(b))])
	}
	t.Fatalf("no total in the %s file", format)
	return ""
}

// A report of a year, or of a fiscal year, now or from a snapshot, through
// the gateway: its total is the inventory API's of the same months, not of
// every stored line.
func TestAReportOfAPeriodThroughREST(t *testing.T) {
	p := start(t, nil)
	// Steel in June 2024; cement in February and steel in March 2025.
	const lines = "transaction_id,date,supplier_id,supplier_name,naics_code,amount,currency,description\n" +
		"P1,2024-06-14,S1,Steel Co,331110,10000.00,USD,coil\n" +
		"P2,2025-02-03,S2,Cement Co,327310,5000.00,USD,cement\n" +
		"P3,2025-03-31,S1,Steel Co,331110,2000.00,USD,bar\n"
	if got := p.wait(t, p.key, p.upload(t, p.key, []byte(lines)).Name); got.State != "UPLOAD_STATE_SUCCEEDED" {
		t.Fatalf("upload = %+v", got)
	}
	type inventory struct {
		TotalKgCo2e, LineCount, PeriodStart, PeriodEnd string
	}
	read := func(query string) inventory {
		var inv inventory
		if code := p.call(t, "GET", "/v1/inventory"+query, p.key, nil, &inv); code != http.StatusOK {
			t.Fatalf("inventory%s: HTTP %d %+v", query, code, inv)
		}
		return inv
	}
	all, y2024, fy := read(""), read("?periodStart=2024-01&periodEnd=2024-12"), read("?periodStart=2024-04&periodEnd=2025-03")
	y2025 := read("?periodStart=2025-01&periodEnd=2025-12")
	if y2024.LineCount != "1" || y2024.PeriodStart != "2024-01" || y2024.PeriodEnd != "2024-12" || y2025.LineCount != "2" ||
		fy.LineCount != "3" || fy.TotalKgCo2e != all.TotalKgCo2e || all.LineCount != "3" {
		t.Fatalf("inventories: all %+v, 2024 %+v, 2025 %+v, April 2024 to March 2025 %+v", all, y2024, y2025, fy)
	}
	sum := new(big.Rat)
	for _, kg := range []string{y2024.TotalKgCo2e, y2025.TotalKgCo2e} {
		r, _ := new(big.Rat).SetString(kg)
		sum.Add(sum, r)
	}
	if a, _ := new(big.Rat).SetString(all.TotalKgCo2e); a.Cmp(sum) != 0 {
		t.Fatalf("2024 %s + 2025 %s kg is not every line's %s", y2024.TotalKgCo2e, y2025.TotalKgCo2e, all.TotalKgCo2e)
	}
	var bad struct{ Message string }
	if code := p.call(t, "GET", "/v1/inventory?periodStart=2024-13&periodEnd=2024-12", p.key, nil, &bad); code != http.StatusBadRequest ||
		!strings.Contains(bad.Message, "period_start") {
		t.Fatalf("month 13: HTTP %d %q, want 400 naming period_start", code, bad.Message)
	}

	// A snapshot records the months: its 2024 is the inventory's.
	var snap struct{ Name string }
	if code := p.call(t, "POST", "/v1/inventorySnapshots", p.key, strings.NewReader(`{"displayName":"as reported"}`), &snap,
		"Content-Type", "application/json"); code != http.StatusOK {
		t.Fatalf("snapshot: HTTP %d %+v", code, snap)
	}
	if s := read("?snapshot=" + snap.Name + "&periodStart=2024-01&periodEnd=2024-12"); s.TotalKgCo2e != y2024.TotalKgCo2e || s.LineCount != "1" {
		t.Fatalf("the snapshot's 2024: %+v, want %+v", s, y2024)
	}
	// A line of June 2024 loaded after it is in 2024 now, not in the
	// snapshot's 2024 (its total and its months table, below).
	late := "transaction_id,date,supplier_id,supplier_name,naics_code,amount,currency,description\nP4,2024-06-20,S1,Steel Co,331110,500.00,USD,late\n"
	if got := p.wait(t, p.key, p.upload(t, p.key, []byte(late)).Name); got.State != "UPLOAD_STATE_SUCCEEDED" {
		t.Fatalf("late upload = %+v", got)
	}
	recorded := y2024
	if y2024, fy = read("?periodStart=2024-01&periodEnd=2024-12"), read("?periodStart=2024-04&periodEnd=2025-03"); y2024.LineCount != "2" || fy.LineCount != "4" {
		t.Fatalf("2024 now: %+v; April 2024 to March 2025: %+v", y2024, fy)
	}

	tonnes := func(kg string) string {
		r, _ := new(big.Rat).SetString(kg)
		return r.Quo(r, big.NewRat(1000, 1)).FloatString(3)
	}
	for _, c := range []struct {
		start, end, snapshot string
		want                 inventory
	}{{"2024-01-01", "2024-12-31", "", y2024}, {"2025-01-01", "2025-12-31", "", y2025}, {"2024-04-01", "2025-03-31", "", fy},
		{"2024-01-01", "2024-12-31", snap.Name, recorded}} {
		r, file := p.jsonReport(t, `{"kind":"REPORT_KIND_GHG_INVENTORY","format":"REPORT_FORMAT_JSON","periodStart":"`+c.start+
			`","periodEnd":"`+c.end+`","snapshot":"`+c.snapshot+`"}`)
		if got := reportTotal(t, "REPORT_FORMAT_JSON", file); got != tonnes(c.want.TotalKgCo2e) {
			t.Errorf("report of %s to %s %s: %+v, total %s t, want the inventory's %s kg", c.start, c.end, c.snapshot, r, got, c.want.TotalKgCo2e)
		}
		if months := jsonTable(t, file, "months"); c.snapshot != "" && (len(months) != 1 || months[0][0] != "2024-06" || months[0][2] != "1") {
			t.Errorf("the snapshot's months of 2024 %v, want June's one line", months)
		}
	}
	// The snapshot's suppliers: S1's 2024 as recorded, in hotspot's Pareto
	// and in the hotspot pack, where today's has the late line too.
	var pareto struct{ TotalKgCo2e, Snapshot, PeriodStart string }
	if code := p.call(t, "GET", "/v1/hotspots/supplierPareto?periodStart=2024-01&periodEnd=2024-12&snapshot="+snap.Name, p.key, nil, &pareto); code != http.StatusOK ||
		pareto.TotalKgCo2e != recorded.TotalKgCo2e || pareto.Snapshot != snap.Name || pareto.PeriodStart != "2024-01" {
		t.Errorf("the snapshot's Pareto of 2024: HTTP %d %+v, want %s kg", code, pareto, recorded.TotalKgCo2e)
	}
	for snapshot, want := range map[string]inventory{snap.Name: recorded, "": y2024} {
		_, file := p.jsonReport(t, `{"kind":"REPORT_KIND_HOTSPOT_PACK","format":"REPORT_FORMAT_JSON","periodStart":"2024-01-01","periodEnd":"2024-12-31","snapshot":"`+snapshot+`"}`)
		if rows := jsonTable(t, file, "suppliers"); len(rows) != 1 || rows[0][2] != "S1" || rows[0][3] != tonnes(want.TotalKgCo2e) {
			t.Errorf("hotspot pack of 2024 in snapshot %q: suppliers %v, want S1 at %s t", snapshot, rows, tonnes(want.TotalKgCo2e))
		}
	}
	if code := p.call(t, "GET", "/v1/hotspots/supplierPareto?snapshot=inventorySnapshots/999", p.key, nil, &bad); code != http.StatusNotFound {
		t.Errorf("the Pareto of a snapshot not there: HTTP %d %q, want 404", code, bad.Message)
	}
	if code := p.call(t, "GET", "/v1/emissionResults:summarize?groupBy=SUMMARY_DIMENSION_SUPPLIER&snapshot=FY2024", p.key, nil, &bad); code != http.StatusBadRequest ||
		!strings.Contains(bad.Message, `snapshot: "FY2024" is not inventorySnapshots/{id}`) {
		t.Errorf("a summary of a snapshot misnamed: HTTP %d %q, want 400 naming snapshot", code, bad.Message)
	}
	var e struct{ Message string }
	body := `{"kind":"REPORT_KIND_CDP","format":"REPORT_FORMAT_JSON","periodStart":"2024-01-15","periodEnd":"2024-12-31"}`
	if code := p.call(t, "POST", "/v1/reports", p.key, strings.NewReader(body), &e, "Content-Type", "application/json"); code != http.StatusBadRequest ||
		!strings.Contains(e.Message, "report.period_start: must be the first day of a month") {
		t.Errorf("a period from the 15th: HTTP %d %q", code, e.Message)
	}
}

// jsonReport asks for the report body describes (a JSON one) and returns
// it once built, with its file.
func (p platform) jsonReport(t *testing.T, body string) (report, json.RawMessage) {
	t.Helper()
	var r report
	if code := p.call(t, "POST", "/v1/reports", p.key, strings.NewReader(body), &r, "Content-Type", "application/json"); code != http.StatusOK {
		t.Fatalf("CreateReport %s: %d %+v", body, code, r)
	}
	testsupport.WaitFor(t, "the report", 60*time.Second, func() bool {
		p.call(t, "GET", "/v1/"+r.Name, p.key, nil, &r)
		return r.State == "REPORT_STATE_SUCCEEDED" || r.State == "REPORT_STATE_FAILED"
	})
	if r.State != "REPORT_STATE_SUCCEEDED" {
		t.Fatalf("report %s: %+v", body, r)
	}
	var file json.RawMessage
	p.call(t, "GET", "/v1/"+r.Name+"/file", p.key, nil, &file)
	return r, file
}

// ageLog dates every change the calculator has logged days earlier, as if
// it had been calculated then: the only way a test can have a past day
// (as superuser, past the tenant policies).
func ageLog(t *testing.T, p platform, days int) {
	t.Helper()
	cfg, err := pgx.ParseConfig(p.url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.User, cfg.Password = "postgres", ""
	conn, err := pgx.ConnectConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	for _, q := range []string{
		`UPDATE calculator.emission_totals_log SET day = day - $1::int`,
		`UPDATE calculator.inventory_months SET day = day - $1::int, prev_day = prev_day - $1::int`,
		`UPDATE calculator.inventory_months_log SET day = day - $1::int`,
		`UPDATE calculator.summary_months SET day = day - $1::int, prev_day = prev_day - $1::int`,
		`UPDATE calculator.summary_months_log SET day = day - $1::int`,
	} {
		if _, err := conn.Exec(t.Context(), q, days); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// A report as of a day through the gateway: the inventory API's figures
// of that day, a line loaded since left out; a hotspot pack ranks the
// suppliers of then; today and a snapshot with a day are refused naming
// as_of_date.
func TestAReportAsOfADayThroughREST(t *testing.T) {
	p := start(t, nil)
	const head = "transaction_id,date,supplier_id,supplier_name,naics_code,amount,currency,description\n"
	if got := p.wait(t, p.key, p.upload(t, p.key, []byte(head+"P1,2024-06-14,S1,Steel Co,331110,10000.00,USD,coil\n"+
		"P2,2025-02-03,S2,Cement Co,327310,5000.00,USD,cement\n")).Name); got.State != "UPLOAD_STATE_SUCCEEDED" {
		t.Fatalf("upload = %+v", got)
	}
	ageLog(t, p, 2)
	if got := p.wait(t, p.key, p.upload(t, p.key, []byte(head+"P4,2024-06-20,S1,Steel Co,331110,500.00,USD,late\n")).Name); got.State != "UPLOAD_STATE_SUCCEEDED" {
		t.Fatalf("late upload = %+v", got)
	}
	today := time.Now().UTC().Truncate(24 * time.Hour)
	yesterday := today.AddDate(0, 0, -1).Format(time.DateOnly)
	type inventory struct{ TotalKgCo2e, LineCount, AsOfDate string }
	var then, now inventory
	if code := p.call(t, "GET", "/v1/inventory?periodStart=2024-01&periodEnd=2024-12&asOfDate="+yesterday, p.key, nil, &then); code != http.StatusOK ||
		then.LineCount != "1" || then.AsOfDate != yesterday {
		t.Fatalf("2024 as of %s: HTTP %d %+v, want the one line of then", yesterday, code, then)
	}
	if code := p.call(t, "GET", "/v1/inventory?periodStart=2024-01&periodEnd=2024-12", p.key, nil, &now); code != http.StatusOK || now.LineCount != "2" {
		t.Fatalf("2024 now: HTTP %d %+v", code, now)
	}
	// 2024's months as of then, summarized: the inventory's of then.
	var months struct {
		TotalKgCo2e, TransactionCount, AsOfDate string
		Groups                                  []struct{ Key, KgCo2e string }
	}
	if code := p.call(t, "GET", "/v1/emissionResults:summarize?groupBy=SUMMARY_DIMENSION_MONTH&periodStart=2024-01&periodEnd=2024-12&asOfDate="+yesterday,
		p.key, nil, &months); code != http.StatusOK || months.TotalKgCo2e != then.TotalKgCo2e || months.TransactionCount != "1" ||
		months.AsOfDate != yesterday || len(months.Groups) != 1 || months.Groups[0].Key != "2024-06" {
		t.Fatalf("2024's months as of %s: HTTP %d %+v, want June's one line of then, %s kg", yesterday, code, months, then.TotalKgCo2e)
	}
	// Suppliers as of then: S1's June line; S2's line is of 2025. The
	// Pareto of then, through hotspot: the same.
	var suppliers struct {
		TotalKgCo2e, AsOfDate string
		Groups                []struct{ Key, KgCo2e, TransactionCount string }
	}
	if code := p.call(t, "GET", "/v1/emissionResults:summarize?groupBy=SUMMARY_DIMENSION_SUPPLIER&periodStart=2024-01&periodEnd=2024-12&asOfDate="+yesterday,
		p.key, nil, &suppliers); code != http.StatusOK || suppliers.TotalKgCo2e != then.TotalKgCo2e || suppliers.AsOfDate != yesterday ||
		len(suppliers.Groups) != 1 || suppliers.Groups[0].Key != "S1" || suppliers.Groups[0].TransactionCount != "1" {
		t.Fatalf("2024's suppliers as of %s: HTTP %d %+v, want S1's one line of then, %s kg", yesterday, code, suppliers, then.TotalKgCo2e)
	}
	var pareto struct {
		TotalKgCo2e, AsOfDate string
		Entries               []struct{ Supplier, KgCo2e string }
	}
	if code := p.call(t, "GET", "/v1/hotspots/supplierPareto?periodStart=2024-01&periodEnd=2024-12&asOfDate="+yesterday, p.key, nil, &pareto); code != http.StatusOK ||
		pareto.TotalKgCo2e != then.TotalKgCo2e || pareto.AsOfDate != yesterday || len(pareto.Entries) != 1 || pareto.Entries[0].Supplier != "suppliers/S1" {
		t.Fatalf("2024's Pareto as of %s: HTTP %d %+v, want S1 alone, %s kg", yesterday, code, pareto, then.TotalKgCo2e)
	}
	var bad struct{ Message string }
	if code := p.call(t, "GET", "/v1/emissionResults:summarize?groupBy=SUMMARY_DIMENSION_NAICS&asOfDate="+yesterday, p.key, nil, &bad); code != http.StatusBadRequest ||
		!strings.Contains(bad.Message, "group_by: NAICS codes are not kept by day") {
		t.Errorf("NAICS codes as of %s: HTTP %d %q, want 400 naming group_by", yesterday, code, bad.Message)
	}

	r, file := p.jsonReport(t, `{"kind":"REPORT_KIND_GHG_INVENTORY","format":"REPORT_FORMAT_JSON","periodStart":"2024-01-01","periodEnd":"2024-12-31",`+
		`"asOfDate":"`+yesterday+`"}`)
	kg, _ := new(big.Rat).SetString(then.TotalKgCo2e)
	tonnes := new(big.Rat).Quo(kg, big.NewRat(1000, 1)).FloatString(3)
	if got, want := reportTotal(t, "REPORT_FORMAT_JSON", file), tonnes; r.AsOfDate != yesterday || got != want {
		t.Fatalf("report as of %s: %+v, total %s t, want the inventory's of then, %s t", yesterday, r, got, want)
	}
	if months := jsonTable(t, file, "months"); len(months) != 1 || months[0][0] != "2024-06" || months[0][2] != "1" {
		t.Errorf("months as of %s: %v, want June's one line of then", yesterday, months)
	}
	if want := "ghg-inventory-2024-01-01-2024-12-31-as-of-" + yesterday + "-" + strings.TrimPrefix(r.Name, "reports/") + ".json"; r.FileName != want {
		t.Errorf("file name %q, want %q", r.FileName, want)
	}
	if !strings.Contains(string(file), "The figures are the inventory as calculated at the end of "+yesterday+" (UTC).") {
		t.Errorf("the file does not say it is as of %s", yesterday)
	}
	// The hotspot pack of then: S1 alone, with its tonnes of then.
	_, file = p.jsonReport(t, `{"kind":"REPORT_KIND_HOTSPOT_PACK","format":"REPORT_FORMAT_JSON","periodStart":"2024-01-01","periodEnd":"2024-12-31",`+
		`"asOfDate":"`+yesterday+`"}`)
	if rows := jsonTable(t, file, "suppliers"); len(rows) != 1 || rows[0][2] != "S1" || rows[0][3] != tonnes {
		t.Errorf("hotspot pack as of %s: suppliers %v, want S1 alone at %s t", yesterday, rows, tonnes)
	}
	if !strings.Contains(string(file), "Suppliers and their methods are as calculated at the end of "+yesterday+" (UTC)") {
		t.Errorf("the hotspot pack does not say it is as of %s", yesterday)
	}

	for _, c := range []struct{ body, msg string }{
		{`"asOfDate":"` + today.Format(time.DateOnly) + `"`, "report.as_of_date: " + today.Format(time.DateOnly) + " has not ended"},
		{`"asOfDate":"` + yesterday + `","snapshot":"inventorySnapshots/1"`, "report.as_of_date: give a snapshot or a day, not both"},
		{`"asOfDate":"` + today.AddDate(0, 0, -3).Format(time.DateOnly) + `"`, "report.period_start: the period 2024-01-01 to 2024-12-31 has no data"},
	} {
		var e struct{ Message string }
		body := `{"kind":"REPORT_KIND_CDP","format":"REPORT_FORMAT_JSON","periodStart":"2024-01-01","periodEnd":"2024-12-31",` + c.body + `}`
		if code := p.call(t, "POST", "/v1/reports", p.key, strings.NewReader(body), &e, "Content-Type", "application/json"); code != http.StatusBadRequest ||
			!strings.Contains(e.Message, c.msg) {
			t.Errorf("%s: HTTP %d %q, want 400 %q", c.body, code, e.Message, c.msg)
		}
	}
}

// With REPORT_LINK_KEY set, report links are signed with it, and a link
// signed with the key derived from the platform secret in the database
// (what signs them without it) is refused: a dump of the database cannot
// forge one.
func TestReportLinksUnderAConfiguredKey(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	t.Setenv("REPORT_LINK_KEY", base64.StdEncoding.EncodeToString(key))
	p := start(t, nil)
	const head = "transaction_id,date,supplier_id,supplier_name,naics_code,amount,currency,description\n"
	if got := p.wait(t, p.key, p.upload(t, p.key, []byte(head+"L1,2024-06-14,S1,Steel Co,331110,10000.00,USD,coil\n")).Name); got.State != "UPLOAD_STATE_SUCCEEDED" {
		t.Fatalf("upload = %+v", got)
	}
	r, file := p.jsonReport(t, `{"kind":"REPORT_KIND_CDP","format":"REPORT_FORMAT_JSON","periodStart":"2024-01-01","periodEnd":"2024-12-31"}`)
	var link struct{ URL string }
	if code := p.call(t, "POST", "/v1/"+r.Name+":createLink", p.key, nil, &link); code != http.StatusOK {
		t.Fatalf("CreateReportLink: %d %+v", code, link)
	}
	var got json.RawMessage
	if code := p.call(t, "GET", link.URL, "", nil, &got); code != http.StatusOK || !bytes.Equal(got, file) {
		t.Fatalf("link without an API key: HTTP %d", code)
	}
	// The token is its payload and the payload's HMAC-SHA256, each in
	// base64url (services/reporting/internal/reporting/links.go).
	payload, _, _ := strings.Cut(strings.TrimPrefix(link.URL, "/v1/reportFiles/"), ".")
	signed := func(k []byte) string {
		b, err := base64.RawURLEncoding.DecodeString(payload)
		if err != nil {
			t.Fatal(err)
		}
		m := hmac.New(sha256.New, k)
		m.Write([]byte("vcci/report-link\x00"))
		m.Write(b)
		return "/v1/reportFiles/" + payload + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
	if signed(key) != link.URL {
		t.Fatalf("link %s is not signed with REPORT_LINK_KEY", link.URL)
	}
	derived, err := tenancy.DeriveKey(t.Context(), p.pool, "report-link")
	if err != nil {
		t.Fatal(err)
	}
	if code := p.call(t, "GET", signed(derived), "", nil, nil); code != http.StatusUnauthorized {
		t.Fatalf("a link signed with the database's key: HTTP %d, want 401", code)
	}
}

// Suppliers' methods through the gateway, and the hotspot pack's column of
// them: the same methods and shares.
func TestSupplierMethodsThroughREST(t *testing.T) {
	p := start(t, nil)
	const lines = "transaction_id,date,supplier_id,supplier_name,naics_code,amount,currency,description\n" +
		"P1,2024-06-14,S1,Steel Co,331110,10000.00,USD,coil\n" +
		"P2,2024-07-01,S1,Steel Co,331110,2000.00,USD,bar\n" +
		"P3,2024-02-03,S2,Cement Co,327310,5000.00,USD,cement\n"
	if got := p.wait(t, p.key, p.upload(t, p.key, []byte(lines)).Name); got.State != "UPLOAD_STATE_SUCCEEDED" {
		t.Fatalf("upload = %+v", got)
	}
	type method struct{ Method, KgCo2e, LineCount string }
	var got struct {
		Suppliers []struct {
			SupplierID, TotalKgCo2e, LineCount string
			Methods                            []method
		}
		GwpBasis, PeriodStart, PeriodEnd string
	}
	if code := p.call(t, "GET", "/v1/supplierMethods:batchGet?supplierIds=S2&supplierIds=S1&supplierIds=S9&periodStart=2024-06&periodEnd=2024-12",
		p.key, nil, &got); code != http.StatusOK {
		t.Fatalf("supplier methods: HTTP %d %+v", code, got)
	}
	if len(got.Suppliers) != 1 || got.Suppliers[0].SupplierID != "S1" || got.Suppliers[0].LineCount != "2" || len(got.Suppliers[0].Methods) != 1 ||
		got.Suppliers[0].Methods[0].Method != "spend-based" || got.Suppliers[0].Methods[0].KgCo2e != got.Suppliers[0].TotalKgCo2e ||
		got.GwpBasis != "GWP_BASIS_AR5" || got.PeriodStart != "2024-06" {
		t.Fatalf("June to December 2024: %+v, want S1's two spend-based lines alone", got)
	}
	var bad struct{ Message string }
	if code := p.call(t, "GET", "/v1/supplierMethods:batchGet", p.key, nil, &bad); code != http.StatusBadRequest || !strings.Contains(bad.Message, "supplier_ids") {
		t.Errorf("no suppliers: HTTP %d %q, want 400 naming supplier_ids", code, bad.Message)
	}

	r, file := p.jsonReport(t, `{"kind":"REPORT_KIND_HOTSPOT_PACK","format":"REPORT_FORMAT_JSON","periodStart":"2024-01-01","periodEnd":"2024-12-31"}`)
	methods := map[string]string{}
	for _, row := range jsonTable(t, file, "suppliers") {
		methods[row[2]] = row[9]
	}
	if !maps.Equal(methods, map[string]string{"S1": "spend-based 100.00 %", "S2": "spend-based 100.00 %"}) {
		t.Errorf("hotspot pack %+v: methods by supplier %v", r, methods)
	}
}

package main

import (
	"context"
	"maps"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"

	"github.com/vcci-dev/vcci/cmd/vcci/internal/stack"
	"github.com/vcci-dev/vcci/pkg/ratelimit"
)

// TestAlertRulesUseEmittedMetrics drives the events the upload alerts
// watch (an upload job that fails, an upload with rejected rows) through
// the platform, scrapes every service's /metrics and the gateway's, and
// looks for a series matching each selector of every rule in
// deploy/prometheus/alerts.yaml; a rule on a series nobody exports would
// never fire.
func TestAlertRulesUseEmittedMetrics(t *testing.T) {
	selectors := alertSelectors(t, "../../deploy/prometheus/alerts.yaml")
	texts := make([]string, 0, len(selectors))
	for _, s := range selectors {
		texts = append(texts, s.text)
	}
	if len(selectors) < 5 {
		t.Fatalf("found only %d selectors in the rules: %v", len(selectors), texts)
	}
	t.Logf("selectors: %s", strings.Join(texts, ", "))

	t.Setenv("UPLOAD_MAX_ATTEMPTS", "1") // a failed attempt fails the upload
	limits := ratelimit.DefaultConfig()
	p := startWith(t, stack.Options{Metrics: true, RateLimit: &limits})
	ctx := context.Background()
	// A row that this database refuses makes the upload's attempt fail.
	if _, err := p.pool.Exec(ctx, `ALTER TABLE intake.transactions ADD CONSTRAINT fail_on_demand CHECK (description <> 'fail this upload')`); err != nil {
		t.Fatal(err)
	}
	const head = "transaction_id,date,supplier_id,supplier_name,naics_code,amount,currency,description\n"
	failing := p.upload(t, p.key, []byte(head+"M1,2024-02-01,S1,Acme,331110,10.00,USD,fail this upload\n"))
	if u := p.wait(t, p.key, failing.Name); u.State != "UPLOAD_STATE_FAILED" {
		t.Fatalf("failing upload: %+v", u)
	}
	mixed := p.upload(t, p.key, []byte(head+"M2,2024-02-01,S1,Acme,331110,10.00,USD,ok\nM3,2024-02-01,S1,Acme,000000,1.00,USD,unknown code\n"))
	if u := p.wait(t, p.key, mixed.Name); u.State != "UPLOAD_STATE_SUCCEEDED" || u.RowsAccepted != "1" || u.RowsRejected != "1" {
		t.Fatalf("mixed upload: %+v", u)
	}

	series := scrapeAll(t, p)
	var missing []string
	for _, sel := range selectors {
		if !slices.ContainsFunc(series, sel.matches) {
			missing = append(missing, sel.text)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("no service exports a series for %d selector(s) of the alert rules:\n  %s", len(missing), strings.Join(missing, "\n  "))
	}
	for _, want := range []struct {
		name, label, value string
		min                float64
	}{
		{"vcci_upload_jobs_failed_total", "reason", "attempts", 1},
		{"vcci_upload_rows_total", "result", "accepted", 1},
		{"vcci_upload_rows_total", "result", "rejected", 1},
	} {
		var got float64
		for _, s := range series {
			if s.name == want.name && s.labels[want.label] == want.value {
				got += s.value
			}
		}
		if got < want.min {
			t.Errorf("%s{%s=%q} = %v, want at least %v", want.name, want.label, want.value, got, want.min)
		}
	}
}

// sample is one scraped series.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

// scrapeAll reads /metrics of every service and of the gateway.
func scrapeAll(t *testing.T, p platform) []sample {
	t.Helper()
	urls := make([]string, 0, 1+len(stack.Services))
	urls = append(urls, p.base+"/metrics")
	for _, name := range stack.Services {
		addr, ok := p.metrics[name.Name]
		if !ok {
			t.Fatalf("%s has no metrics address", name.Name)
		}
		urls = append(urls, "http://"+addr+"/metrics")
	}
	var out []sample
	for _, u := range urls {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		parser := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := parser.TextToMetricFamilies(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		for name, f := range fams {
			for _, m := range f.GetMetric() {
				out = append(out, expand(name, f.GetType(), m)...)
			}
		}
	}
	return out
}

// expand turns one metric into the series Prometheus stores for it: a
// histogram is its _bucket (by le), _sum and _count.
func expand(name string, typ dto.MetricType, m *dto.Metric) []sample {
	labels := map[string]string{}
	for _, l := range m.GetLabel() {
		labels[l.GetName()] = l.GetValue()
	}
	with := func(k, v string) map[string]string {
		c := make(map[string]string, len(labels)+1)
		maps.Copy(c, labels)
		c[k] = v
		return c
	}
	switch typ {
	case dto.MetricType_COUNTER:
		return []sample{{name, labels, m.GetCounter().GetValue()}}
	case dto.MetricType_GAUGE:
		return []sample{{name, labels, m.GetGauge().GetValue()}}
	case dto.MetricType_HISTOGRAM:
		h := m.GetHistogram()
		out := []sample{{name + "_sum", labels, h.GetSampleSum()}, {name + "_count", labels, float64(h.GetSampleCount())},
			{name + "_bucket", with("le", "+Inf"), float64(h.GetSampleCount())}}
		for _, b := range h.GetBucket() {
			out = append(out, sample{name + "_bucket", with("le", strconv.FormatFloat(b.GetUpperBound(), 'g', -1, 64)), float64(b.GetCumulativeCount())})
		}
		return out
	default:
		return []sample{{name, labels, m.GetUntyped().GetValue()}}
	}
}

// selector is one series selector of a rule: a metric name and its label
// matchers.
type selector struct {
	text     string
	name     string
	matchers []matcher
}

type matcher struct {
	label, op string
	value     string
	re        *regexp.Regexp
}

func (s selector) matches(x sample) bool {
	if x.name != s.name {
		return false
	}
	for _, m := range s.matchers {
		v := x.labels[m.label]
		switch m.op {
		case "=":
			if v != m.value {
				return false
			}
		case "!=":
			if v == m.value {
				return false
			}
		case "=~":
			if !m.re.MatchString(v) {
				return false
			}
		case "!~":
			if m.re.MatchString(v) {
				return false
			}
		}
	}
	return true
}

var (
	// Grouping clauses name labels, not metrics.
	grouping = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	// A name, not followed by "(" (a function), with its optional matchers.
	selectorRE = regexp.MustCompile(`\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\})?\s*(\()?`)
	matcherRE  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*")`)
	keywords   = []string{"and", "or", "unless", "bool", "offset"}
)

// alertSelectors returns the selectors of every rule's expression in the
// rules file at path, leaving out recorded series (vcci:...) and labels
// and series Prometheus adds itself (job, instance, up).
func alertSelectors(t *testing.T, path string) []selector {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Groups []struct {
			Rules []struct{ Expr string }
		}
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []selector
	seen := map[string]bool{}
	for _, g := range doc.Groups {
		for _, r := range g.Rules {
			expr := grouping.ReplaceAllString(r.Expr, "")
			for _, m := range selectorRE.FindAllStringSubmatch(expr, -1) {
				name := m[1]
				if m[3] == "(" || slices.Contains(keywords, name) || strings.Contains(name, ":") || name == "up" {
					continue
				}
				sel := selector{text: strings.TrimSpace(name + m[2]), name: name}
				for _, mm := range matcherRE.FindAllStringSubmatch(m[2], -1) {
					if mm[1] == "job" || mm[1] == "instance" {
						continue
					}
					v, err := strconv.Unquote(mm[3])
					if err != nil {
						t.Fatalf("%s: matcher %s: %v", path, mm[0], err)
					}
					mt := matcher{label: mm[1], op: mm[2], value: v}
					if mt.op == "=~" || mt.op == "!~" {
						if mt.re, err = regexp.Compile("^(?:" + v + ")$"); err != nil {
							t.Fatalf("%s: matcher %s: %v", path, mm[0], err)
						}
					}
					sel.matchers = append(sel.matchers, mt)
				}
				if !seen[sel.text] {
					seen[sel.text] = true
					out = append(out, sel)
				}
			}
		}
	}
	return out
}

#!/usr/bin/env bash
# Renders one page of each report kind's PDF into docs/reports/, as
# docs/reports.md describes: the platform (bin/, make build) on a database of
# its own, 30,000 lines of 2022-2025, a supplier figure, a campaign and a
# snapshot; reports of 2024; then pdftoppm
# at 70 dpi. Needs poppler-utils, jq, curl and psql,
# and port 8080 free. make report-pages;
# KEEP=dir keeps the PDFs there.
set -euo pipefail
cd "$(dirname "$0")/.."

PG=${PG:-postgres://postgres@127.0.0.1:5432}
DB=vcci_report_pages
BASE=http://127.0.0.1:8080
work=$(mktemp -d)
run_pid=
cleanup() {
	if [ -n "$run_pid" ]; then kill "$run_pid" 2>/dev/null; wait "$run_pid" 2>/dev/null || true; fi
	psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

for tool in pdftoppm:poppler-utils pdftotext:poppler-utils pdfinfo:poppler-utils jq:jq curl:curl psql:postgresql-client; do
	command -v "${tool%%:*}" >/dev/null || { echo "report-pages: ${tool%%:*} missing (apt-get install ${tool#*:})" >&2; exit 1; }
done
psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB" >/dev/null 2>&1

DATABASE_URL="$PG/$DB?sslmode=disable" ./bin/vcci run >"$work/run.log" 2>&1 &
run_pid=$!
for _ in $(seq 120); do
	grep -q "vcci is running" "$work/run.log" && break
	kill -0 "$run_pid" 2>/dev/null || { cat "$work/run.log" >&2; exit 1; }
	sleep 0.5
done
KEY=$(cat .vcci-dev-key)

# call METHOD PATH [BODY]: one REST request, failing on an HTTP error.
call() {
	curl -sS --fail-with-body -H "x-api-key: $KEY" -H 'Content-Type: application/json' -X "$1" "$BASE$2" ${3:+-d "$3"}
}

# The mixed generated file: four years, 2022-2025; the reports are of 2024.
./bin/vcci gen -mix -rows 30000 -suppliers 1500 -o "$work/all.csv" >/dev/null 2>&1
upload=$(curl -sS --fail-with-body -H "x-api-key: $KEY" -H 'Content-Type: text/csv' --data-binary @"$work/all.csv" \
	"$BASE/v1/uploads?filename=2022-2025.csv" | jq -r .name)
# wait NAME FIELD: until the resource's FIELD is done, failing on a failure.
wait_for() {
	for _ in $(seq 600); do
		state=$(call GET "/v1/$1" | jq -r ".$2")
		case $state in
		*SUCCEEDED) return 0 ;;
		*FAILED) call GET "/v1/$1" >&2; exit 1 ;;
		esac
		sleep 0.5
	done
	echo "report-pages: $1 not done" >&2
	exit 1
}
wait_for "$upload" state

# The top ten are engaged; the largest answers with its own figure.
call POST /v1/campaigns '{"displayName": "FY2024 top suppliers", "topN": 10}' >/dev/null
top=$(call GET '/v1/hotspots/supplierPareto?topN=1' | jq -r '.entries[0].supplier | sub("^suppliers/"; "")')
recalc=$(call POST /v1/supplierFactors "{\"supplierId\": \"$top\", \"kind\": \"SUPPLIER_FACTOR_KIND_COMPANY\",
	\"kgCo2ePerUnit\": \"0.21\", \"reportingYear\": 2024, \"verified\": true,
	\"validFrom\": \"2024-01-01\", \"validTo\": \"2024-12-31\"}" | jq -r .recalculation)
wait_for "$recalc" state
snapshot=$(call POST /v1/inventorySnapshots '{"displayName": "FY2024 as reported"}' | jq -r .name)

# page KIND FILE TEXT [START END]: the first page after the contents whose
# text holds TEXT, of KIND's PDF of 2024 (or START to END), as
# docs/reports/FILE.
page() {
	report=$(call POST /v1/reports "{\"kind\": \"REPORT_KIND_$1\", \"format\": \"REPORT_FORMAT_PDF\",
		\"periodStart\": \"${4:-2024-01-01}\", \"periodEnd\": \"${5:-2024-12-31}\", \"organization\": \"Acme Corp\",
		\"snapshot\": \"$snapshot\",
		\"exclusions\": [{\"category\": 14, \"reason\": \"Acme has no franchises\"}]}" | jq -r .name)
	wait_for "$report" state
	curl -sS --fail-with-body -H "x-api-key: $KEY" -o "$work/$1.pdf" "$BASE/v1/$report/file"
	if [ -n "${KEEP:-}" ]; then mkdir -p "$KEEP" && cp "$work/$1.pdf" "$KEEP/"; fi
	pages=$(pdfinfo "$work/$1.pdf" | awk '/^Pages:/ {print $2}')
	for p in $(seq 3 "$pages"); do # after the title page and the contents
		if pdftotext -f "$p" -l "$p" "$work/$1.pdf" - | grep -qF "$3"; then
			pdftoppm -r 70 -png -f "$p" -l "$p" -singlefile "$work/$1.pdf" "docs/reports/${2%.png}"
			echo "report-pages: docs/reports/$2 (page $p of $pages)"
			return
		fi
	done
	echo "report-pages: no page of $1 holds \"$3\"" >&2
	exit 1
}
page GHG_INVENTORY ghg-inventory.png "Scope 3 emissions by category"
page GHG_INVENTORY ghg-inventory-charts.png "P5 and P95: the 5th and 95th percentiles"
page CDP cdp.png "Gross global Scope 3 emissions"
page ESRS_E1_6 esrs-e1-6.png "Gross Scope 3 GHG emissions of"
page SB_253 sb-253.png "calculated following the GHG Protocol"
page HOTSPOT_PACK hotspot-pack.png "Supplier Pareto"

package probebuild

import (
	"context"
	"math"
	"math/big"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// A reference of GLAM's ETL math, separate from the builder: plain loops over
// the data sets, written from GLAM's own definitions, not from the builder's
// code. It calls none of the builder's functions (bucket generators, Dirichlet
// fill, percentiles, JSON, key parsing, row construction); only the Row type
// it fills is shared. Its sources are mozilla/bigquery-etl (1c16343c):
//
//   - sql/mozfun/glam/: histogram_generate_{exponential,linear,functional,
//     scalar}_buckets, histogram_normalized_sum_with_original,
//     histogram_fill_buckets[_dirichlet], histogram_bucket_from_value,
//     histogram_cast_json, percentile;
//   - telemetry_derived/clients_histogram_{bucket,probe}_counts_v1 and
//     clients_scalar_probe_counts_v1 (desktop);
//   - bigquery_etl/glam/templates/ histogram_bucket_counts_v1,
//     scalar_bucket_counts_v1, probe_counts_v1 (Glean);
//   - the glam_etl.glam_*_aggregates views (percentiles at read time).
//
// Where README.md ("Where a built probe may differ") documents that a build
// departs from the ETL, the reference follows the README, and says so with
// "README:". Where the builder departs from GLAM without the README saying
// so, the reference follows the builder and says "NOT GLAM:"; those are
// reported, and pinned by hand in reference_byhand_test.go.
//
// Its own results are checked against GLAM ETL's unit-test values in
// TestReferenceMathAgainstGLAMsTests, and rows of every metric kind against
// values computed by hand in reference_byhand_test.go.

// refSource is the table a build reads.
type refSource struct {
	// dataset is glam_etl (testdata/probebuild/data.yaml) when empty, else
	// glam_ref (testdata/reference.yaml).
	dataset string
	table   string
	glean   bool
	// since is the first submission_date read (lookback_days); "" all.
	since string
}

// refTables reads every table of the two data sets once.
var refTables struct {
	byID map[string][]map[string]any
}

// loadTable reads a table of a data set.
func loadTable(t *testing.T, dataset, id string) []map[string]any {
	t.Helper()
	if refTables.byID == nil {
		refTables.byID = map[string][]map[string]any{}
		for _, path := range []string{dataSet, refDataSet} {
			raw, err := os.ReadFile(path)
			require.NoError(t, err)
			var doc struct {
				Projects []struct {
					Datasets []struct {
						ID     string `yaml:"id"`
						Tables []struct {
							ID   string           `yaml:"id"`
							Data []map[string]any `yaml:"data"`
						} `yaml:"tables"`
					} `yaml:"datasets"`
				} `yaml:"projects"`
			}
			require.NoError(t, yaml.Unmarshal(raw, &doc))
			for _, ds := range doc.Projects[0].Datasets {
				for _, tbl := range ds.Tables {
					refTables.byID[ds.ID+"."+tbl.ID] = tbl.Data
				}
			}
		}
	}
	if dataset == "" {
		dataset = "glam_etl"
	}
	data, ok := refTables.byID[dataset+"."+id]
	require.True(t, ok, "no table %s.%s in the data sets", dataset, id)
	return data
}

func str(v any) string { s, _ := v.(string); return s }

func num(v any) float64 {
	switch n := v.(type) {
	case int:
		return float64(n)
	case float64:
		return n
	case string:
		f, _ := strconv.ParseFloat(n, 64)
		return f
	}
	return 0
}

// ---- GLAM's functions, one by one ----

// glamExponentialBuckets is histogram_generate_exponential_buckets, a JS UDF:
//
//	let logMax = Math.log(max); let current = min; if (current === 0) current = 1;
//	let retArray = [0, current];
//	for (let bucketIndex = 2; bucketIndex < Math.min(nBuckets, max, 10000); bucketIndex++) {
//	  let logCurrent = Math.log(current);
//	  let logRatio = (logMax - logCurrent) / (nBuckets - bucketIndex);
//	  let nextValue = Math.round(Math.exp(logCurrent + logRatio));
//	  current = nextValue > current ? nextValue : current + 1;
//	  retArray[bucketIndex] = current; }
func glamExponentialBuckets(lo, hi, n float64) []float64 {
	logMax := math.Log(hi)
	current := lo
	if current == 0 {
		current = 1
	}
	out := []float64{0, current}
	for idx := 2.0; idx < math.Min(n, math.Min(hi, 10000)); idx++ {
		logCurrent := math.Log(current)
		next := jsMathRound(math.Exp(logCurrent + (logMax-logCurrent)/(n-idx)))
		if next > current {
			current = next
		} else {
			current++
		}
		out = append(out, current)
	}
	return out
}

// jsMathRound is JavaScript's Math.round: the nearest integer, halves up.
func jsMathRound(x float64) float64 {
	f := math.Floor(x)
	if x-f >= 0.5 {
		return f + 1
	}
	return f
}

// glamLinearBuckets is histogram_generate_linear_buckets, in SQL:
//
//	ARRAY_CONCAT([0.0], ARRAY(SELECT ROUND((GREATEST(1, min) * (nBuckets - 1 - i) + max * (i - 1)) / (nBuckets - 2))
//	  FROM UNNEST(GENERATE_ARRAY(1, LEAST(nBuckets - 1, max, 10000))) AS i))
//
// SQL's ROUND rounds halves away from zero, as math.Round.
func glamLinearBuckets(lo, hi, n float64) []float64 {
	out := []float64{0}
	last := math.Min(n-1, math.Min(hi, 10000))
	for i := 1.0; i <= last; i++ {
		out = append(out, math.Round((math.Max(1, lo)*(n-1-i)+hi*(i-1))/(n-2)))
	}
	return out
}

// glamFunctionalBuckets is histogram_generate_functional_buckets since
// bigquery-etl #9749 (July 2026), which computes bucket minimums as Glean
// does (glean-core histogram/functional.rs): exponent = POW(log_base,
// 1/buckets_per_magnitude), a double, and the bucket of index i is
// FLOAT(POW(exponent, i)), for the indexes whose bucket is at most range_max,
// plus 0. POW is a correctly rounded pow: exponent^i is computed exactly here
// (math/big) and rounded once to a double, which math.Pow does not do.
func glamFunctionalBuckets(logBase, perMagnitude int, rangeMax float64) []float64 {
	exponent := correctlyRoundedRoot(logBase, perMagnitude)
	e := new(big.Float).SetPrec(4096).SetFloat64(exponent)
	power := new(big.Float).SetPrec(4096).SetFloat64(1)
	out := []float64{0}
	for i := 0; ; i++ {
		if i > 0 {
			power.Mul(power, e)
		}
		rounded, _ := power.Float64()
		b := math.Floor(rounded)
		if b > rangeMax {
			return out
		}
		if b != out[len(out)-1] {
			out = append(out, b)
		}
	}
}

// correctlyRoundedRoot is base^(1/m) rounded to the nearest double, for m a
// power of 2 (square roots of square roots); GLAM uses m = 8 and m = 16.
func correctlyRoundedRoot(base, m int) float64 {
	x := new(big.Float).SetPrec(4096).SetInt64(int64(base))
	for k := m; k > 1; k /= 2 {
		if k%2 != 0 {
			panic("correctlyRoundedRoot: m must be a power of 2")
		}
		x.Sqrt(x)
	}
	f, _ := x.Float64()
	return f
}

// glamScalarBuckets is histogram_generate_scalar_buckets(lo, hi, n), which
// the ETL calls with n = 100: IF(lo >= hi, [], ARRAY(SELECT ROUND(POW(2,
// (hi - lo) / n * i), 2) FROM UNNEST(GENERATE_ARRAY(0, n - 1)) AS i)).
func glamScalarBuckets(lo, hi float64, n int) []float64 {
	if lo >= hi {
		return []float64{}
	}
	out := make([]float64, n)
	for i := range out {
		out[i] = math.Round(math.Pow(2, (hi-lo)/float64(n)*float64(i))*100) / 100
	}
	return out
}

// glamBucketFromValue is histogram_bucket_from_value: MAX(bucket) WHERE
// value >= bucket; ok is false for NULL.
func glamBucketFromValue(buckets []float64, value float64) (bucket float64, ok bool) {
	for _, b := range buckets {
		if value >= b && (!ok || b > bucket) {
			bucket, ok = b, true
		}
	}
	return bucket, ok
}

// glamScalarLabel is FORMAT("%.*f", 2, bucket) of a scalar bucket; a
// client's bucket is formatted after adding 0.0001, which gives the same
// label for a bucket ROUNDed to 2 decimals.
func glamScalarLabel(b float64) string { return strconv.FormatFloat(b+0.0001, 'f', 2, 64) }

// refEntry is one entry of a GLAM histogram, by its key as a string.
type refEntry struct {
	key   string
	value float64
}

// glamDirichlet is histogram_fill_buckets_dirichlet: every bucket k of the
// K buckets holds (P_k + 1/K) / (N + 1).
func glamDirichlet(buckets []string, sums map[string]float64, n int64) []refEntry {
	out := make([]refEntry, len(buckets))
	for i, k := range buckets {
		out[i] = refEntry{k, (sums[k] + 1/float64(len(buckets))) / (float64(n) + 1)}
	}
	return out
}

// glamFill is histogram_fill_buckets: every bucket, with its sum or 0.
func glamFill(buckets []string, sums map[string]float64) []refEntry {
	out := make([]refEntry, len(buckets))
	for i, k := range buckets {
		out[i] = refEntry{k, sums[k]}
	}
	return out
}

// glamRound4 is ROUND(value, 4), taken as the decimal nearest to the double.
func glamRound4(v float64) float64 {
	f, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'f', 4, 64), 64)
	return f
}

// glamNumber is how BigQuery writes a FLOAT64 in CONCAT: 0.025, 3, 39.4.
func glamNumber(v float64) string {
	if v == 0 {
		return "0"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// glamJSON is histogram_cast_json: {"key":ROUND(value, 4),…} ORDER BY
// COALESCE(SAFE_CAST(key AS FLOAT64)), key.
func glamJSON(h []refEntry) string {
	h = glamSorted(h)
	parts := make([]string, len(h))
	for i, e := range h {
		parts[i] = `"` + e.key + `":` + glamNumber(glamRound4(e.value))
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// glamSorted orders entries as GLAM's ORDER BY COALESCE(SAFE_CAST(key AS
// FLOAT64)), key: by number, labels (NULL, first in BigQuery) by text.
func glamSorted(h []refEntry) []refEntry {
	out := append([]refEntry(nil), h...)
	sort.SliceStable(out, func(i, j int) bool {
		a, errA := strconv.ParseFloat(out[i].key, 64)
		b, errB := strconv.ParseFloat(out[j].key, 64)
		switch {
		case errA == nil && errB == nil:
			return a < b
		case (errA == nil) != (errB == nil):
			return errA != nil
		default:
			return out[i].key < out[j].key
		}
	})
	return out
}

// glamPercentile is mozfun.glam.percentile(pct, histogram): with cum_sum =
// SUM(value) OVER (ORDER BY CAST(key AS FLOAT64)) / SUM(value) OVER (), the
// key of the lowest cum_sum >= pct/100; the largest key when the total is
// 0. Ties (empty buckets, equal cum_sum) are arbitrary in GLAM; README: the
// first bucket wins. ok is false when a key is not a number (the views
// compute no percentiles for booleans and labeled counters).
func glamPercentile(pct float64, h []refEntry) (at float64, ok bool) {
	h = glamSorted(h)
	keys := make([]float64, len(h))
	total := 0.0
	for i, e := range h {
		k, err := strconv.ParseFloat(e.key, 64)
		if err != nil {
			return 0, false
		}
		keys[i] = k
		total += e.value
	}
	if len(h) == 0 {
		return 0, false
	}
	if total == 0 {
		return keys[len(keys)-1], true
	}
	cum := 0.0
	for i, e := range h {
		cum += e.value
		if cum/total >= pct/100 {
			return keys[i], true
		}
	}
	return keys[len(keys)-1], true
}

// glamPercentiles is what the serving views (glam_etl.glam_*_aggregates)
// add to a row: histogram_cast_json of glam.percentile at 0.1, 1, 5, 25, 50,
// 75, 95, 99 and 99.9, over the histogram as stored, i.e. its JSON parsed
// back (histogram_cast_struct): values rounded to 4 decimals. "" (NULL)
// where there are none.
func glamPercentiles(h []refEntry) string {
	stored := make([]refEntry, len(h))
	for i, e := range h {
		stored[i] = refEntry{e.key, glamRound4(e.value)}
	}
	var out []refEntry
	for _, p := range []struct {
		label string
		pct   float64
	}{{"0.1", 0.1}, {"1", 1}, {"5", 5}, {"25", 25}, {"50", 50}, {"75", 75}, {"95", 95}, {"99", 99}, {"99.9", 99.9}} {
		at, ok := glamPercentile(p.pct, stored)
		if !ok {
			return ""
		}
		out = append(out, refEntry{p.label, at})
	}
	return glamJSON(out)
}

func formatKeys(keys []float64) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = strconv.FormatFloat(k, 'f', -1, 64)
	}
	return out
}

// glamBuildDate is the build_date of a Glean row: the date and hour a build
// id starts with (YYYYMMDDHH); README: NULL otherwise.
func glamBuildDate(buildID string) *time.Time {
	if len(buildID) < 10 {
		return nil
	}
	var parts [4]int
	for i, span := range [][2]int{{0, 4}, {4, 6}, {6, 8}, {8, 10}} {
		n, err := strconv.Atoi(buildID[span[0]:span[1]])
		if err != nil {
			return nil
		}
		parts[i] = n
	}
	if parts[1] < 1 || parts[1] > 12 || parts[2] < 1 || parts[2] > 31 || parts[3] > 23 {
		return nil
	}
	d := time.Date(parts[0], time.Month(parts[1]), parts[2], parts[3], 0, 0, 0, time.UTC)
	return &d
}

// ---- The stages of the ETL, for one build ----

// refRowKey is a GLAM row's unique key.
type refRowKey struct {
	version                                  int64
	os, build, part, metric, mtype, key, agg string
}

// refCube lists the '*' combinations of (os, build_id, part): desktop's four
// UNION ALL branches over os and build, Glean's eight over ping_type too.
func refCube(glean bool) [][3]bool {
	cube := [][3]bool{{false, false, false}, {true, false, false}, {false, true, false}, {true, true, false}}
	if glean {
		for _, c := range cube[:4] {
			cube = append(cube, [3]bool{c[0], c[1], true})
		}
	}
	return cube
}

func star(all bool, v string) string {
	if all {
		return "*"
	}
	return v
}

// refClient identifies one client row of the probe, accumulated over days.
type refClient struct {
	client, os, build, part, metric, mtype, key, agg string
	version                                          int64
	weight                                           float64
}

// refScope is what every build starts from: the channel's rows read, the
// latest version of the probe, and the builds with enough clients.
type refScope struct {
	rows     []map[string]any
	latest   int64
	buildsOK map[string]bool
}

// newRefScope reads a table as the builder's first stages do:
//   - the channel's rows within lookback_days (README: the builder reads
//     every day within lookback_days; the ETL accumulates since a client
//     first saw the version);
//   - release: desktop keeps Windows rows with sample_id % 10 = 0
//     (clients_daily_*_aggregates, sample_size 10), Glean with sample_id < 10
//     (templates/clients_daily_histogram_aggregates_v1.sql);
//   - README: the latest version is the highest version of the probe's rows
//     read (the ETL's latest_versions needs 2000 clients);
//   - a build has rows of its own with more than minBuild distinct clients
//     (build_ids: COUNT(DISTINCT client_id) > minimum_client_count); README:
//     counted over the whole table of the channel, in the versions built,
//     sampled out Windows clients included.
func newRefScope(t *testing.T, src refSource, b Build, field string, sampling bool, minBuild int64) refScope {
	t.Helper()
	all := loadTable(t, src.dataset, src.table)
	sampled := sampling && b.Channel == "release"
	read := func(r map[string]any) bool {
		return str(r["channel"]) == b.Channel && (src.since == "" || str(r["submission_date"]) >= src.since)
	}
	sc := refScope{buildsOK: map[string]bool{}}
	for _, r := range all {
		if !read(r) {
			continue
		}
		if sampled && str(r["os"]) == "Windows" {
			sid := int64(num(r["sample_id"]))
			if (!src.glean && sid%10 != 0) || (src.glean && sid >= 10) {
				continue
			}
		}
		sc.rows = append(sc.rows, r)
		if len(refEntries(r, field, b.Probe)) > 0 {
			sc.latest = max(sc.latest, int64(num(r["app_version"])))
		}
	}
	clients := map[string]map[string]bool{}
	for _, r := range all {
		if read(r) && int64(num(r["app_version"])) > sc.latest-int64(b.Versions) {
			build := str(r["app_build_id"])
			if clients[build] == nil {
				clients[build] = map[string]bool{}
			}
			clients[build][str(r["client_id"])] = true
		}
	}
	for build, cs := range clients {
		sc.buildsOK[build] = int64(len(cs)) > minBuild
	}
	return sc
}

// refEntries are a row's aggregates of the probe (matched without case),
// without keys longer than 200 characters (the desktop extract's
// CHAR_LENGTH(key) <= 200; README: the Glean extract truncates them).
func refEntries(r map[string]any, field, probe string) []map[string]any {
	var out []map[string]any
	for _, ai := range r[field].([]any) {
		a := ai.(map[string]any)
		if strings.EqualFold(str(a["metric"]), probe) && utf8.RuneCountInString(str(a["key"])) <= 200 {
			out = append(out, a)
		}
	}
	return out
}

// each calls fn for every aggregate of the probe in the rows read, in the
// versions built, with its client row.
func (sc refScope) each(src refSource, b Build, field string, weight func(r map[string]any) float64,
	fn func(c refClient, a map[string]any)) {
	for _, r := range sc.rows {
		version := int64(num(r["app_version"]))
		if version <= sc.latest-int64(b.Versions) {
			continue
		}
		for _, a := range refEntries(r, field, b.Probe) {
			part := str(a["process"])
			if src.glean {
				part = str(r["ping_type"])
			}
			fn(refClient{client: str(r["client_id"]), os: str(r["os"]), build: str(r["app_build_id"]), part: part,
				metric: str(a["metric"]), mtype: str(a["metric_type"]), key: str(a["key"]), version: version,
				weight: weight(r)}, a)
		}
	}
}

// refHistograms computes the histogram rows of a build.
func refHistograms(t *testing.T, src refSource, b Build, minBuild, minUsers int64) []Row {
	t.Helper()
	sc := newRefScope(t, src, b, "histogram_aggregates", true, minBuild)
	// The weight of a client row: 10 for sampled release Windows clients;
	// Glean from version 119 (templates/macros.sql: os = 'Windows' AND
	// app_version >= 119).
	weight := func(r map[string]any) float64 {
		if b.Channel != "release" || str(r["os"]) != "Windows" || (src.glean && num(r["app_version"]) < 119) {
			return 1
		}
		return 10
	}
	type bucketRange struct{ first, last, n float64 }
	counts := map[refClient]map[string]float64{}
	ranges := map[refClient]bucketRange{}
	keysSeen := map[string]map[string]bool{} // metric, metric_type → keys
	sc.each(src, b, "histogram_aggregates", weight, func(c refClient, a map[string]any) {
		c.agg = str(a["agg_type"])
		if counts[c] == nil {
			counts[c] = map[string]float64{}
		}
		// Accumulated over days: bucket sums (mozfun.map.sum).
		for _, vi := range a["value"].([]any) {
			v := vi.(map[string]any)
			counts[c][str(v["key"])] += num(v["value"])
			id := c.metric + "\x00" + c.mtype
			if keysSeen[id] == nil {
				keysSeen[id] = map[string]bool{}
			}
			keysSeen[id][str(v["key"])] = true
		}
		if br, ok := a["bucket_range"].(map[string]any); ok {
			ranges[c] = bucketRange{num(br["first_bucket"]), num(br["last_bucket"]), num(br["num_buckets"])}
		}
	})

	type row struct {
		p, r          map[string]float64
		users, sample float64
		rng           *bucketRange
	}
	rows := map[refRowKey]*row{}
	for c, cs := range counts {
		// histogram_normalized_sum_with_original(value, weight): each
		// client row's shares times the weight, and its raw counts.
		total := 0.0
		for _, n := range cs {
			total += n
		}
		for _, cube := range refCube(src.glean) {
			if !cube[1] && !sc.buildsOK[c.build] {
				continue
			}
			k := refRowKey{c.version, star(cube[0], c.os), star(cube[1], c.build), star(cube[2], c.part),
				c.metric, c.mtype, c.key, c.agg}
			rw := rows[k]
			if rw == nil {
				rw = &row{p: map[string]float64{}, r: map[string]float64{}}
				rows[k] = rw
			}
			if br, ok := ranges[c]; ok {
				// MAX(last_bucket), MAX(num_buckets) as the ETL; NOT GLAM
				// (no data has it): the ETL groups by first_bucket, the
				// builder takes the smallest.
				if rw.rng == nil {
					rw.rng = &bucketRange{br.first, br.last, br.n}
				}
				rw.rng.first, rw.rng.last, rw.rng.n = math.Min(rw.rng.first, br.first), math.Max(rw.rng.last, br.last), math.Max(rw.rng.n, br.n)
			}
			for key, n := range cs {
				p := 0.0
				if total > 0 {
					p = c.weight * n / total
				}
				rw.p[key] += p
				rw.r[key] += n
				rw.users += p
				// README: total_sample is Σ raw counts × weight. NOT GLAM
				// in release: glam_sample_counts_v1 and the Glean
				// view_sample_counts_v1 take SUM(count) × MAX(sample_mult)
				// of the row, with sample_mult 10 for every Windows
				// release client (Glean: whatever its version).
				rw.sample += n * c.weight
			}
		}
	}

	var out []Row
	for k, rw := range rows {
		// total_users = CAST(ROUND(SUM(record.value)) AS INT64).
		n := int64(math.Round(rw.users))
		if n <= minUsers {
			continue
		}
		var buckets []string
		id := k.metric + "\x00" + k.mtype
		switch {
		case !src.glean && k.mtype == "histogram-exponential":
			// clients_histogram_probe_counts_v1: exponential for
			// histogram-exponential, linear for every other kind.
			buckets = formatKeys(glamExponentialBuckets(rw.rng.first, rw.rng.last, rw.rng.n))
		case !src.glean:
			buckets = formatKeys(glamLinearBuckets(rw.rng.first, rw.rng.last, rw.rng.n))
		case strings.HasSuffix(k.mtype, "timing_distribution"):
			// probe_counts_v1: functional(2, 8, range_max) and (2, 16,
			// range_max), range_max the largest key seen of the metric.
			buckets = formatKeys(glamFunctionalBuckets(2, 8, refLargestKey(keysSeen[id])))
		case strings.HasSuffix(k.mtype, "memory_distribution"):
			buckets = formatKeys(glamFunctionalBuckets(2, 16, refLargestKey(keysSeen[id])))
		default:
			// labeled_counter: the labels seen (categorical_buckets).
			// README: custom distributions use the keys seen too (the ETL
			// takes the probe's range from its metadata).
			for key := range keysSeen[id] {
				buckets = append(buckets, key)
			}
		}
		// Keys outside the bucket set are left out of both histograms
		// (the fills LEFT JOIN the buckets), but count in total_users.
		hist := glamDirichlet(buckets, rw.p, n)
		nonNorm := glamFill(buckets, rw.r)
		out = append(out, refRow(src, b, k, n, int64(math.Round(rw.sample)), hist, nonNorm))
	}
	return sortRefRows(out)
}

func refLargestKey(keys map[string]bool) float64 {
	largest := 0.0
	for k := range keys {
		if n, err := strconv.ParseInt(k, 10, 64); err == nil {
			largest = math.Max(largest, float64(n))
		}
	}
	return largest
}

// refScalars computes the scalar rows of a build.
func refScalars(t *testing.T, src refSource, b Build, minBuild, minUsers int64) []Row {
	t.Helper()
	// README: Glean's scalar tables have no sample_id: every client is read,
	// at weight 1. Desktop release keeps sampled Windows clients at weight
	// 10 (clients_scalar_probe_counts_v1: user_count 10 when sampled).
	sc := newRefScope(t, src, b, "scalar_aggregates", !src.glean, minBuild)
	weight := func(r map[string]any) float64 {
		if src.glean || b.Channel != "release" || str(r["os"]) != "Windows" {
			return 1
		}
		return 10
	}
	// Accumulated over days: max of maxes, min of mins, sum of sums and of
	// counts, of trues and falses (udf merge_scalar_user_data).
	type acc struct {
		max, min, sum, count, trues, falses float64
		hasMax, hasMin, hasSum, hasCount    bool
	}
	per := map[refClient]*acc{}
	var order []refClient
	sc.each(src, b, "scalar_aggregates", weight, func(c refClient, a map[string]any) {
		x := per[c]
		if x == nil {
			x = &acc{}
			per[c] = x
			order = append(order, c)
		}
		v := num(a["value"])
		switch str(a["agg_type"]) {
		case "max":
			x.max, x.hasMax = pick(x.hasMax, x.max, v, math.Max), true
		case "min":
			x.min, x.hasMin = pick(x.hasMin, x.min, v, math.Min), true
		case "sum":
			x.sum, x.hasSum = x.sum+v, true
		case "count":
			x.count, x.hasCount = x.count+v, true
		case "true":
			x.trues += v
		case "false":
			x.falses += v
		}
	})

	// One vote per client row and client_agg_type.
	type vote struct {
		c       refClient
		agg     string
		value   float64
		numeric bool
		label   string // booleans
		samples float64
	}
	var votes []vote
	lo, hi := map[string]float64{}, map[string]float64{}
	for _, c := range order {
		x := per[c]
		if strings.Contains(c.mtype, "boolean") {
			// udf_boolean_buckets: always, never, sometimes; a client with
			// neither trues nor falses casts no vote.
			label := ""
			switch {
			case x.trues > 0 && x.falses > 0:
				label = "sometimes"
			case x.trues > 0:
				label = "always"
			case x.falses > 0:
				label = "never"
			default:
				continue
			}
			votes = append(votes, vote{c: c, agg: "", label: label, samples: x.trues + x.falses})
			continue
		}
		// avg is Σsum / Σcount.
		aggs := []struct {
			name string
			v    float64
			ok   bool
		}{{"max", x.max, x.hasMax}, {"min", x.min, x.hasMin}, {"sum", x.sum, x.hasSum},
			{"count", x.count, x.hasCount}, {"avg", x.sum / x.count, x.hasSum && x.hasCount && x.count != 0}}
		for _, a := range aggs {
			if !a.ok {
				continue
			}
			// total_sample of a numeric row is the count of pings.
			votes = append(votes, vote{c: c, agg: a.name, value: a.v, numeric: true, samples: x.count})
			// The bucket range mixes every agg type's values of the
			// metric and key: LOG(IF(MIN(value) <= 0, 1, MIN(value)), 2).
			id := c.metric + "\x00" + c.key
			if _, ok := lo[id]; !ok {
				lo[id], hi[id] = a.v, a.v
			}
			lo[id], hi[id] = math.Min(lo[id], a.v), math.Max(hi[id], a.v)
		}
	}
	log2 := func(v float64) float64 {
		if v <= 0 {
			v = 1
		}
		return math.Log2(v)
	}
	bucketsOf := map[string][]float64{}
	for id := range lo {
		bucketsOf[id] = glamScalarBuckets(log2(lo[id]), log2(hi[id]), 100)
	}

	type row struct {
		weights  map[string]float64         // label → Σ weights (desktop)
		clients  map[string]map[string]bool // label → distinct clients (Glean); "" no bucket
		users    float64
		sample   float64
		boolean  bool
		metricID string
	}
	rows := map[refRowKey]*row{}
	for _, v := range votes {
		label := v.label
		if v.numeric {
			// histogram_bucket_from_value: the largest bucket <= value;
			// NULL (no bucket) below the first.
			label = ""
			if bk, ok := glamBucketFromValue(bucketsOf[v.c.metric+"\x00"+v.c.key], v.value); ok {
				label = glamScalarLabel(bk)
			}
		}
		for _, cube := range refCube(src.glean) {
			if !cube[1] && !sc.buildsOK[v.c.build] {
				continue
			}
			k := refRowKey{v.c.version, star(cube[0], v.c.os), star(cube[1], v.c.build), star(cube[2], v.c.part),
				v.c.metric, v.c.mtype, v.c.key, v.agg}
			rw := rows[k]
			if rw == nil {
				rw = &row{weights: map[string]float64{}, clients: map[string]map[string]bool{},
					boolean: !v.numeric, metricID: v.c.metric + "\x00" + v.c.key}
				rows[k] = rw
			}
			rw.users += v.c.weight
			// README: total_sample is Σ samples × weight. NOT GLAM for
			// booleans: the extracts write 0 when client_agg_type = ''.
			rw.sample += v.samples * v.c.weight
			if label != "" {
				rw.weights[label] += v.c.weight
			}
			if rw.clients[label] == nil {
				rw.clients[label] = map[string]bool{}
			}
			rw.clients[label][v.c.client] = true
		}
	}

	var out []Row
	for k, rw := range rows {
		var buckets []string
		if rw.boolean {
			buckets = []string{"always", "never", "sometimes"}
		} else {
			for _, bk := range bucketsOf[rw.metricID] {
				buckets = append(buckets, glamScalarLabel(bk))
			}
		}
		var hist, nonNorm []refEntry
		var n int64
		if src.glean {
			// scalar_bucket_counts_v1 + probe_counts_v1: count = distinct
			// clients per bucket (README: exact, the ETL uses HLL),
			// total_users = SUM(count) over the buckets, no-bucket
			// clients included; the histogram is Dirichlet-filled, the
			// non-normalized one the counts.
			counts := map[string]float64{}
			for label, cs := range rw.clients {
				n += int64(len(cs))
				if label != "" {
					counts[label] = float64(len(cs))
				}
			}
			hist, nonNorm = glamDirichlet(buckets, counts, n), glamFill(buckets, counts)
		} else {
			// clients_scalar_probe_counts_v1: Σ user_count per bucket,
			// zero-filled, no Dirichlet; non_norm = the histogram.
			n = int64(math.Round(rw.users))
			hist, nonNorm = glamFill(buckets, rw.weights), glamFill(buckets, rw.weights)
		}
		// The extracts keep total_users > threshold. NOT GLAM for Glean:
		// the builder filters on the number of votes (rw.users), which is
		// total_users unless a client votes twice in one row.
		if rw.users <= float64(minUsers) {
			continue
		}
		out = append(out, refRow(src, b, k, n, int64(math.Round(rw.sample)), hist, nonNorm))
	}
	return sortRefRows(out)
}

func pick(has bool, acc, v float64, f func(a, b float64) float64) float64 {
	if !has {
		return v
	}
	return f(acc, v)
}

// refRow writes a GLAM row.
//   - percentiles from the stored histogram; non_norm_percentiles from the
//     stored non_norm_histogram. README: also for Glean counters, which the
//     Glean views give their percentiles instead. NOT GLAM for desktop
//     scalars, which the desktop views leave NULL.
//   - Glean rows: app_id, channel, ping_type, build_date.
func refRow(src refSource, b Build, k refRowKey, users, sample int64, hist, nonNorm []refEntry) Row {
	r := Row{Version: k.version, OS: k.os, BuildID: k.build, Metric: k.metric, MetricKey: k.key,
		MetricType: k.mtype, ClientAggType: k.agg, TotalUsers: users, TotalSample: sample,
		Histogram: glamJSON(hist), Percentiles: glamPercentiles(hist),
		NonNormHist: glamJSON(nonNorm), NonNormPercent: glamPercentiles(nonNorm)}
	if src.glean {
		r.AppID, r.Channel, r.PingType = b.AppID, b.Channel, k.part
		if k.build != "*" {
			r.BuildDate = glamBuildDate(k.build)
		}
	} else {
		r.Process = k.part
	}
	return r
}

func sortRefRows(rows []Row) []Row {
	sort.Slice(rows, func(i, j int) bool { return rowID(rows[i]) < rowID(rows[j]) })
	return rows
}

func rowID(r Row) string {
	return strings.Join([]string{strconv.FormatInt(r.Version, 10), r.OS, r.BuildID, r.Process, r.PingType,
		r.Metric, r.MetricType, r.MetricKey, r.ClientAggType}, "|")
}

// storedRows reads back every row a build of b wrote.
func storedRows(t *testing.T, pool *pgxpool.Pool, b Build) []Row {
	t.Helper()
	return rowsOf(t, pool, AggregationTable(b), b)
}

// rowsOf reads b's probe from a GLAM aggregate table or from GLAM's
// materialized view over it.
func rowsOf(t *testing.T, pool *pgxpool.Pool, relation string, b Build) []Row {
	t.Helper()
	glean := b.Product != ProductFirefox
	cols := "version, os, build_id, process, '', '', '', NULL::timestamptz"
	if glean {
		cols = "version, os, build_id, '', app_id, channel, ping_type, build_date"
	}
	rows, err := pool.Query(context.Background(), `SELECT `+cols+`, metric, metric_key, metric_type, client_agg_type,
		total_users, coalesce(total_sample, -1), coalesce(histogram, ''), coalesce(percentiles, ''),
		coalesce(non_norm_histogram, ''), coalesce(non_norm_percentiles, '')
		FROM `+relation+` WHERE metric = $1`, b.Probe)
	require.NoError(t, err)
	var out []Row
	for rows.Next() {
		var r Row
		require.NoError(t, rows.Scan(&r.Version, &r.OS, &r.BuildID, &r.Process, &r.AppID, &r.Channel, &r.PingType, &r.BuildDate,
			&r.Metric, &r.MetricKey, &r.MetricType, &r.ClientAggType, &r.TotalUsers, &r.TotalSample,
			&r.Histogram, &r.Percentiles, &r.NonNormHist, &r.NonNormPercent))
		if r.BuildDate != nil {
			utc := r.BuildDate.UTC()
			r.BuildDate = &utc
		}
		out = append(out, r)
	}
	require.NoError(t, rows.Err())
	return sortRefRows(out)
}

// The reference's functions give what GLAM ETL's own unit tests of them
// assert (bigquery-etl sql/mozfun/glam/*/udf.sql), and glam-math.md §4's
// worked examples.
func TestReferenceMathAgainstGLAMsTests(t *testing.T) {
	t.Run("histogram_generate_exponential_buckets", func(t *testing.T) {
		assert.Equal(t, []float64{0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 17, 20, 24, 29, 34, 40, 48, 57, 68, 81, 96, 114,
			135, 160, 190, 226, 268, 318, 378, 449, 533, 633, 752, 894, 1062, 1262, 1500, 1782, 2117, 2516, 2990, 3553, 4222,
			5017, 5961, 7083, 8416, 10000}, glamExponentialBuckets(0, 10000, 50))
		assert.Equal(t, []float64{0, 1, 3, 10, 32, 101, 319, 1006, 3172, 10000}, glamExponentialBuckets(0, 10000, 10))
		assert.Equal(t, []float64{0, 1, 3, 10, 32, 101, 319, 1006, 3172, 10000}, glamExponentialBuckets(1, 10000, 10))
		assert.Equal(t, []float64{0, 1, 2, 3, 5, 9, 16, 29, 54, 100}, glamExponentialBuckets(1, 100, 10))
	})
	t.Run("histogram_generate_linear_buckets", func(t *testing.T) {
		vsync := glamLinearBuckets(8, 792, 100)
		require.Len(t, vsync, 100)
		for i, b := range vsync {
			assert.Equal(t, float64(8*i), b)
		}
		assert.Equal(t, []float64{0, 1, 4, 6}, glamLinearBuckets(1, 6, 4))
		assert.Equal(t, []float64{0, 1, 7, 14, 20}, glamLinearBuckets(0, 20, 5))
		assert.Equal(t, []float64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, glamLinearBuckets(0, 16, 17))
	})
	t.Run("histogram_generate_functional_buckets", func(t *testing.T) {
		assert.Equal(t, []float64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 16, 17, 19, 20, 22, 24, 26, 29, 32, 34,
			38, 41, 45, 49, 53, 58, 64, 69, 76, 82, 90, 98, 107, 117, 128, 139, 152, 165, 181, 197, 215, 234, 256, 279, 304},
			glamFunctionalBuckets(2, 8, 305))
		memory := glamFunctionalBuckets(2, 16, 774282+1)
		for _, k := range []float64{440871, 460390, 571740, 597053, 623487, 651091, 679917, 710019, 741455, 774282} {
			assert.Contains(t, memory, k)
		}
		var powers []float64
		for _, b := range glamFunctionalBuckets(2, 16, 536870911) {
			switch b {
			case 31, 32, 1023, 1024, 32767, 32768, 65535, 65536, 268435455, 268435456:
				powers = append(powers, b)
			}
		}
		assert.Equal(t, []float64{31, 1023, 32767, 65535, 268435455}, powers)
	})
	t.Run("histogram_generate_scalar_buckets", func(t *testing.T) {
		assert.Equal(t, []float64{1, 2, 4, 8}, glamScalarBuckets(0, math.Log2(16), 4))
		assert.Equal(t, []float64{1, 1.9, 3.62, 6.9, 13.13}, glamScalarBuckets(0, math.Log2(25), 5))
		assert.Empty(t, glamScalarBuckets(10, 10, 100))
	})
	t.Run("histogram_bucket_from_value", func(t *testing.T) {
		b, ok := glamBucketFromValue([]float64{1, 2, 3}, 2.333)
		assert.True(t, ok)
		assert.Equal(t, 2.0, b)
		_, ok = glamBucketFromValue([]float64{1}, 0.99)
		assert.False(t, ok)
		b, ok = glamBucketFromValue([]float64{1, 0}, 0.99)
		assert.True(t, ok)
		assert.Equal(t, 0.0, b)
	})
	t.Run("histogram_fill_buckets_dirichlet", func(t *testing.T) {
		got := glamDirichlet([]string{"0", "1", "2"}, map[string]float64{"0": 1, "2": 2}, 2)
		assert.Equal(t, []refEntry{{"0", (1 + 1.0/3) / 3}, {"1", 1.0 / 9}, {"2", (2 + 1.0/3) / 3}}, got)
		assert.Equal(t, []refEntry{{"0", (1 + 1.0) / 3}}, glamDirichlet([]string{"0"}, map[string]float64{"0": 1, "2": 1}, 2))
		// test_minimal of the Glean probe counts: K = 4, N = 1, P_1 = 1.
		assert.Equal(t, `{"0":0.125,"1":0.625,"2":0.125,"3":0.125}`,
			glamJSON(glamDirichlet([]string{"0", "1", "2", "3"}, map[string]float64{"1": 1}, 1)))
	})
	t.Run("histogram_cast_json", func(t *testing.T) {
		assert.Equal(t, `{"0":0.1111,"1":0.6667,"2":0}`, glamJSON([]refEntry{{"0", 0.111111}, {"1", 2.0 / 3}, {"2", 0}}))
		assert.Equal(t, `{"0":0.1111,"1":0.6667,"2":0,"10":100}`,
			glamJSON([]refEntry{{"0", 0.111111}, {"1", 2.0 / 3}, {"10", 100}, {"2", 0}}))
		assert.Equal(t, `{}`, glamJSON(nil))
		assert.Equal(t, `{"always":0.5,"never":0.5}`, glamJSON([]refEntry{{"always", 0.5}, {"never", 0.5}}))
	})
	t.Run("percentile", func(t *testing.T) {
		h := []refEntry{{"0", 1}, {"2", 2}, {"3", 1}}
		for pct, want := range map[float64]float64{50: 2, 100: 3, 0: 0} {
			at, ok := glamPercentile(pct, h)
			assert.True(t, ok)
			assert.Equal(t, want, at, "pct %v", pct)
		}
		at, _ := glamPercentile(2, []refEntry{{"0", 1}, {"2", 2}, {"10", 10}, {"11", 100}})
		assert.Equal(t, 2.0, at)
		_, ok := glamPercentile(50, []refEntry{{"always", 1}})
		assert.False(t, ok, "no percentiles for labels")
	})
	t.Run("glam-math.md §4", func(t *testing.T) {
		buckets := formatKeys(glamExponentialBuckets(1, 100, 10))
		hist := glamDirichlet(buckets, map[string]float64{"1": .2, "2": .6, "3": .2, "5": .25, "9": .75, "16": .25, "29": .5, "54": .25}, 3)
		assert.Equal(t, `{"0":0.025,"1":0.075,"2":0.175,"3":0.075,"5":0.0875,"9":0.2125,"16":0.0875,"29":0.15,"54":0.0875,"100":0.025}`, glamJSON(hist))
		assert.Equal(t, `{"0.1":0,"1":0,"5":1,"25":2,"50":9,"75":29,"95":54,"99":100,"99.9":100}`, glamPercentiles(hist))
		raw := glamFill(buckets, map[string]float64{"1": 2, "2": 6, "3": 2, "5": 1, "9": 3, "16": 1, "29": 2, "54": 1})
		assert.Equal(t, `{"0.1":1,"1":1,"5":1,"25":2,"50":3,"75":9,"95":54,"99":54,"99.9":54}`, glamPercentiles(raw))
		scalar := glamScalarBuckets(0, 10, 100)
		for v, want := range map[float64]string{3: "2.83", 12: "11.31", 40: "39.40"} {
			b, ok := glamBucketFromValue(scalar, v)
			assert.True(t, ok)
			assert.Equal(t, want, glamScalarLabel(b))
		}
	})
}

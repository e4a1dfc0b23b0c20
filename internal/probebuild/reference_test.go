package probebuild

import (
	"context"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// A small reference of GLAM's ETL math, written as plain loops over the data
// set (not SQL), to compute the rows a build must write. The bucket sets,
// the Dirichlet fill and percentiles are shared with the builder; they are
// checked against hand-computed values in math_test.go.

type refSource struct {
	table string
	glean bool
}

// loadTable reads a table of testdata/probebuild/data.yaml.
func loadTable(t *testing.T, id string) []map[string]any {
	t.Helper()
	raw, err := os.ReadFile(dataSet)
	require.NoError(t, err)
	var doc struct {
		Projects []struct {
			Datasets []struct {
				Tables []struct {
					ID   string           `yaml:"id"`
					Data []map[string]any `yaml:"data"`
				} `yaml:"tables"`
			} `yaml:"datasets"`
		} `yaml:"projects"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &doc))
	for _, tbl := range doc.Projects[0].Datasets[0].Tables {
		if tbl.ID == id {
			return tbl.Data
		}
	}
	t.Fatalf("no table %s in %s", id, dataSet)
	return nil
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

// refRowKey is a GLAM row's unique key.
type refRowKey struct {
	version                                  int64
	os, build, part, metric, mtype, key, agg string
}

// combos are the wildcard combinations (os, build, part) of a family.
func combos(glean bool) [][3]bool {
	out := [][3]bool{{false, false, false}, {true, false, false}, {false, true, false}, {true, true, false}}
	if glean {
		for _, c := range out[:4] {
			out = append(out, [3]bool{c[0], c[1], true})
		}
	}
	return out
}

func wild(all bool, v string) string {
	if all {
		return "*"
	}
	return v
}

// clientRow is one client's accumulated entry of the probe.
type clientRow struct {
	client, os, build, part, metric, mtype, key, agg string
	version                                          int64
	weight                                           float64
	first, last, num                                 int64
}

// refScope is what every reference build starts from: the kept rows of a
// channel within the latest versions, and the builds with enough clients.
type refScope struct {
	rows     []map[string]any
	latest   int64
	buildsOK map[string]bool
	weight   func(r map[string]any) float64
}

func newScope(t *testing.T, src refSource, b Build, field string, minBuild int64, sampling bool) refScope {
	all := loadTable(t, src.table)
	sampled := b.Channel == "release" && sampling
	sc := refScope{buildsOK: map[string]bool{}}
	version := func(r map[string]any) int64 { return int64(num(r["app_version"])) }
	sc.weight = func(r map[string]any) float64 {
		if !sampled || str(r["os"]) != "Windows" || (src.glean && version(r) < 119) {
			return 1
		}
		return 10
	}
	for _, r := range all {
		if str(r["channel"]) != b.Channel {
			continue
		}
		if sampled && str(r["os"]) == "Windows" {
			sid := int64(num(r["sample_id"]))
			if (!src.glean && sid%10 != 0) || (src.glean && sid >= 10) {
				continue
			}
		}
		hasProbe := false
		for _, a := range r[field].([]any) {
			if strings.EqualFold(str(a.(map[string]any)["metric"]), b.Probe) {
				hasProbe = true
			}
		}
		if hasProbe {
			sc.latest = max(sc.latest, version(r))
		}
		sc.rows = append(sc.rows, r)
	}
	clients := map[string]map[string]bool{}
	for _, r := range all {
		if str(r["channel"]) == b.Channel && version(r) > sc.latest-int64(b.Versions) {
			if clients[str(r["app_build_id"])] == nil {
				clients[str(r["app_build_id"])] = map[string]bool{}
			}
			clients[str(r["app_build_id"])][str(r["client_id"])] = true
		}
	}
	for build, cs := range clients {
		sc.buildsOK[build] = int64(len(cs)) > minBuild
	}
	return sc
}

// each calls fn for every entry of the probe in the kept rows of the latest
// versions, with the client row it belongs to.
func (sc refScope) each(src refSource, b Build, field string, fn func(cr clientRow, a map[string]any)) {
	for _, r := range sc.rows {
		v := int64(num(r["app_version"]))
		if v <= sc.latest-int64(b.Versions) {
			continue
		}
		for _, ai := range r[field].([]any) {
			a := ai.(map[string]any)
			if !strings.EqualFold(str(a["metric"]), b.Probe) {
				continue
			}
			part := str(a["process"])
			if src.glean {
				part = str(r["ping_type"])
			}
			fn(clientRow{client: str(r["client_id"]), os: str(r["os"]), build: str(r["app_build_id"]), part: part,
				metric: str(a["metric"]), mtype: str(a["metric_type"]), key: str(a["key"]), version: v,
				weight: sc.weight(r)}, a)
		}
	}
}

// refHistograms computes the histogram rows of a build.
func refHistograms(t *testing.T, src refSource, b Build, minBuild, minUsers int64) []Row {
	sc := newScope(t, src, b, "histogram_aggregates", minBuild, true)
	counts := map[clientRow]map[string]float64{}
	sc.each(src, b, "histogram_aggregates", func(cr clientRow, a map[string]any) {
		cr.agg = str(a["agg_type"])
		if rng, ok := a["bucket_range"].(map[string]any); ok {
			cr.first, cr.last, cr.num = int64(num(rng["first_bucket"])), int64(num(rng["last_bucket"])), int64(num(rng["num_buckets"]))
		}
		if counts[cr] == nil {
			counts[cr] = map[string]float64{}
		}
		for _, bi := range a["value"].([]any) {
			bk := bi.(map[string]any)
			counts[cr][canonicalKey(str(bk["key"]))] += num(bk["value"])
		}
	})
	type agg struct {
		p, r             map[string]float64
		users, sample    float64
		first, last, num int64
	}
	rows := map[refRowKey]*agg{}
	seen := map[string][]bucket{}
	seenSet := map[string]map[string]bool{}
	for cr, c := range counts {
		total := 0.0
		for _, n := range c {
			total += n
		}
		id := cr.metric + "\x00" + cr.mtype
		if seenSet[id] == nil {
			seenSet[id] = map[string]bool{}
		}
		for k := range c {
			if !seenSet[id][k] {
				seenSet[id][k] = true
				seen[id] = append(seen[id], bucket{label: k, key: parseKey(k)})
			}
		}
		for _, cb := range combos(src.glean) {
			if !cb[1] && !sc.buildsOK[cr.build] {
				continue
			}
			k := refRowKey{cr.version, wild(cb[0], cr.os), wild(cb[1], cr.build), wild(cb[2], cr.part), cr.metric, cr.mtype, cr.key, cr.agg}
			a := rows[k]
			if a == nil {
				a = &agg{p: map[string]float64{}, r: map[string]float64{}, first: cr.first}
				rows[k] = a
			}
			a.first, a.last, a.num = min(a.first, cr.first), max(a.last, cr.last), max(a.num, cr.num)
			for bk, n := range c {
				p := 0.0
				if total > 0 {
					p = cr.weight * n / total
				}
				a.p[bk] += p
				a.r[bk] += n
				a.users += p
				a.sample += n * cr.weight
			}
		}
	}
	for id := range seen {
		sort.Slice(seen[id], func(i, j int) bool { return lessBucket(seen[id][i], seen[id][j]) })
	}
	var out []Row
	for k, a := range rows {
		n := int64(math.Round(a.users))
		if n <= minUsers {
			continue
		}
		var labels []bucket
		switch {
		case !src.glean && k.mtype == "histogram-exponential":
			labels = numericBuckets(exponentialBuckets(float64(a.first), float64(a.last), float64(a.num)), false)
		case !src.glean:
			labels = numericBuckets(linearBuckets(float64(a.first), float64(a.last), float64(a.num)), false)
		case strings.HasSuffix(k.mtype, "timing_distribution"):
			labels = numericBuckets(functionalBuckets(2, 8, maxKey(seen[k.metric+"\x00"+k.mtype])), false)
		case strings.HasSuffix(k.mtype, "memory_distribution"):
			labels = numericBuckets(functionalBuckets(2, 16, maxKey(seen[k.metric+"\x00"+k.mtype])), false)
		default:
			labels = seen[k.metric+"\x00"+k.mtype]
		}
		out = append(out, refRow(b, k, n, int64(math.Round(a.sample)), dirichlet(labels, a.p, n), filled(labels, a.r)))
	}
	return sortRows(out)
}

// refScalars computes the scalar rows of a build.
func refScalars(t *testing.T, src refSource, b Build, minBuild, minUsers int64) []Row {
	sc := newScope(t, src, b, "scalar_aggregates", minBuild, !src.glean)
	type acc struct{ max, min, sum, count, t, f float64 }
	per := map[clientRow]*acc{}
	sc.each(src, b, "scalar_aggregates", func(cr clientRow, a map[string]any) {
		c := per[cr]
		if c == nil {
			c = &acc{max: math.Inf(-1), min: math.Inf(1), sum: math.NaN(), count: math.NaN()}
			per[cr] = c
		}
		val := num(a["value"])
		switch str(a["agg_type"]) {
		case "max":
			c.max = math.Max(c.max, val)
		case "min":
			c.min = math.Min(c.min, val)
		case "sum":
			c.sum = nanAdd(c.sum, val)
		case "count":
			c.count = nanAdd(c.count, val)
		case "true":
			c.t += val
		case "false":
			c.f += val
		}
	})
	type vote struct {
		cr      clientRow
		agg     string
		value   float64
		label   string
		samples float64
	}
	var votes []vote
	lo, hi := map[string]float64{}, map[string]float64{}
	for cr, c := range per {
		if strings.Contains(cr.mtype, "boolean") {
			label := map[[2]bool]string{{true, false}: "always", {false, true}: "never", {true, true}: "sometimes"}[[2]bool{c.t > 0, c.f > 0}]
			votes = append(votes, vote{cr: cr, agg: "", label: label, samples: c.t + c.f, value: math.NaN()})
			continue
		}
		samples := c.count
		if math.IsNaN(samples) {
			samples = 0
		}
		for agg, v := range map[string]float64{"max": c.max, "min": c.min, "sum": c.sum, "count": c.count, "avg": c.sum / c.count} {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				continue
			}
			votes = append(votes, vote{cr: cr, agg: agg, value: v, samples: samples})
			id := cr.metric + "\x00" + cr.key
			if _, ok := lo[id]; !ok {
				lo[id], hi[id] = v, v
			}
			lo[id], hi[id] = math.Min(lo[id], v), math.Max(hi[id], v)
		}
	}
	type agg struct {
		votes, clients map[string]float64
		members        map[string]map[string]bool
		users, sample  float64
		distinct       map[string]bool
	}
	rows := map[refRowKey]*agg{}
	bucketsOf := map[string][]float64{}
	for id := range lo {
		// Values <= 0 count as 1 in the range, as in the ETL.
		log2 := func(v float64) float64 {
			if v <= 0 {
				return 0
			}
			return math.Log2(v)
		}
		bucketsOf[id] = scalarBuckets(log2(lo[id]), log2(hi[id]))
	}
	for _, v := range votes {
		label := v.label
		if !math.IsNaN(v.value) {
			label = ""
			for _, bk := range bucketsOf[v.cr.metric+"\x00"+v.cr.key] {
				if v.value >= bk {
					label = scalarLabel(bk)
				}
			}
		}
		for _, cb := range combos(src.glean) {
			if !cb[1] && !sc.buildsOK[v.cr.build] {
				continue
			}
			k := refRowKey{v.cr.version, wild(cb[0], v.cr.os), wild(cb[1], v.cr.build), wild(cb[2], v.cr.part), v.cr.metric, v.cr.mtype, v.cr.key, v.agg}
			a := rows[k]
			if a == nil {
				a = &agg{votes: map[string]float64{}, clients: map[string]float64{}, members: map[string]map[string]bool{}}
				rows[k] = a
			}
			a.users += v.cr.weight
			a.sample += v.samples * v.cr.weight
			if a.members[label] == nil {
				a.members[label] = map[string]bool{}
			}
			a.members[label][v.cr.client] = true
			if label != "" {
				a.votes[label] += v.cr.weight
			}
		}
	}
	var out []Row
	for k, a := range rows {
		if a.users <= float64(minUsers) {
			continue
		}
		labels := booleanBuckets
		if !strings.Contains(k.mtype, "boolean") {
			labels = scalarBucketLabels(bucketsOf[k.metric+"\x00"+k.key])
		}
		n := int64(math.Round(a.users))
		hist, nonNorm := filled(labels, a.votes), filled(labels, a.votes)
		if src.glean {
			n = 0
			for label, m := range a.members {
				n += int64(len(m))
				if label != "" {
					a.clients[label] = float64(len(m))
				}
			}
			hist, nonNorm = dirichlet(labels, a.clients, n), filled(labels, a.clients)
		}
		out = append(out, refRow(b, k, n, int64(math.Round(a.sample)), hist, nonNorm))
	}
	return sortRows(out)
}

func nanAdd(acc, v float64) float64 {
	if math.IsNaN(acc) {
		return v
	}
	return acc + v
}

func refRow(b Build, k refRowKey, users, sample int64, hist, nonNorm []bucket) Row {
	return newRow(b, dims{Version: k.version, OS: k.os, BuildID: k.build, Part: k.part, Metric: k.metric,
		MetricType: k.mtype, MetricKey: k.key, ClientAggType: k.agg}, users, sample, hist, nonNorm)
}

func sortRows(rows []Row) []Row {
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
	return sortRows(out)
}

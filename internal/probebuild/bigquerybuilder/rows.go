package bigquerybuilder

import (
	"context"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/civil"
)

// dims are the dimensions of a GLAM row as the queries return them, and its
// (weighted) user count.
type dims struct {
	Version       int64   `bigquery:"version"`
	OS            string  `bigquery:"os"`
	BuildID       string  `bigquery:"build_id"`
	Part          string  `bigquery:"part"`
	Metric        string  `bigquery:"metric"`
	MetricType    string  `bigquery:"metric_type"`
	MetricKey     string  `bigquery:"metric_key"`
	ClientAggType string  `bigquery:"client_agg_type"`
	Users         float64 `bigquery:"users"`
	// LatestVersion is the channel's latest version of the probe: the
	// build covers it and the Versions-1 before it.
	LatestVersion int64 `bigquery:"latest_version"`
}

// histogramResult is one row of histogramSQL: a GLAM row's dimensions and
// its per-bucket sums.
type histogramResult struct {
	dims
	TotalSample float64            `bigquery:"total_sample"`
	FirstBucket bigquery.NullInt64 `bigquery:"first_bucket"`
	LastBucket  bigquery.NullInt64 `bigquery:"last_bucket"`
	NumBuckets  bigquery.NullInt64 `bigquery:"num_buckets"`
	Buckets     []struct {
		Key string  `bigquery:"key"`
		P   float64 `bigquery:"p"`
		R   int64   `bigquery:"r"`
	} `bigquery:"buckets"`
}

// scalarResult is one row of scalarSQL: a GLAM row's dimensions, its votes
// per bucket label and the scalar bucket set of its metric and key.
type scalarResult struct {
	dims
	TotalSample float64 `bigquery:"total_sample"`
	// Counts are per bucket: Label for booleans, Bucket (its lower bound)
	// for numbers; neither for a value below the first bucket.
	Counts []struct {
		Label   bigquery.NullString  `bigquery:"label"`
		Bucket  bigquery.NullFloat64 `bigquery:"bucket"`
		Votes   float64              `bigquery:"votes"`
		Clients int64                `bigquery:"clients"`
	} `bigquery:"counts"`
	ScalarBuckets []float64 `bigquery:"scalar_buckets"`
}

func (p queryParams) withMinUsers() []bigquery.QueryParameter {
	return append(p.bigquery(), bigquery.QueryParameter{Name: "min_total_users", Value: p.minTotalUsers})
}

// collect runs sql with p's parameters and reads every row into a T.
func collect[T any](ctx context.Context, b *Builder, sql string, p queryParams, progress Progress) ([]T, error) {
	var results []T
	err := b.run(ctx, sql, p.withMinUsers(), progress, func(it *bigquery.RowIterator) error {
		var r T
		if err := it.Next(&r); err != nil {
			return err
		}
		results = append(results, r)
		return nil
	})
	return results, err
}

func (b *Builder) histograms(ctx context.Context, table string, p queryParams, progress Progress) ([]Row, []int64, error) {
	results, err := collect[histogramResult](ctx, b, familySQL(p.build, false).histogramSQL(table), p, progress)
	if err != nil {
		return nil, nil, err
	}
	return histogramRows(p.build, results), versionsOf(p.build, results, func(r histogramResult) int64 { return r.LatestVersion }), nil
}

// histogramRows turns per-bucket sums into GLAM rows: the row's bucket set,
// the Dirichlet-filled normalized histogram, the raw counts, percentiles.
func histogramRows(b Build, results []histogramResult) []Row {
	observed := observedKeys(results)
	rows := make([]Row, 0, len(results))
	for _, r := range results {
		labels := histogramBuckets(b.Product, r, observed[r.Metric+"\x00"+r.MetricType])
		p, raw := map[string]float64{}, map[string]float64{}
		for _, bk := range r.Buckets {
			label := canonicalKey(bk.Key)
			p[label] += bk.P
			raw[label] += float64(bk.R)
		}
		n := int64(math.Round(r.Users))
		hist := dirichlet(labels, p, n)
		nonNorm := filled(labels, raw)
		rows = append(rows, newRow(b, r.dims, n, int64(math.Round(r.TotalSample)), hist, nonNorm))
	}
	return rows
}

// histogramBuckets is the bucket set of a row: desktop's from the probe's
// bucket range and kind, Glean's from the metric type and the keys seen
// (GLAM's ETL takes custom distributions' ranges from probe metadata, which
// the per-client tables lack: here the keys seen are the set).
func histogramBuckets(product string, r histogramResult, seen []bucket) []bucket {
	mt := r.MetricType
	switch {
	case product == ProductFirefox && r.FirstBucket.Valid && r.LastBucket.Valid && r.NumBuckets.Valid:
		lo, hi, n := float64(r.FirstBucket.Int64), float64(r.LastBucket.Int64), float64(r.NumBuckets.Int64)
		if mt == "histogram-exponential" {
			return numericBuckets(exponentialBuckets(lo, hi, n), false)
		}
		return numericBuckets(linearBuckets(lo, hi, n), false)
	case strings.HasSuffix(mt, "timing_distribution"):
		return numericBuckets(functionalBuckets(2, 8, maxKey(seen)), false)
	case strings.HasSuffix(mt, "memory_distribution"):
		return numericBuckets(functionalBuckets(2, 16, maxKey(seen)), false)
	default:
		return seen
	}
}

// observedKeys collects, per metric and metric type, every bucket key seen
// in any row: numeric keys in numeric order, labels in lexical order.
func observedKeys(results []histogramResult) map[string][]bucket {
	sets := map[string]map[string]bool{}
	for _, r := range results {
		id := r.Metric + "\x00" + r.MetricType
		if sets[id] == nil {
			sets[id] = map[string]bool{}
		}
		for _, bk := range r.Buckets {
			sets[id][canonicalKey(bk.Key)] = true
		}
	}
	out := map[string][]bucket{}
	for id, set := range sets {
		var bs []bucket
		for label := range set {
			bs = append(bs, bucket{label: label, key: parseKey(label)})
		}
		sort.Slice(bs, func(i, j int) bool { return lessBucket(bs[i], bs[j]) })
		out[id] = bs
	}
	return out
}

func lessBucket(a, b bucket) bool {
	an, bn := !math.IsNaN(a.key), !math.IsNaN(b.key)
	switch {
	case an && bn:
		return a.key < b.key
	case an != bn:
		return an
	default:
		return a.label < b.label
	}
}

func maxKey(bs []bucket) float64 {
	m := 0.0
	for _, b := range bs {
		if !math.IsNaN(b.key) && b.key > m {
			m = b.key
		}
	}
	return m
}

// canonicalKey writes an integer bucket key as GLAM does ("007" is "7").
func canonicalKey(k string) string {
	if n, err := strconv.ParseInt(strings.TrimSpace(k), 10, 64); err == nil {
		return strconv.FormatInt(n, 10)
	}
	return k
}

func parseKey(label string) float64 {
	f, err := strconv.ParseFloat(label, 64)
	if err != nil {
		return math.NaN()
	}
	return f
}

func (b *Builder) scalars(ctx context.Context, table string, p queryParams, progress Progress) ([]Row, []int64, error) {
	results, err := collect[scalarResult](ctx, b, familySQL(p.build, true).scalarSQL(table), p, progress)
	if err != nil {
		return nil, nil, err
	}
	return scalarRows(p.build, results), versionsOf(p.build, results, func(r scalarResult) int64 { return r.LatestVersion }), nil
}

// booleanBuckets are the buckets of a boolean scalar's per-client votes.
var booleanBuckets = []bucket{{"always", math.NaN(), 0}, {"never", math.NaN(), 0}, {"sometimes", math.NaN(), 0}}

// scalarRows turns per-bucket votes into GLAM rows. Desktop: weighted client
// counts per bucket, no Dirichlet fill, non_norm equal to the histogram.
// Glean: distinct clients per bucket, Dirichlet-filled; non_norm the counts.
// A client whose value is below the first bucket counts in total_users but
// in no bucket, as in the ETL.
func scalarRows(b Build, results []scalarResult) []Row {
	glean := b.Product != ProductFirefox
	rows := make([]Row, 0, len(results))
	for _, r := range results {
		labels := booleanBuckets
		if !strings.Contains(r.MetricType, "boolean") {
			labels = scalarBucketLabels(r.ScalarBuckets)
		}
		votes, clients := map[string]float64{}, map[string]float64{}
		var distinct int64
		for _, c := range r.Counts {
			distinct += c.Clients
			label := c.Label.StringVal
			if c.Bucket.Valid {
				label = scalarLabel(c.Bucket.Float64)
			}
			if label != "" {
				votes[label] += c.Votes
				clients[label] += float64(c.Clients)
			}
		}
		n := int64(math.Round(r.Users))
		hist, nonNorm := filled(labels, votes), filled(labels, votes)
		if glean {
			n = distinct
			hist, nonNorm = dirichlet(labels, clients, n), filled(labels, clients)
		}
		rows = append(rows, newRow(b, r.dims, n, int64(math.Round(r.TotalSample)), hist, nonNorm))
	}
	return rows
}

// scalarLabel is the ETL's FORMAT('%.2f', bucket + 0.0001).
func scalarLabel(b float64) string { return strconv.FormatFloat(b+0.0001, 'f', 2, 64) }

// scalarBucketLabels labels the scalar bucket set, merging buckets that
// round alike.
func scalarBucketLabels(keys []float64) []bucket {
	out := make([]bucket, 0, len(keys))
	for _, k := range keys {
		label := scalarLabel(k)
		if len(out) > 0 && out[len(out)-1].label == label {
			continue
		}
		out = append(out, bucket{label: label, key: k})
	}
	return out
}

func newRow(b Build, d dims, users, sample int64, hist, nonNorm []bucket) Row {
	r := Row{
		Version: d.Version, OS: d.OS, BuildID: d.BuildID, Metric: d.Metric, MetricKey: d.MetricKey,
		MetricType: d.MetricType, ClientAggType: d.ClientAggType, TotalUsers: users, TotalSample: sample,
		Histogram: histogramJSON(hist), Percentiles: percentilesJSON(hist),
		NonNormHist: histogramJSON(nonNorm), NonNormPercent: percentilesJSON(nonNorm),
	}
	if b.Product == ProductFirefox {
		r.Process = d.Part
	} else {
		r.AppID, r.Channel, r.PingType, r.BuildDate = b.AppID, b.Channel, d.Part, buildDate(d.BuildID)
	}
	return r
}

// buildDate reads the date a build id starts with (YYYYMMDDHH…), as GLAM's
// build_date; nil for '*' and for ids in other formats.
func buildDate(buildID string) *time.Time {
	if len(buildID) < 10 {
		return nil
	}
	t, err := time.Parse("2006010215", buildID[:10])
	if err != nil {
		return nil
	}
	return &t
}

// versionsOf lists the versions a build covered: the latest one and the
// ones before it, Versions in all.
func versionsOf[T any](b Build, results []T, version func(T) int64) []int64 {
	var latest int64
	for _, r := range results {
		latest = max(latest, version(r))
	}
	if latest == 0 {
		return nil
	}
	out := make([]int64, 0, b.Versions)
	for v := latest; v > latest-int64(b.Versions) && v > 0; v-- {
		out = append(out, v)
	}
	return out
}

func civilDate(t time.Time) civil.Date { return civil.DateOf(t) }

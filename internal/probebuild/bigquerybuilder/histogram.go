package bigquerybuilder

import (
	"math"
	"strconv"
	"strings"
)

// bucket is one entry of a GLAM histogram: its label as GLAM's JSON shows
// it ("16", "2.83", "always", a label), its numeric key (NaN when the label
// is not a number) and its value.
type bucket struct {
	label string
	key   float64
	value float64
}

// percentilePoints are the percentiles GLAM shows.
var percentilePoints = []struct {
	label string
	p     float64
}{{"0.1", 0.1}, {"1", 1}, {"5", 5}, {"25", 25}, {"50", 50}, {"75", 75}, {"95", 95}, {"99", 99}, {"99.9", 99.9}}

// dirichlet is histogram_fill_buckets_dirichlet: with K buckets and N
// (weighted) reporting clients, bucket k holds (P_k + 1/K) / (N + 1), where
// P_k is the sum of the clients' normalized shares of bucket k.
func dirichlet(labels []bucket, sums map[string]float64, n int64) []bucket {
	k := float64(len(labels))
	out := make([]bucket, len(labels))
	for i, b := range labels {
		out[i] = bucket{label: b.label, key: b.key, value: (sums[b.label] + 1/k) / (float64(n) + 1)}
	}
	return out
}

// filled is histogram_fill_buckets: every bucket, with the sum or 0.
func filled(labels []bucket, sums map[string]float64) []bucket {
	out := make([]bucket, len(labels))
	for i, b := range labels {
		out[i] = bucket{label: b.label, key: b.key, value: sums[b.label]}
	}
	return out
}

// round4 is the rounding of GLAM's histogram JSON (4 decimals).
func round4(v float64) float64 { return math.Round(v*1e4) / 1e4 }

// histogramJSON writes h as GLAM does: an object in bucket order with values
// rounded to 4 decimals.
func histogramJSON(h []bucket) string {
	return jsonObject(len(h), func(i int) (string, float64) { return h[i].label, round4(h[i].value) })
}

// jsonObject writes {"key": number, …} in the order given.
func jsonObject(n int, entry func(i int) (string, float64)) string {
	var sb strings.Builder
	sb.WriteByte('{')
	for i := range n {
		if i > 0 {
			sb.WriteByte(',')
		}
		k, v := entry(i)
		sb.WriteString(strconv.Quote(k))
		sb.WriteByte(':')
		sb.WriteString(formatNumber(v))
	}
	sb.WriteByte('}')
	return sb.String()
}

// percentilesJSON is mozfun.glam.percentile at each of GLAM's percentiles,
// over the histogram as stored (rounded): the key of the first bucket whose
// cumulative share reaches p/100, without interpolation; the largest key
// when the histogram is empty of mass. It returns "" (NULL) when h has no
// numeric keys, as for booleans and labels, which GLAM shows no percentiles
// for.
func percentilesJSON(h []bucket) string {
	if len(h) == 0 {
		return ""
	}
	total := 0.0
	for _, b := range h {
		if math.IsNaN(b.key) {
			return ""
		}
		total += round4(b.value)
	}
	return jsonObject(len(percentilePoints), func(i int) (string, float64) {
		return percentilePoints[i].label, percentile(h, total, percentilePoints[i].p)
	})
}

func percentile(h []bucket, total, p float64) float64 {
	if total == 0 {
		return h[len(h)-1].key
	}
	cum := 0.0
	for _, b := range h {
		cum += round4(b.value)
		if cum/total >= p/100 {
			return b.key
		}
	}
	return h[len(h)-1].key
}

func formatNumber(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// numericBuckets labels a bucket set by its keys: integers as "%d" (the
// histograms), others with 2 decimals (scalar buckets).
func numericBuckets(keys []float64, decimals bool) []bucket {
	out := make([]bucket, len(keys))
	for i, k := range keys {
		label := strconv.FormatInt(int64(k), 10)
		if decimals {
			label = strconv.FormatFloat(k, 'f', 2, 64)
		}
		out[i] = bucket{label: label, key: k}
	}
	return out
}

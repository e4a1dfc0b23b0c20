package probebuild

import (
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Rows of every reference case (refCases in build_test.go), computed by hand
// from the data sets (testdata/probebuild/data.yaml, testdata/reference.yaml)
// with GLAM's definitions, the arithmetic in the comments. Nothing here is
// computed by the builder or by the reference.
//
// Notation: a client's shares p = weight × count / Σcount; P_k sums them over
// the clients of a row; N = round(ΣP) is total_users; with K buckets the
// histogram is (P_k + 1/K) / (N + 1), rounded to 4 decimals; a percentile is
// the first bucket whose cumulative value reaches p/100 of the total of the
// rounded values, written "c/total".

// handCase is what a build must write, by hand: rows (0: not checked) is the
// number of rows; want are whole rows; absent are rows not written; check
// holds assertions on rows whose whole JSON would not be worth writing out.
type handCase struct {
	rows   int
	want   []Row
	absent []string
	check  func(t *testing.T, got map[string]Row)
}

var nov1 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// handJSON writes a GLAM histogram: every key in order, with its value, or
// empty where values has none.
func handJSON(keys []string, values map[string]string, empty string) string {
	parts := make([]string, len(keys))
	for i, k := range keys {
		v, ok := values[k]
		if !ok {
			v = empty
		}
		parts[i] = `"` + k + `":` + v
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func keyRange(from, to int) []string {
	var out []string
	for k := from; k <= to; k++ {
		out = append(out, strconv.Itoa(k))
	}
	return out
}

// expBuckets10 are histogram_generate_exponential_buckets(1, 100, 10), as
// glam-math.md §4 works them out: 0, 1, then round(exp(ln cur + (ln 100 −
// ln cur)/(10 − i))), or cur + 1 where that is not above cur.
var expBuckets10 = []string{"0", "1", "2", "3", "5", "9", "16", "29", "54", "100"}

// scalarLabels1024 are the scalar buckets of values spanning 1…1024 (lo =
// log2 1 = 0, hi = log2 1024 = 10): 2^(i/10) for i = 0…99, to 2 decimals.
// 2^(i/10) = 2^k · 2^(j/10) for i = 10k + j, and the ten 2^(j/10) are
// 1, 1.0717734625, 1.1486983550, 1.2311444133, 1.3195079108, 1.4142135624,
// 1.5157165665, 1.6245047927, 1.7411011266, 1.8660659831.
func scalarLabels1024() []string {
	mantissas := []float64{1, 1.0717734625, 1.1486983550, 1.2311444133, 1.3195079108, 1.4142135624,
		1.5157165665, 1.6245047927, 1.7411011266, 1.8660659831}
	var out []string
	for k := range 10 {
		for _, m := range mantissas {
			out = append(out, strconv.FormatFloat(math.Ldexp(m, k), 'f', 2, 64))
		}
	}
	return out
}

func TestScalarLabelsByHand(t *testing.T) {
	labels := scalarLabels1024()
	require.Len(t, labels, 100)
	// Spot values of glam-math.md §4.
	assert.Equal(t, []string{"1.00", "1.07"}, labels[:2])
	assert.Equal(t, "2.83", labels[15])
	assert.Equal(t, "11.31", labels[35])
	assert.Equal(t, "39.40", labels[53])
	assert.Equal(t, "955.43", labels[99])
}

func handRows() map[string]handCase {
	labels := scalarLabels1024()
	timing17 := append(keyRange(0, 14), "16", "17")
	// histogram_generate_functional_buckets(2, 16, 31), GLAM's and Glean's:
	// e = 2^(1/16); floor(e^i) for i = 0…80 gives 1 (i ≤ 16: e^16 falls just
	// short of 2), then every integer 2…26 (steps of e^i below 1), then
	// 28 (2^(77/16) = 28.1), 29 (29.3), 30 (30.6) and 31 (e^80 = 2^5 just
	// short, floored): 27 and 32 are none. 31 keys.
	memory31 := append(keyRange(0, 26), "28", "29", "30", "31")
	// The worked example of glam-math.md §4 (A, B, C of nightly 120).
	worked := Row{Version: 120, OS: "*", BuildID: "*", Process: "parent", Metric: "gc_ms",
		MetricType: "histogram-exponential", ClientAggType: "summed_histogram", TotalUsers: 3, TotalSample: 18,
		Histogram:      `{"0":0.025,"1":0.075,"2":0.175,"3":0.075,"5":0.0875,"9":0.2125,"16":0.0875,"29":0.15,"54":0.0875,"100":0.025}`,
		Percentiles:    `{"0.1":0,"1":0,"5":1,"25":2,"50":9,"75":29,"95":54,"99":100,"99.9":100}`,
		NonNormHist:    `{"0":0,"1":2,"2":6,"3":2,"5":1,"9":3,"16":1,"29":2,"54":1,"100":0}`,
		NonNormPercent: `{"0.1":1,"1":1,"5":1,"25":2,"50":3,"75":9,"95":54,"99":54,"99.9":54}`}

	return map[string]handCase{
		// 120 parent: (Linux, B1) A; (Windows, B1) B; (Darwin, B2) C;
		// (*, B1) A B; (*, B2) C; (Linux, *) A; (Windows, *) B; (Darwin, *)
		// C; (*, *) A B C: 9. 120 content: D on B1; I alone on B4 (1
		// client, not > 1): (Linux, B1), (*, B1), (Linux, *) D I, (*, *)
		// D I: 4. 119 parent: E F on one build, 4 rows. G (117) is out.
		"desktop exponential histogram nightly": {rows: 17, want: []Row{worked,
			// D {0:4} → p {0:1}; I {3:1} → p {3:1}. P = {0:1, 3:1}, N = 2,
			// K = 10: (1 + .1)/3 = .3667, empty .1/3 = .0333; total
			// 2 × .3667 + 8 × .0333 = .9998. Cumulative: 0 .3667, 1 .4,
			// 2 .4333, 3 .8, 5 .8333, 9 .8666, 16 .8999, 29 .9332, 54 .9665,
			// 100 .9998: p25 of .9998 is .24995 → 0; p50 .4999 → 3; p75
			// .74985 → 3; p95 .94981 → 54; p99 .9898 → 100.
			// Raw {0:4, 3:1} of 5: 0 reaches .8 → p0.1…p75 0, p95… 3.
			{Version: 120, OS: "*", BuildID: "*", Process: "content", Metric: "gc_ms",
				MetricType: "histogram-exponential", ClientAggType: "summed_histogram", TotalUsers: 2, TotalSample: 5,
				Histogram:      handJSON(expBuckets10, map[string]string{"0": "0.3667", "3": "0.3667"}, "0.0333"),
				Percentiles:    `{"0.1":0,"1":0,"5":0,"25":0,"50":3,"75":3,"95":54,"99":100,"99.9":100}`,
				NonNormHist:    handJSON(expBuckets10, map[string]string{"0": "4", "3": "1"}, "0"),
				NonNormPercent: `{"0.1":0,"1":0,"5":0,"25":0,"50":0,"75":0,"95":3,"99":3,"99.9":3}`},
		},
			absent: []string{
				"120|Linux|20261103000000|content||gc_ms|histogram-exponential||summed_histogram",
				"120|*|20261103000000|content||gc_ms|histogram-exponential||summed_histogram",
			}},

		// Release keeps R1 (Windows, sample_id 0) at weight 10 and R3
		// (Linux); R2 (Windows, sample_id 3) is not sampled. B1 has R1 R2
		// R3 over the table (> 0): (Windows, B1), (Linux, B1), (*, B1),
		// (Windows, *), (Linux, *), (*, *).
		"desktop exponential histogram release, sampled Windows weighted": {rows: 6, want: []Row{
			// R1 {1:1} → p {1:10}; R3 {2:2} → p {2:1}. N = 11, K = 10:
			// 1: 10.1/12 = .8417, 2: 1.1/12 = .0917, empty .1/12 = .0083;
			// total .9998. Cumulative 0 .0083, 1 .85, 2 .9417, 3 .95,
			// 5 .9583, 9 .9666, 16 .9749, 29 .9832, 54 .9915, 100 .9998:
			// p1 (.009998) → 1; p95 (.94981) → 3; p99 (.9898) → 54;
			// p99.9 (.9988) → 100. Raw {1:1, 2:2} (not weighted) of 3:
			// 1 reaches .3333 → p0.1…p25 1, p50… 2.
			// total_sample: 1 × 10 + 2 × 1 = 12. NOT GLAM: its
			// glam_sample_counts_v1 takes SUM(count) × MAX(sample_mult) of
			// the row, (1 + 2) × 10 = 30.
			{Version: 120, OS: "*", BuildID: "*", Process: "parent", Metric: "gc_ms",
				MetricType: "histogram-exponential", ClientAggType: "summed_histogram", TotalUsers: 11, TotalSample: 12,
				Histogram:      handJSON(expBuckets10, map[string]string{"1": "0.8417", "2": "0.0917"}, "0.0083"),
				Percentiles:    `{"0.1":0,"1":1,"5":1,"25":1,"50":1,"75":1,"95":3,"99":54,"99.9":100}`,
				NonNormHist:    handJSON(expBuckets10, map[string]string{"1": "1", "2": "2"}, "0"),
				NonNormPercent: `{"0.1":1,"1":1,"5":1,"25":1,"50":2,"75":2,"95":2,"99":2,"99.9":2}`},
			// R1 alone: p {1:10}, N = 10: 1: 10.1/11 = .9182, empty .1/11 =
			// .0091; total 1.0001. Cumulative 0 .0091, 1 .9273, 2 .9364,
			// 3 .9455, 5 .9546, 9 .9637, 16 .9728, 29 .9819, 54 .991,
			// 100 1.0001: p1 (.010001) → 1; p95 (.950095) → 5; p99
			// (.990099) → 54; p99.9 → 100. Raw {1:1}: every percentile 1.
			// total_sample 1 × 10 = 10 (GLAM: 1 × 10 too).
			{Version: 120, OS: "Windows", BuildID: "*", Process: "parent", Metric: "gc_ms",
				MetricType: "histogram-exponential", ClientAggType: "summed_histogram", TotalUsers: 10, TotalSample: 10,
				Histogram:      handJSON(expBuckets10, map[string]string{"1": "0.9182"}, "0.0091"),
				Percentiles:    `{"0.1":0,"1":1,"5":1,"25":1,"50":1,"75":1,"95":5,"99":54,"99.9":100}`,
				NonNormHist:    handJSON(expBuckets10, map[string]string{"1": "1"}, "0"),
				NonNormPercent: `{"0.1":1,"1":1,"5":1,"25":1,"50":1,"75":1,"95":1,"99":1,"99.9":1}`},
		}},

		// Versions 120 and 119 only: the 13 rows of 120 and the 4 of 119.
		"desktop histogram, two versions": {rows: 17, want: []Row{worked}},

		// L1 {1:3} + {4:2} → p {1:.6, 4:.4}; L2 {0:1, 6:4} → p {0:.2,
		// 6:.8}; L3 {4:3, 5:1} → p {4:.75, 5:.25}; L4 (121, alone on its
		// build, no rows of its own) {6:1}. Linear buckets (1, 6, 4):
		// round((1·(3 − i) + 6·(i − 1))/2) for i = 1…3 → 0, 1, 4, 6 (GLAM's
		// own test). 120: (Linux, B1) L1 L3, (Windows, B1) L2, (*, B1),
		// (Linux, *), (Windows, *), (*, *); 121: (Linux, *), (*, *).
		"desktop linear histogram": {rows: 8, want: []Row{
			// P = {0:.2, 1:.6, 4:1.15, 5:.25, 6:.8}, ΣP = 3 (5 is no
			// bucket: it counts in N only). K = 4: 0 .45/4 = .1125, 1 .85/4
			// = .2125, 4 1.4/4 = .35, 6 1.05/4 = .2625; total .9375.
			// Cumulative .1125, .325, .675, .9375: p25 (.2344) → 1, p50
			// (.4688) → 4, p75 (.7031) → 6. Raw {0:1, 1:3, 4:5, 6:4} of 13
			// (5's count left out): 1/13, 4/13, 9/13, 1 → p5 0, p25 1,
			// p50 4, p75 6. total_sample 5 + 5 + 4 = 14, key 5 included.
			{Version: 120, OS: "*", BuildID: "*", Process: "parent", Metric: "checkerboard_severity",
				MetricType: "histogram-linear", ClientAggType: "summed_histogram", TotalUsers: 3, TotalSample: 14,
				Histogram:      `{"0":0.1125,"1":0.2125,"4":0.35,"6":0.2625}`,
				Percentiles:    `{"0.1":0,"1":0,"5":0,"25":1,"50":4,"75":6,"95":6,"99":6,"99.9":6}`,
				NonNormHist:    `{"0":1,"1":3,"4":5,"6":4}`,
				NonNormPercent: `{"0.1":0,"1":0,"5":0,"25":1,"50":4,"75":6,"95":6,"99":6,"99.9":6}`},
			// L4: P = {6:1}, N = 1: (0 + .25)/2 = .125, 6: 1.25/2 = .625;
			// total 1. Cumulative .125, .25, .375, 1: p25 reaches .25
			// exactly at 1, p50 → 6. Raw {6:1}: all 6.
			{Version: 121, OS: "*", BuildID: "*", Process: "parent", Metric: "checkerboard_severity",
				MetricType: "histogram-linear", ClientAggType: "summed_histogram", TotalUsers: 1, TotalSample: 1,
				Histogram:      `{"0":0.125,"1":0.125,"4":0.125,"6":0.625}`,
				Percentiles:    `{"0.1":0,"1":0,"5":0,"25":1,"50":6,"75":6,"95":6,"99":6,"99.9":6}`,
				NonNormHist:    `{"0":0,"1":0,"4":0,"6":1}`,
				NonNormPercent: `{"0.1":6,"1":6,"5":6,"25":6,"50":6,"75":6,"95":6,"99":6,"99.9":6}`},
		}},

		// min_total_users 1 drops the rows with 1 user or fewer: (120,
		// Windows, …) (L2 alone) and both 121 rows (L4). Left: (Linux, B1),
		// (Linux, *), (*, B1), (*, *) of 120.
		"desktop linear histogram, min_total_users 1": {rows: 4, want: []Row{
			// L1 + L3: P = {1:.6, 4:1.15, 5:.25}, N = 2, K = 4: 0 .25/3 =
			// .0833, 1 .85/3 = .2833, 4 1.4/3 = .4667, 6 .0833; total
			// .9166. Cumulative .0833, .3666, .8333, .9166: p5 (.0458) → 0,
			// p25 (.2292) → 1, p50 (.4583) → 4, p75 (.6875) → 4, p95
			// (.8708) → 6. Raw {1:3, 4:5} of 8: .375 at 1 → p0.1…p25 1,
			// p50… 4. total_sample 5 + 4 = 9.
			{Version: 120, OS: "Linux", BuildID: "*", Process: "parent", Metric: "checkerboard_severity",
				MetricType: "histogram-linear", ClientAggType: "summed_histogram", TotalUsers: 2, TotalSample: 9,
				Histogram:      `{"0":0.0833,"1":0.2833,"4":0.4667,"6":0.0833}`,
				Percentiles:    `{"0.1":0,"1":0,"5":0,"25":1,"50":4,"75":4,"95":6,"99":6,"99.9":6}`,
				NonNormHist:    `{"0":0,"1":3,"4":5,"6":0}`,
				NonNormPercent: `{"0.1":1,"1":1,"5":1,"25":1,"50":4,"75":4,"95":4,"99":4,"99.9":4}`},
		}, absent: []string{
			"120|Windows|*|parent||checkerboard_severity|histogram-linear||summed_histogram",
			"120|Windows|20261101000000|parent||checkerboard_severity|histogram-linear||summed_histogram",
			"121|*|*|parent||checkerboard_severity|histogram-linear||summed_histogram",
			"121|Linux|*|parent||checkerboard_severity|histogram-linear||summed_histogram",
		}},

		// lookback_days 10 on 2026-12-01 reads from 2026-11-21 on: L1's
		// second day {4:2} (its 2026-11-01 is out), L2 (11-26); L3 (11-02)
		// and L4 (10-01) are out, so the latest version is 120 and the
		// versions built are 120, 119, 118. B1 has L1 L2: 6 rows.
		"desktop linear histogram, lookback_days 10": {rows: 6, want: []Row{
			// P = {4:1, 0:.2, 6:.8}, N = 2: 0 .45/3 = .15, 1 .25/3 = .0833,
			// 4 1.25/3 = .4167, 6 1.05/3 = .35; total 1. Cumulative .15,
			// .2333, .65, 1: p5 → 0, p25 → 4, p50 → 4, p75 → 6. Raw {0:1,
			// 4:2, 6:4} of 7: 1/7, 1/7, 3/7, 1 → p5 0, p25 4, p50 6.
			// total_sample 2 + 5 = 7.
			{Version: 120, OS: "*", BuildID: "*", Process: "parent", Metric: "checkerboard_severity",
				MetricType: "histogram-linear", ClientAggType: "summed_histogram", TotalUsers: 2, TotalSample: 7,
				Histogram:      `{"0":0.15,"1":0.0833,"4":0.4167,"6":0.35}`,
				Percentiles:    `{"0.1":0,"1":0,"5":0,"25":4,"50":4,"75":6,"95":6,"99":6,"99.9":6}`,
				NonNormHist:    `{"0":1,"1":0,"4":2,"6":4}`,
				NonNormPercent: `{"0.1":0,"1":0,"5":0,"25":4,"50":6,"75":6,"95":6,"99":6,"99.9":6}`},
		}, absent: []string{"121|*|*|parent||checkerboard_severity|histogram-linear||summed_histogram"}},

		// A (Linux, B1): max 2, 3 → 3; min 1; sum 4 + 5 = 9; count 2 + 2 =
		// 4; avg 9/4 = 2.25. B (Windows, B1): max 12, 7, 9 → 12; min 1;
		// sum 1000 + 14 + 10 = 1024; count 100 + 2 + 1 = 103; avg 1024/103
		// = 9.94. C (Darwin, B2): 40, 1, 40, 1, 40. The values span 1…1024:
		// buckets 2^(i/10). 9 rows (as the histogram's parent rows) × 5
		// client_agg_types.
		"desktop scalar": {rows: 45, want: []Row{
			// Maxima 3 → 2.83 (2^1.5 = 2.828; 2^1.6 = 3.03 > 3), 12 →
			// 11.31 (2^3.5; 2^3.6 = 12.13 > 12), 40 → 39.40 (2^5.3 =
			// 39.397; 2^5.4 = 42.2). Desktop: weighted client counts, 1
			// each, no Dirichlet; non_norm the same. Cumulative 1/3 at
			// 2.83, 2/3 at 11.31, 1 at 39.40: p0.1…p25 2.83, p50 11.31,
			// p75… 39.4. total_sample 4 + 103 + 1 = 108 pings.
			// NOT GLAM: the desktop views leave non_norm_percentiles of
			// scalars NULL; the builder writes the histogram's.
			{Version: 120, OS: "*", BuildID: "*", Process: "parent", Metric: "browser_engagement_max_concurrent_tab_count",
				MetricType: "scalar", ClientAggType: "max", TotalUsers: 3, TotalSample: 108,
				Histogram:      handJSON(labels, map[string]string{"2.83": "1", "11.31": "1", "39.40": "1"}, "0"),
				Percentiles:    `{"0.1":2.83,"1":2.83,"5":2.83,"25":2.83,"50":11.31,"75":39.4,"95":39.4,"99":39.4,"99.9":39.4}`,
				NonNormHist:    handJSON(labels, map[string]string{"2.83": "1", "11.31": "1", "39.40": "1"}, "0"),
				NonNormPercent: `{"0.1":2.83,"1":2.83,"5":2.83,"25":2.83,"50":11.31,"75":39.4,"95":39.4,"99":39.4,"99.9":39.4}`},
			// avg 2.25 → 2.14 (2^1.1; 2^1.2 = 2.30 > 2.25), 9.94 → 9.85
			// (2^3.3 = 9.849; 2^3.4 = 10.56), 40 → 39.40.
			{Version: 120, OS: "*", BuildID: "*", Process: "parent", Metric: "browser_engagement_max_concurrent_tab_count",
				MetricType: "scalar", ClientAggType: "avg", TotalUsers: 3, TotalSample: 108,
				Histogram:      handJSON(labels, map[string]string{"2.14": "1", "9.85": "1", "39.40": "1"}, "0"),
				Percentiles:    `{"0.1":2.14,"1":2.14,"5":2.14,"25":2.14,"50":9.85,"75":39.4,"95":39.4,"99":39.4,"99.9":39.4}`,
				NonNormHist:    handJSON(labels, map[string]string{"2.14": "1", "9.85": "1", "39.40": "1"}, "0"),
				NonNormPercent: `{"0.1":2.14,"1":2.14,"5":2.14,"25":2.14,"50":9.85,"75":39.4,"95":39.4,"99":39.4,"99.9":39.4}`},
			// sum 9 → 8.57 (2^3.1 = 8.574), 1024 → 955.43 (2^9.9, the last
			// bucket), 40 → 39.40.
			{Version: 120, OS: "*", BuildID: "*", Process: "parent", Metric: "browser_engagement_max_concurrent_tab_count",
				MetricType: "scalar", ClientAggType: "sum", TotalUsers: 3, TotalSample: 108,
				Histogram:      handJSON(labels, map[string]string{"8.57": "1", "39.40": "1", "955.43": "1"}, "0"),
				Percentiles:    `{"0.1":8.57,"1":8.57,"5":8.57,"25":8.57,"50":39.4,"75":955.43,"95":955.43,"99":955.43,"99.9":955.43}`,
				NonNormHist:    handJSON(labels, map[string]string{"8.57": "1", "39.40": "1", "955.43": "1"}, "0"),
				NonNormPercent: `{"0.1":8.57,"1":8.57,"5":8.57,"25":8.57,"50":39.4,"75":955.43,"95":955.43,"99":955.43,"99.9":955.43}`},
		}},

		// A always (3 true), B never (2 false), C sometimes (1, 1), H
		// always (1 true); builds B1 (A B) and B2 (C H) have 2 clients
		// each: 9 rows.
		"desktop boolean scalar": {rows: 9, want: []Row{
			// Desktop: client counts, no Dirichlet, no percentiles.
			// total_sample 3 + 2 + 2 + 1 = 8. NOT GLAM: its extracts write
			// total_sample 0 for client_agg_type '' (booleans).
			{Version: 120, OS: "*", BuildID: "*", Process: "parent", Metric: "a11y_instantiated_flag",
				MetricType: "boolean", ClientAggType: "", TotalUsers: 4, TotalSample: 8,
				Histogram: `{"always":2,"never":1,"sometimes":1}`, NonNormHist: `{"always":2,"never":1,"sometimes":1}`},
		}},

		// X {1:1, 3:2} + {3:1} = {1:1, 3:3}, Y {17:1}, both Android on
		// build 2026110100, ping metrics: 8 rows, alike. Functional
		// buckets (2, 8) up to 17: floor(2^(i/8)) gives 1…8 (i ≤ 24), 8
		// (2^(25/8) = 8.7), 9, 10, 11, 12, 13, 14 (i = 26…31), 16 (i = 32),
		// 17 (2^(33/8) = 17.4); 19 > 17. 15 is none: 17 keys.
		"glean timing distribution": {rows: 8, want: func() []Row {
			// X p {1:.25, 3:.75}, Y p {17:1}: N = 2, K = 17: empty
			// (1/17)/3 = .0196, 1 (.25 + .0588)/3 = .1029, 3 (.75 +
			// .0588)/3 = .2696, 17 (1 + .0588)/3 = .3529; total 14 × .0196
			// + .7254 = .9998. Cumulative 0 .0196, 1 .1225, 2 .1421, 3
			// .4117, 4 .4313, …, 7 .4901, 8 .5097, …, 16 .6469, 17 .9998:
			// p1 (.01) → 0, p5 (.05) → 1, p25 (.24995) → 3, p50 (.4999) →
			// 8, p75 → 17. Raw {1:1, 3:3, 17:1} of 5: .2, .8, 1 → p0.1…p5
			// 1, p25…p75 3, p95… 17. total_sample 5.
			row := Row{Version: 120, OS: "*", BuildID: "*", AppID: "nightly", Channel: "nightly", PingType: "*",
				Metric: "geckoview_page_load_time", MetricType: "timing_distribution", ClientAggType: "summed_histogram",
				TotalUsers: 2, TotalSample: 5,
				Histogram:      handJSON(timing17, map[string]string{"1": "0.1029", "3": "0.2696", "17": "0.3529"}, "0.0196"),
				Percentiles:    `{"0.1":0,"1":0,"5":1,"25":3,"50":8,"75":17,"95":17,"99":17,"99.9":17}`,
				NonNormHist:    handJSON(timing17, map[string]string{"1": "1", "3": "3", "17": "1"}, "0"),
				NonNormPercent: `{"0.1":1,"1":1,"5":1,"25":3,"50":3,"75":3,"95":17,"99":17,"99.9":17}`}
			// The same on the build's own row, with its build_date.
			build := row
			build.OS, build.BuildID, build.PingType, build.BuildDate = "Android", "2026110100", "metrics", &nov1
			return []Row{row, build}
		}()},

		// X {hit:3, miss:1} → p {hit:.75, miss:.25}; Y {miss:2} → p
		// {miss:1}. N = 2, K = 2 labels: hit (.75 + .5)/3 = .4167, miss
		// (1.25 + .5)/3 = .5833. No percentiles for labels.
		"glean labeled counter": {rows: 8, want: []Row{
			{Version: 120, OS: "*", BuildID: "*", AppID: "nightly", Channel: "nightly", PingType: "*",
				Metric: "network_cache_hit", MetricType: "labeled_counter", ClientAggType: "summed_histogram",
				TotalUsers: 2, TotalSample: 6,
				Histogram: `{"hit":0.4167,"miss":0.5833}`, NonNormHist: `{"hit":3,"miss":3}`},
		}},

		// X: max 5, 2 → 5; min 2; sum 7 + 2 = 9; count 2 + 1 = 3; avg 3.
		// Y: 1, 1, 1, 1, 1. The values span 1…9: buckets 2^(i·log2(9)/100),
		// which are no round numbers; 8 rows × 5 client_agg_types.
		"glean counter": {rows: 40, check: func(t *testing.T, got map[string]Row) {
			// Maxima 5 → bucket 73 (73·log2(9)/100 = 2.3140, 2^2.3140 =
			// 4.97; bucket 74 is 5.08), 1 → 1.00. Glean: distinct clients,
			// Dirichlet with N = 2, K = 100: filled 1.01/3 = .3367, empty
			// .01/3 = .0033. total_sample 3 + 1 = 4.
			r := got["120|*|*||*|events_total_uri_count|counter||max"]
			assert.Equal(t, int64(2), r.TotalUsers)
			assert.Equal(t, int64(4), r.TotalSample)
			hist := parseHistogram(t, r.Histogram)
			require.Len(t, hist, 100)
			for k, v := range hist {
				want := 0.0033
				if k == "1.00" || k == "4.97" {
					want = 0.3367
				}
				assert.Equal(t, want, v, "bucket %s", k)
			}
			// Percentiles: the total is 2 × .3367 + 98 × .0033 = .9968;
			// 1.00 reaches .3367 (p0.1…p25); 4.97 (bucket 73) reaches
			// .3367 + 72 × .0033 + .3367 = .9110 ≥ p75 (.7476), bucket 72
			// only .5743. (p50 falls exactly on bucket 49's .4984, where
			// floating point decides: not written by hand.)
			perc := parseHistogram(t, r.Percentiles)
			for _, p := range []string{"0.1", "1", "5", "25"} {
				assert.Equal(t, 1.0, perc[p], "p%s", p)
			}
			assert.Equal(t, 4.97, perc["75"])
			// Raw: 1 client in 1.00, 1 in 4.97: p0.1…p50 1, p75… 4.97.
			assert.Equal(t, 1.0, parseHistogram(t, r.NonNormHist)["4.97"])
			assert.Equal(t, `{"0.1":1,"1":1,"5":1,"25":1,"50":1,"75":4.97,"95":4.97,"99":4.97,"99.9":4.97}`, r.NonNormPercent)
		}},

		// FOG, glam_fog_aggregation. M1 (Linux) {7:1, 31:3} → p {7:.25,
		// 31:.75}; M2 (Windows) {31:2} → p {31:1}; one build, ping
		// metrics: os {Linux, Windows, *} × build {it, *} × ping {metrics,
		// *} = 12 rows.
		"fog memory distribution": {rows: 12, want: []Row{
			// P = {7:.25, 31:1.75}, N = 2, K = 31, 1/K = .0323: empty
			// .0323/3 = .0108, 7 (.25 + .0323)/3 = .0941, 31 (1.75 +
			// .0323)/3 = .5941; total 29 × .0108 + .6882 = 1.0014.
			// Cumulative 0 .0108 (≥ p1's .010014), 1 .0216, 2 .0324,
			// 3 .0432, 4 .054 (p5: .05007), …, 7 .1697, …, 14 .2453, 15
			// .2561 (p25: .25035), …, 30 .4073, 31 1.0014: p50… 31.
			// Raw {7:1, 31:5} of 6: p0.1…p5 7, p25… 31. total_sample 6.
			{Version: 120, OS: "*", BuildID: "*", AppID: "nightly", Channel: "nightly", PingType: "*",
				Metric: "memory_total", MetricType: "memory_distribution", ClientAggType: "summed_histogram",
				TotalUsers: 2, TotalSample: 6,
				Histogram:      handJSON(memory31, map[string]string{"7": "0.0941", "31": "0.5941"}, "0.0108"),
				Percentiles:    `{"0.1":0,"1":0,"5":4,"25":15,"50":31,"75":31,"95":31,"99":31,"99.9":31}`,
				NonNormHist:    handJSON(memory31, map[string]string{"7": "1", "31": "5"}, "0"),
				NonNormPercent: `{"0.1":7,"1":7,"5":7,"25":31,"50":31,"75":31,"95":31,"99":31,"99.9":31}`},
		}},

		// C1 (Linux) {1:1, 10:3} → p {1:.25, 10:.75}; C2 (Windows) {10:1,
		// 100:1} → p {10:.5, 100:.5}. README: the buckets are the keys seen,
		// 1, 10, 100, and metric_type stays custom_distribution. 12 rows.
		"fog custom distribution": {rows: 12, want: []Row{
			// P = {1:.25, 10:1.25, 100:.5}, N = 2, K = 3: 1 (.25 + .3333)/3
			// = .1944, 10 1.5833/3 = .5278, 100 .8333/3 = .2778; total 1.
			// Cumulative .1944, .7222, 1: p5 1, p25 10, p50 10, p75 100.
			// Raw {1:1, 10:4, 100:1} of 6: .1667, .8333, 1 → p5 1, p25…p75
			// 10, p95 100.
			{Version: 120, OS: "*", BuildID: "*", AppID: "nightly", Channel: "nightly", PingType: "*",
				Metric: "fog_custom", MetricType: "custom_distribution", ClientAggType: "summed_histogram",
				TotalUsers: 2, TotalSample: 6,
				Histogram:      `{"1":0.1944,"10":0.5278,"100":0.2778}`,
				Percentiles:    `{"0.1":1,"1":1,"5":1,"25":10,"50":10,"75":100,"95":100,"99":100,"99.9":100}`,
				NonNormHist:    `{"1":1,"10":4,"100":1}`,
				NonNormPercent: `{"0.1":1,"1":1,"5":1,"25":10,"50":10,"75":10,"95":100,"99":100,"99.9":100}`},
			// C1 alone, N = 1, the same 3 buckets: 1 .5833/2 = .2917, 10
			// 1.0833/2 = .5417, 100 .3333/2 = .1667; total 1.0001.
			// Cumulative .2917, .8334, 1.0001: p25 1, p50 10, p75 10, p95
			// 100. Raw {1:1, 10:3} of 4: .25, 1 → p25 1 (reached exactly),
			// p50… 10.
			{Version: 120, OS: "Linux", BuildID: "*", AppID: "nightly", Channel: "nightly", PingType: "*",
				Metric: "fog_custom", MetricType: "custom_distribution", ClientAggType: "summed_histogram",
				TotalUsers: 1, TotalSample: 4,
				Histogram:      `{"1":0.2917,"10":0.5417,"100":0.1667}`,
				Percentiles:    `{"0.1":1,"1":1,"5":1,"25":1,"50":10,"75":10,"95":100,"99":100,"99.9":100}`,
				NonNormHist:    `{"1":1,"10":3,"100":0}`,
				NonNormPercent: `{"0.1":1,"1":1,"5":1,"25":1,"50":10,"75":10,"95":10,"99":10,"99.9":10}`},
		}},

		// min_total_users 1 drops the Linux and Windows rows (1 user
		// each): the 4 os '*' rows stay.
		"fog custom distribution, min_total_users 1": {rows: 4, absent: []string{
			"120|Linux|*||*|fog_custom|custom_distribution||summed_histogram",
			"120|Windows|2026110100||metrics|fog_custom|custom_distribution||summed_histogram",
		}},

		// Release: W1 (Windows 120, sample_id 3) kept at weight 10; W2
		// (Windows, sample_id 42) not sampled, so its key 40 widens no
		// bucket set; W3 (Windows 118, sample_id 5) kept at weight 1,
		// before 119; W4 (Linux 120) at weight 1. Keys seen 1, 2, 3:
		// functional (2, 8) up to 3 is 0, 1, 2, 3. Both builds pass the
		// release threshold 0. 120: 3 os × 2 × 2 = 12 rows; 118: 8.
		"fog timing distribution release, sampled Windows weighted from 119": {rows: 20, want: []Row{
			// W1 p {2:10}, W4 p {1:.5, 3:.5}: N = 11, K = 4: 0 .25/12 =
			// .0208, 1 .75/12 = .0625, 2 10.25/12 = .8542, 3 .0625; total 1.
			// Cumulative .0208, .0833, .9375, 1: p1 0, p5 1, p25…p75 2,
			// p95 3. Raw (unweighted) {1:1, 2:1, 3:1}: p25 1, p50 2, p75 3.
			// total_sample 1 × 10 + 2 = 12. NOT GLAM: view_sample_counts_v1
			// takes SUM(count) × MAX(sample_mult), (1 + 2) × 10 = 30.
			{Version: 120, OS: "*", BuildID: "*", AppID: "release", Channel: "release", PingType: "*",
				Metric: "fog_timing", MetricType: "timing_distribution", ClientAggType: "summed_histogram",
				TotalUsers: 11, TotalSample: 12,
				Histogram:      `{"0":0.0208,"1":0.0625,"2":0.8542,"3":0.0625}`,
				Percentiles:    `{"0.1":0,"1":0,"5":1,"25":2,"50":2,"75":2,"95":3,"99":3,"99.9":3}`,
				NonNormHist:    `{"0":0,"1":1,"2":1,"3":1}`,
				NonNormPercent: `{"0.1":1,"1":1,"5":1,"25":1,"50":2,"75":3,"95":3,"99":3,"99.9":3}`},
			// W1 alone: N = 10: 2 10.25/11 = .9318, empty .25/11 = .0227;
			// total .9999. Cumulative .0227, .0454, .9772, .9999: p5
			// (.049995) → 2, p95 (.9499) → 2, p99 (.9899) → 3.
			{Version: 120, OS: "Windows", BuildID: "*", AppID: "release", Channel: "release", PingType: "*",
				Metric: "fog_timing", MetricType: "timing_distribution", ClientAggType: "summed_histogram",
				TotalUsers: 10, TotalSample: 10,
				Histogram:      `{"0":0.0227,"1":0.0227,"2":0.9318,"3":0.0227}`,
				Percentiles:    `{"0.1":0,"1":0,"5":2,"25":2,"50":2,"75":2,"95":2,"99":3,"99.9":3}`,
				NonNormHist:    `{"0":0,"1":0,"2":1,"3":0}`,
				NonNormPercent: `{"0.1":2,"1":2,"5":2,"25":2,"50":2,"75":2,"95":2,"99":2,"99.9":2}`},
			// W3, version 118: weight 1, N = 1: 2 1.25/2 = .625, empty
			// .125; cumulative .125, .25, .875, 1: p25 1 (reached exactly),
			// p50 2, p95 3. total_sample 1. NOT GLAM: sample_mult is 10 for
			// every Windows release row, whatever the version: 10.
			{Version: 118, OS: "Windows", BuildID: "*", AppID: "release", Channel: "release", PingType: "*",
				Metric: "fog_timing", MetricType: "timing_distribution", ClientAggType: "summed_histogram",
				TotalUsers: 1, TotalSample: 1,
				Histogram:      `{"0":0.125,"1":0.125,"2":0.625,"3":0.125}`,
				Percentiles:    `{"0.1":0,"1":0,"5":0,"25":1,"50":2,"75":2,"95":3,"99":3,"99.9":3}`,
				NonNormHist:    `{"0":0,"1":0,"2":1,"3":0}`,
				NonNormPercent: `{"0.1":2,"1":2,"5":2,"25":2,"50":2,"75":2,"95":2,"99":2,"99.9":2}`},
		}},

		// B1 (Linux) always, B2 (Linux) never, B3 (Windows) sometimes, B4
		// (Windows) always; 12 rows.
		"fog boolean": {rows: 12, want: []Row{
			// Glean: distinct clients per answer, N = 4, K = 3: always
			// (2 + .3333)/5 = .4667, never and sometimes 1.3333/5 = .2667.
			// total_sample 2 + 1 + 2 + 1 = 6. NOT GLAM: 0 for booleans.
			{Version: 120, OS: "*", BuildID: "*", AppID: "nightly", Channel: "nightly", PingType: "*",
				Metric: "fog_flag", MetricType: "boolean", ClientAggType: "", TotalUsers: 4, TotalSample: 6,
				Histogram: `{"always":0.4667,"never":0.2667,"sometimes":0.2667}`, NonNormHist: `{"always":2,"never":1,"sometimes":1}`},
			// B1, B2: N = 2: always and never 1.3333/3 = .4444, sometimes
			// .3333/3 = .1111.
			{Version: 120, OS: "Linux", BuildID: "*", AppID: "nightly", Channel: "nightly", PingType: "*",
				Metric: "fog_flag", MetricType: "boolean", ClientAggType: "", TotalUsers: 2, TotalSample: 3,
				Histogram: `{"always":0.4444,"never":0.4444,"sometimes":0.1111}`, NonNormHist: `{"always":1,"never":1,"sometimes":0}`},
		}},

		// G1 (Linux): max 1, min 1, sum 2, count 2, avg 1. G2 (Windows):
		// max 12, min 4, sum 1024, count 100, avg 10.24. The values span
		// 1…1024: buckets 2^(i/10). 12 rows × 5 client_agg_types.
		"fog counter": {rows: 60, want: []Row{
			// Maxima 1 → 1.00 (bucket 0), 12 → 11.31 (bucket 35). N = 2, K
			// = 100: filled 1.01/3 = .3367, empty .01/3 = .0033; total
			// .9968. Cumulative .3367 at 1.00 (p0.1…p25), .3367 + 34 ×
			// .0033 + .3367 = .7856 at 11.31, .4489 before it (p50 .4984,
			// p75 .7476 → 11.31); then .6734 + .0033 × (i − 1) at bucket i:
			// p95 (.94696) at i = 84 (.9473; i = 83 .9440), 2^8.4 = 337.79;
			// p99 (.98683) at i = 96 (.9869), 2^9.6 = 776.05; p99.9
			// (.99580) at i = 99 (.9968; i = 98 .9935), 955.43.
			// Raw {1.00:1, 11.31:1}: .5 at 1.00 → p0.1…p50 1, p75… 11.31
			// (README: the Glean views copy the percentiles instead).
			// total_sample 2 + 100 = 102.
			{Version: 120, OS: "*", BuildID: "*", AppID: "nightly", Channel: "nightly", PingType: "*",
				Metric: "fog_counter", MetricType: "counter", ClientAggType: "max", TotalUsers: 2, TotalSample: 102,
				Histogram:      handJSON(labels, map[string]string{"1.00": "0.3367", "11.31": "0.3367"}, "0.0033"),
				Percentiles:    `{"0.1":1,"1":1,"5":1,"25":1,"50":11.31,"75":11.31,"95":337.79,"99":776.05,"99.9":955.43}`,
				NonNormHist:    handJSON(labels, map[string]string{"1.00": "1", "11.31": "1"}, "0"),
				NonNormPercent: `{"0.1":1,"1":1,"5":1,"25":1,"50":1,"75":11.31,"95":11.31,"99":11.31,"99.9":11.31}`},
		}},
	}
}

// parseHistogram reads a GLAM histogram or percentiles JSON into a map.
func parseHistogram(t *testing.T, s string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	body := strings.TrimSuffix(strings.TrimPrefix(s, "{"), "}")
	if body == "" {
		return out
	}
	for _, kv := range strings.Split(body, ",") {
		k, v, ok := strings.Cut(kv, ":")
		require.True(t, ok, "%q in %s", kv, s)
		f, err := strconv.ParseFloat(v, 64)
		require.NoError(t, err)
		out[strings.Trim(k, `"`)] = f
	}
	return out
}

package bigquerybuilder

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Expectations from GLAM ETL's own unit tests and the worked examples of
// /work/shared/notes/glam-math.md §4, computed by hand.

func TestExponentialBuckets(t *testing.T) {
	assert.Equal(t, []float64{0, 1, 2, 3, 5, 9, 16, 29, 54, 100}, exponentialBuckets(1, 100, 10))
	gc := exponentialBuckets(1, 10000, 50)
	require.Len(t, gc, 50)
	assert.Equal(t, []float64{0, 1, 2, 3, 4, 5, 6, 7, 8, 10}, gc[:10])
	assert.Equal(t, []float64{8416, 10000}, gc[48:])
}

func TestLinearBuckets(t *testing.T) {
	assert.Equal(t, []float64{0, 1, 4, 6}, linearBuckets(1, 6, 4))
	vsync := linearBuckets(8, 792, 100)
	require.Len(t, vsync, 100)
	assert.Equal(t, []float64{0, 8, 16, 24}, vsync[:4])
	assert.Equal(t, 792.0, vsync[99])
	// Boolean histograms: (1, 2, 3).
	assert.Equal(t, []float64{0, 1, 2}, linearBuckets(1, 2, 3))
}

func TestFunctionalBuckets(t *testing.T) {
	// The first keys of a Glean timing distribution (base 2, 8 buckets per
	// power of 2), as the Glean book lists them.
	got := functionalBuckets(2, 8, 20)
	assert.Equal(t, []float64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 16, 17, 19, 20}, got)

	// GLAM ETL's own unit tests of histogram_generate_functional_buckets
	// (bigquery-etl sql/mozfun/glam/, since #9749): the first 50 keys of a
	// timing distribution;
	assert.Equal(t, []float64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 16, 17, 19, 20, 22, 24, 26, 29, 32, 34,
		38, 41, 45, 49, 53, 58, 64, 69, 76, 82, 90, 98, 107, 117, 128, 139, 152, 165, 181, 197, 215, 234, 256, 279, 304},
		functionalBuckets(2, 8, 305))
	// keys a memory distribution records;
	memory := functionalBuckets(2, 16, 774282+1)
	for _, k := range []float64{440871, 460390, 571740, 597053, 623487, 651091, 679917, 710019, 741455, 774282} {
		assert.Contains(t, memory, k)
	}
	// and at 16 buckets per power of 2, every power-of-2 bucket minimum is
	// 2^n - 1, as Glean computes it (exponent 2^(1/16) raised to 16n falls
	// just short of 2^n); 2^n is no bucket.
	var powers []float64
	for _, b := range functionalBuckets(2, 16, 536870911) {
		switch b {
		case 31, 32, 1023, 1024, 32767, 32768, 65535, 65536, 268435455, 268435456:
			powers = append(powers, b)
		}
	}
	assert.Equal(t, []float64{31, 1023, 32767, 65535, 268435455}, powers)
}

func TestScalarBuckets(t *testing.T) {
	b := scalarBuckets(0, 10) // values spanning 1…1024
	require.Len(t, b, 100)
	assert.Equal(t, 1.0, b[0])
	assert.Equal(t, 1.07, b[1])
	assert.Equal(t, 2.83, b[15])
	assert.Equal(t, 11.31, b[35])
	assert.Equal(t, 955.43, b[99])
	assert.Empty(t, scalarBuckets(3, 3))
}

// The worked histogram of glam-math.md §4: three nightly clients of an
// exponential (1, 100, 10) histogram.
func TestWorkedHistogram(t *testing.T) {
	labels := numericBuckets(exponentialBuckets(1, 100, 10), false)
	p := map[string]float64{"1": .2, "2": .6, "3": .2, "5": .25, "9": .75, "16": .25, "29": .5, "54": .25}
	raw := map[string]float64{"1": 2, "2": 6, "3": 2, "5": 1, "9": 3, "16": 1, "29": 2, "54": 1}
	hist := dirichlet(labels, p, 3)
	assert.Equal(t, `{"0":0.025,"1":0.075,"2":0.175,"3":0.075,"5":0.0875,"9":0.2125,"16":0.0875,"29":0.15,"54":0.0875,"100":0.025}`,
		histogramJSON(hist))
	assert.Equal(t, `{"0.1":0,"1":0,"5":1,"25":2,"50":9,"75":29,"95":54,"99":100,"99.9":100}`, percentilesJSON(hist))
	nonNorm := filled(labels, raw)
	assert.Equal(t, `{"0":0,"1":2,"2":6,"3":2,"5":1,"9":3,"16":1,"29":2,"54":1,"100":0}`, histogramJSON(nonNorm))
	// p99 of the raw counts is a tie between 54 and 100: the first wins.
	assert.Equal(t, `{"0.1":1,"1":1,"5":1,"25":2,"50":3,"75":9,"95":54,"99":54,"99.9":54}`, percentilesJSON(nonNorm))
}

// GLAM ETL's test_minimal: K=4, N=1, P_1=1 gives .125/.625/.125/.125.
func TestDirichletMinimal(t *testing.T) {
	labels := numericBuckets([]float64{0, 1, 2, 3}, false)
	assert.Equal(t, `{"0":0.125,"1":0.625,"2":0.125,"3":0.125}`, histogramJSON(dirichlet(labels, map[string]float64{"1": 1}, 1)))
}

func TestPercentilesOfEmptyAndLabels(t *testing.T) {
	empty := filled(numericBuckets([]float64{0, 1, 5}, false), nil)
	assert.Equal(t, `{"0.1":5,"1":5,"5":5,"25":5,"50":5,"75":5,"95":5,"99":5,"99.9":5}`, percentilesJSON(empty),
		"no mass: the largest key, as mozfun.glam.percentile")
	assert.Equal(t, "", percentilesJSON(filled(booleanBuckets, map[string]float64{"always": 3})),
		"booleans have no percentiles")
	assert.True(t, math.IsNaN(parseKey("always")))
}

// The worked scalar of glam-math.md §4: maxima 3, 12 and 40 over buckets
// spanning 1…1024 land in 2.83, 11.31 and 39.40.
func TestWorkedScalarLabels(t *testing.T) {
	labels := scalarBucketLabels(scalarBuckets(0, 10))
	hist := filled(labels, map[string]float64{"2.83": 1, "11.31": 1, "39.40": 1})
	assert.Equal(t, `{"0.1":2.83,"1":2.83,"5":2.83,"25":2.83,"50":11.31,"75":39.4,"95":39.4,"99":39.4,"99.9":39.4}`,
		percentilesJSON(hist))
}

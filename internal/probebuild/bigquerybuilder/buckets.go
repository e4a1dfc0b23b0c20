package bigquerybuilder

import (
	"math"
	"math/big"
	"sort"
)

// The bucket sets GLAM's ETL gives a histogram (mozfun.glam.histogram_generate_*):
// a histogram row lists every bucket of its set, filled or not.

// maxBuckets is the ETL's cap on the size of a bucket set.
const maxBuckets = 10000

// exponentialBuckets is histogram_generate_exponential_buckets(min, max, n).
func exponentialBuckets(lo, hi, n float64) []float64 {
	cur := lo
	if cur == 0 {
		cur = 1
	}
	out := []float64{0, cur}
	logMax := math.Log(hi)
	for i := 2.0; i < math.Min(math.Min(n, hi), maxBuckets); i++ {
		logCur := math.Log(cur)
		next := jsRound(math.Exp(logCur + (logMax-logCur)/(n-i)))
		if next > cur {
			cur = next
		} else {
			cur++
		}
		out = append(out, cur)
	}
	return out
}

// linearBuckets is histogram_generate_linear_buckets(min, max, n).
func linearBuckets(lo, hi, n float64) []float64 {
	out := []float64{0}
	for i := 1.0; i <= math.Min(math.Min(n-1, hi), maxBuckets); i++ {
		out = append(out, jsRound((math.Max(1, lo)*(n-1-i)+hi*(i-1))/(n-2)))
	}
	return out
}

// functionalBuckets is histogram_generate_functional_buckets: Glean's
// timing (base 2, 8 per magnitude) and memory (base 2, 16) distributions.
// As in Glean (glean-core histogram/functional.rs) and in GLAM since
// bigquery-etl #9749, the bucket of index i is floor(e^i) with the exponent
// e = base^(1/perMagnitude) rounded to a double, not floor(base^(i/m)): at 16
// per magnitude e^(16n) falls just short of 2^n, so Glean's bucket is
// 2^n - 1, and a set with 2^n would drop those samples. e^i is computed
// exactly and rounded once, as the correctly rounded POW of BigQuery and
// Rust does; math.Pow(e, i) is off by an ulp often enough to change floors.
func functionalBuckets(base, perMagnitude, rangeMax float64) []float64 {
	seen := map[float64]bool{0: true}
	out := []float64{0}
	top := math.Ceil(math.Log(rangeMax+1) / math.Log(base) * perMagnitude)
	exponent := new(big.Float).SetPrec(256).SetFloat64(math.Pow(base, 1/perMagnitude))
	power := new(big.Float).SetPrec(256).SetFloat64(1)
	for i := 0.0; i <= top; i++ {
		if i > 0 {
			power.Mul(power, exponent)
		}
		rounded, _ := power.Float64()
		b := math.Floor(rounded)
		if b <= rangeMax && !seen[b] {
			seen[b] = true
			out = append(out, b)
		}
	}
	sort.Float64s(out)
	return out
}

// scalarBuckets is histogram_generate_scalar_buckets(lo, hi, 100): the
// series 2^((hi-lo)/100 · i), rounded to 2 decimals; empty when lo >= hi.
// As in the ETL, it starts at 1 whatever lo is.
func scalarBuckets(lo, hi float64) []float64 {
	if lo >= hi {
		return nil
	}
	step := (hi - lo) / scalarBucketCount
	out := make([]float64, 0, scalarBucketCount)
	for i := range scalarBucketCount {
		b := math.Round(math.Pow(2, step*float64(i))*100) / 100
		if len(out) == 0 || b != out[len(out)-1] {
			out = append(out, b)
		}
	}
	return out
}

const scalarBucketCount = 100

// jsRound is JavaScript's Math.round (half up), which the ETL's JS UDFs use.
func jsRound(x float64) float64 { return math.Floor(x + 0.5) }

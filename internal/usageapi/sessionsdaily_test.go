package usageapi

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stats flattens SessionStats for InDeltaMapValues.
func stats(st SessionStats) map[string]float64 {
	return map[string]float64{
		"sessions": float64(st.Sessions), "events": float64(st.Events),
		"eps.mean": st.EventsPerSession.Mean, "eps.median": st.EventsPerSession.Median, "eps.p90": st.EventsPerSession.P90,
		"dur.mean": st.DurationSeconds.Mean, "dur.median": st.DurationSeconds.Median, "dur.p90": st.DurationSeconds.P90,
		"pps.mean": st.ProbesPerSession.Mean, "pps.median": st.ProbesPerSession.Median, "pps.p90": st.ProbesPerSession.P90,
	}
}

func counts(buckets []Bucket) []int64 {
	out := make([]int64, len(buckets))
	for i, b := range buckets {
		out[i] = b.Count
	}
	return out
}

func TestSessionsDailyFromViewsMatchRawEvents(t *testing.T) {
	s := knownStore(t)
	ctx := context.Background()
	// Worked out from the known data set by hand. Day 0: s1 (6 events,
	// 10:00-10:20, probes fog/gc_ms, fog/cpu, firefox/gc_ms), s2 (4,
	// 11:00-11:30, fog/gc_ms in two processes: one probe), s3 (2,
	// 14:00-14:05, none). Day 1: s4 (5, 09:00-09:40, fog/cpu and
	// fenix/gc_ms), s5 (3, 16:00-16:10, fog/gc_ms); e18 has no session.
	// Percentiles interpolate: the p90 of 300, 1200, 1800 is
	// 1200 + 0.8 * 600.
	day0Stats := SessionStats{Sessions: 3, Events: 12,
		EventsPerSession: Distribution{Mean: 4, Median: 4, P90: 5.6},
		DurationSeconds:  Distribution{Mean: 1100, Median: 1200, P90: 1680},
		ProbesPerSession: Distribution{Mean: 4.0 / 3, Median: 1, P90: 2.6}}
	day1Stats := SessionStats{Sessions: 2, Events: 8,
		EventsPerSession: Distribution{Mean: 4, Median: 4, P90: 4.8},
		DurationSeconds:  Distribution{Mean: 1500, Median: 1500, P90: 2220},
		ProbesPerSession: Distribution{Mean: 1.5, Median: 1.5, P90: 1.9}}
	threeDays := Range{From: day0, To: at(3, "00:00")}
	for name, daily := range map[string]func(context.Context, Range) (SessionsDaily, error){"views": s.SessionsDaily, "raw": s.SessionsDailyRaw} {
		got, err := daily(ctx, threeDays)
		require.NoError(t, err, name)
		assert.Equal(t, threeDays, got.Range, name)
		require.Len(t, got.Days, 3, name)
		for i, want := range []SessionStats{day0Stats, day1Stats, {}} {
			assert.Equal(t, at(i, "00:00"), got.Days[i].Start, name)
			assert.Equal(t, at(i+1, "00:00"), got.Days[i].End, name)
			assert.InDeltaMapValues(t, stats(want), stats(got.Days[i].SessionStats), 1e-9, "%s day %d", name, i)
		}
		// Durations 300, 600, 1200, 1800, 2400 s against bounds 60, 300,
		// 600, 1800, 3600, ...: a value on a bound is in that bound's
		// bucket. Probes per session 0, 1, 1, 2, 3.
		assert.Equal(t, []int64{0, 1, 1, 2, 1, 0, 0, 0}, counts(got.DurationHistogram), name)
		assert.Equal(t, []int64{1, 2, 1, 1, 0, 0, 0, 0}, counts(got.ProbesHistogram), name)
		assert.Equal(t, 1800.0, *got.DurationHistogram[3].Le, name)
		assert.Nil(t, got.DurationHistogram[7].Le, name)
		assert.Equal(t, 20.0, *got.ProbesHistogram[6].Le, name)

		// A range inside day 1 widens to the whole day.
		got, err = daily(ctx, Range{From: at(1, "09:30"), To: at(1, "10:00")})
		require.NoError(t, err, name)
		assert.Equal(t, Range{From: at(1, "00:00"), To: at(2, "00:00")}, got.Range, name)
		require.Len(t, got.Days, 1, name)
		assert.InDeltaMapValues(t, stats(day1Stats), stats(got.Days[0].SessionStats), 1e-9, name)
		assert.Equal(t, []int64{0, 0, 1, 0, 1, 0, 0, 0}, counts(got.DurationHistogram), name)
	}

	// The days add up to the summary of their range.
	summary, err := s.SessionSummary(ctx, threeDays)
	require.NoError(t, err)
	assert.Equal(t, summary.Sessions, day0Stats.Sessions+day1Stats.Sessions)
	assert.Equal(t, summary.Events, day0Stats.Events+day1Stats.Events)

	empty, err := s.SessionsDaily(ctx, Range{From: day0.AddDate(0, 0, 10), To: day0.AddDate(0, 0, 11)})
	require.NoError(t, err)
	require.Len(t, empty.Days, 1)
	assert.Equal(t, SessionStats{}, empty.Days[0].SessionStats)
	assert.Equal(t, make([]int64, 8), counts(empty.DurationHistogram))
	assert.Equal(t, make([]int64, 8), counts(empty.ProbesHistogram))
}

func TestSessionsDailyHistogramsDoNotShareBounds(t *testing.T) {
	// The answer's bounds are copies: a caller changing one cannot move the
	// buckets of later answers.
	b := emptyBuckets(DurationBuckets)
	*b[0].Le = 1
	assert.Equal(t, 60.0, DurationBuckets[0])
	assert.Equal(t, 60.0, *emptyBuckets(DurationBuckets)[0].Le)
}

package views

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWindowSizes(t *testing.T) {
	for _, ok := range []time.Duration{time.Second, time.Minute, 15 * time.Minute, time.Hour, 6 * time.Hour, 24 * time.Hour, 7 * 24 * time.Hour} {
		assert.NoError(t, validateSize(ok), ok)
	}
	for _, bad := range []time.Duration{-time.Hour, time.Millisecond, 1500 * time.Millisecond, 7 * time.Minute, 36 * time.Hour} {
		assert.Error(t, validateSize(bad), bad)
	}
}

func TestParseReadsDurationsAsStrings(t *testing.T) {
	d, err := Parse([]byte(`{"name":"v","measure":"m","aggregation":"count","tag_keys":["a"],"window":{"session_gap":"30m","max_duration":"2h"}}`))
	require.NoError(t, err)
	assert.Equal(t, Definition{Name: "v", Measure: "m", Aggregation: AggregationCount, TagKeys: []string{"a"},
		Window: Window{SessionGap: 30 * time.Minute, MaxDuration: 2 * time.Hour}}, d)
	assert.Empty(t, d.Problems())
}

func TestParseRefusesUnknownKeysAndBadDurations(t *testing.T) {
	for body, want := range map[string]string{
		`{"name":"v","measure":"m","aggregation":"count","tagkeys":["a"],"window":{"size":"1h"}}`: "tagkeys",
		`{"name":"v","measure":"m","aggregation":"count","window":{"sise":"1h"}}`:                 "sise",
		`{"name":"v","measure":"m","aggregation":"count","window":{"size":"an hour"}}`:            "window.size",
		`{"name":"v"} {"name":"w"}`: "after the view definition",
	} {
		_, err := Parse([]byte(body))
		if assert.Error(t, err, body) {
			assert.Contains(t, err.Error(), want, body)
		}
	}
}

func TestJSONRoundTrip(t *testing.T) {
	in := Definition{Name: "v", Measure: "m", Aggregation: AggregationDistribution, Buckets: []float64{1, 10},
		Window: Window{Size: 24 * time.Hour}, MaxSeries: 5}
	b, err := json.Marshal(in)
	require.NoError(t, err)
	assert.True(t, strings.Contains(string(b), `"window":{"size":"24h"}`), string(b))
	out, err := Parse(b)
	require.NoError(t, err)
	assert.Equal(t, in, out)
}

func TestEqualAppliesDefaults(t *testing.T) {
	a := Definition{Name: "v", Measure: "m", Aggregation: AggregationCount, Window: Window{SessionGap: time.Minute}}
	b := a
	b.MaxSeries, b.Window.MaxDuration, b.TagKeys = DefaultMaxSeries, DefaultSessionMaxDuration, []string{}
	assert.True(t, Equal(a, b))
	b.TagKeys = []string{"x"}
	assert.False(t, Equal(a, b))
}

func TestMaxBytes(t *testing.T) {
	// 1 000 series in 2 live windows at 300 bytes; a distribution of 3
	// bounds adds 4 counts of 8 bytes to each.
	count := Definition{Aggregation: AggregationCount, MaxSeries: 1000, Window: Window{Size: time.Hour}}
	assert.Equal(t, int64(600_000), count.MaxBytes())
	dist := Definition{Aggregation: AggregationDistribution, Buckets: []float64{1, 2, 3}, MaxSeries: 1000, Window: Window{SessionGap: time.Minute}}
	assert.Equal(t, int64(332_000), dist.MaxBytes())
}

func TestShortDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{24 * time.Hour: "24h", 90 * time.Minute: "1h30m", 30 * time.Minute: "30m",
		90 * time.Second: "1m30s", 1500 * time.Millisecond: "1.5s", time.Hour + time.Second: "1h0m1s"} {
		assert.Equal(t, want, shortDuration(d), d)
	}
}

package usageapi

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mozilla/otelcol-glam/internal/pgschema"
	"github.com/mozilla/otelcol-glam/internal/pgtest"
	"github.com/mozilla/otelcol-glam/internal/usage"
	"github.com/mozilla/otelcol-glam/internal/usageapi/usagetest"
)

// knownDataSet is the data set every expected number below is worked out
// from; day 0 is Monday 2024-05-06.
const knownDataSet = "../../extension/glamusageextension/testdata/usage_events.csv"

var day0 = time.Date(2024, 5, 6, 0, 0, 0, 0, time.UTC)

func at(day int, clock string) time.Time {
	t, err := time.Parse("15:04", clock)
	if err != nil {
		panic(err)
	}
	return day0.AddDate(0, 0, day).Add(time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute)
}

// knownStore is a Store over a fresh database holding the known data set as
// raw events and as the default views' rows.
func knownStore(t *testing.T) *Store {
	t.Helper()
	ctx := context.Background()
	db := migratedDB(t)
	cfg := NewDefaultConfig()
	events, err := usagetest.LoadCSV(ctx, db, knownDataSet, day0, usagetest.Views(cfg.Views), usage.EventProbeView)
	require.NoError(t, err)
	require.Len(t, events, 21)
	return New(db, cfg)
}

// migratedDB is a fresh database at the latest schema.
func migratedDB(t *testing.T) *pgxpool.Pool {
	t.Helper()
	db, err := pgxpool.New(context.Background(), pgtest.NewDatabase(t))
	require.NoError(t, err)
	t.Cleanup(db.Close)
	require.NoError(t, pgschema.Migrate(context.Background(), db))
	return db
}

var twoDays = Range{From: day0, To: day0.AddDate(0, 0, 2)}

func TestTopProbesFromViewsMatchRawEvents(t *testing.T) {
	s := knownStore(t)
	ctx := context.Background()
	want := []ProbeRank{
		{"fog", "gc_ms", 6, 3}, {"fog", "cpu", 3, 2}, {"fenix", "gc_ms", 1, 1}, {"firefox", "gc_ms", 1, 1},
	}
	for name, top := range map[string]func(context.Context, TopProbesQuery) (TopProbes, error){"views": s.TopProbes, "raw": s.TopProbesRaw} {
		got, err := top(ctx, TopProbesQuery{Range: twoDays, Limit: 10})
		require.NoError(t, err, name)
		assert.Equal(t, want, got.Probes, name)
		assert.Equal(t, twoDays, got.Range, name)

		got, err = top(ctx, TopProbesQuery{Range: twoDays, Product: "fog", Limit: 1})
		require.NoError(t, err, name)
		assert.Equal(t, want[:1], got.Probes, name)

		// A range that is not whole days widens to whole hours: 10:30 on
		// day 0 to 09:30 on day 1 becomes 10:00 to 10:00, which leaves out
		// s5 (day 1, 16:00) and keeps s1's 10:01.
		got, err = top(ctx, TopProbesQuery{Range: Range{From: at(0, "10:30"), To: at(1, "09:30")}, Limit: 10})
		require.NoError(t, err, name)
		assert.Equal(t, Range{From: at(0, "10:00"), To: at(1, "10:00")}, got.Range, name)
		assert.Equal(t, []ProbeRank{{"fog", "gc_ms", 4, 2}, {"fog", "cpu", 3, 2}, {"fenix", "gc_ms", 1, 1}, {"firefox", "gc_ms", 1, 1}}, got.Probes, name)
	}
}

func TestProbeSeriesFromViewsMatchRawEvents(t *testing.T) {
	s := knownStore(t)
	ctx := context.Background()
	for name, series := range map[string]func(context.Context, SeriesQuery) (Series, error){"views": s.ProbeSeries, "raw": s.ProbeSeriesRaw} {
		got, err := series(ctx, SeriesQuery{Range: twoDays, Product: "fog", Probe: "gc_ms", Interval: Day})
		require.NoError(t, err, name)
		assert.Equal(t, []SeriesPoint{
			{Start: day0, End: at(1, "00:00"), Views: 4, Sessions: 2},
			{Start: at(1, "00:00"), End: at(2, "00:00"), Views: 2, Sessions: 1},
		}, got.Points, name)

		got, err = series(ctx, SeriesQuery{Range: Range{From: day0, To: at(1, "00:00")}, Product: "fog", Probe: "gc_ms", Interval: Hour})
		require.NoError(t, err, name)
		require.Len(t, got.Points, 24, name)
		for i, p := range got.Points {
			switch i {
			case 10, 11:
				assert.Equal(t, SeriesPoint{Start: at(0, "00:00").Add(time.Duration(i) * time.Hour), End: at(0, "00:00").Add(time.Duration(i+1) * time.Hour), Views: 2, Sessions: 1}, p, "%s hour %d", name, i)
			default:
				assert.Zero(t, p.Views+p.Sessions, "%s hour %d", name, i)
			}
		}

		// Weeks start on Monday: day 0 is one, so both days are one week.
		got, err = series(ctx, SeriesQuery{Range: Range{From: at(1, "12:00"), To: at(1, "13:00")}, Product: "fog", Probe: "gc_ms", Interval: Week})
		require.NoError(t, err, name)
		assert.Equal(t, []SeriesPoint{{Start: day0, End: day0.AddDate(0, 0, 7), Views: 6, Sessions: 3}}, got.Points, name)

		_, err = series(ctx, SeriesQuery{Range: Range{From: day0, To: day0.AddDate(0, 0, 100)}, Product: "fog", Probe: "gc_ms", Interval: Hour})
		var ie *InputError
		require.ErrorAs(t, err, &ie, name)
		assert.Contains(t, ie.Msg, "send a coarser interval", name)
	}
}

func TestSessionSummaryFromViewsMatchRawEvents(t *testing.T) {
	s := knownStore(t)
	ctx := context.Background()
	want := SessionSummary{Range: twoDays, SessionStats: SessionStats{
		Sessions: 5, Events: 20,
		EventsPerSession: Distribution{Mean: 4, Median: 4, P90: 5.6},
		DurationSeconds:  Distribution{Mean: 1260, Median: 1200, P90: 2160},
		ProbesPerSession: Distribution{Mean: 1.4, Median: 1, P90: 2.6},
	}}
	for name, summary := range map[string]func(context.Context, Range) (SessionSummary, error){"views": s.SessionSummary, "raw": s.SessionSummaryRaw} {
		got, err := summary(ctx, twoDays)
		require.NoError(t, err, name)
		assert.InDeltaMapValues(t, stats(want.SessionStats), stats(got.SessionStats), 1e-9, name)

		// Day 1 alone: s4 (5 events, 2400 s, 2 probes) and s5 (3, 600, 1).
		got, err = summary(ctx, Range{From: at(1, "00:00"), To: at(2, "00:00")})
		require.NoError(t, err, name)
		assert.Equal(t, int64(2), got.Sessions, name)
		assert.Equal(t, int64(8), got.Events, name)
		assert.InDelta(t, 1500, got.DurationSeconds.Mean, 1e-9, name)
		assert.InDelta(t, 1.5, got.ProbesPerSession.Median, 1e-9, name)
	}

	empty, err := s.SessionSummary(ctx, Range{From: day0.AddDate(0, 0, 10), To: day0.AddDate(0, 0, 11)})
	require.NoError(t, err)
	assert.Equal(t, SessionSummary{Range: Range{From: day0.AddDate(0, 0, 10), To: day0.AddDate(0, 0, 11)}}, empty)
}

func TestSessionEventsInOrder(t *testing.T) {
	s := knownStore(t)
	ctx := context.Background()
	events, more, err := s.SessionEvents(ctx, "s1", 100)
	require.NoError(t, err)
	assert.False(t, more)
	var ids, names []string
	for _, e := range events {
		ids, names = append(ids, e.ID), append(names, e.Name)
	}
	assert.Equal(t, []string{"e01", "e02", "e03", "e04", "e05", "e06"}, ids)
	assert.Equal(t, []string{"page.view", "probe.view", "probe.view", "probe.view", "probe.search", "probe.view"}, names)
	assert.Equal(t, at(0, "10:20"), events[5].Time)
	assert.Equal(t, "firefox", *events[5].Product)
	assert.Equal(t, "Windows", *events[5].OS)
	assert.Nil(t, events[0].Probe)
	assert.JSONEq(t, `{"log.record.uid":"e02","event.name":"probe.view","session.id":"s1","glam.product":"fog",
		"glam.probe.name":"gc_ms","glam.probe.process":"parent","glam.channel":"nightly","glam.os":"Linux"}`, string(events[1].Attributes))

	events, more, err = s.SessionEvents(ctx, "s1", 2)
	require.NoError(t, err)
	assert.True(t, more)
	assert.Len(t, events, 2)

	_, _, err = s.SessionEvents(ctx, "nobody", 10)
	assert.ErrorIs(t, err, ErrNotFound)
}

func TestFunnel(t *testing.T) {
	s := knownStore(t)
	ctx := context.Background()
	steps := []string{"page.view", "probe.search", "probe.view"}
	got, err := s.Funnel(ctx, FunnelQuery{Range: twoDays, Steps: steps, Within: 30 * time.Minute})
	require.NoError(t, err)
	// s1, s2, s4 go through all three; s3 only views pages; s5 has no page
	// view; the page view without a session is not in any funnel.
	assert.Equal(t, []FunnelStep{
		{Event: "page.view", Sessions: 4, Conversion: 1, Overall: 1},
		{Event: "probe.search", Sessions: 3, Conversion: 0.75, Overall: 0.75},
		{Event: "probe.view", Sessions: 3, Conversion: 1, Overall: 0.75},
	}, got.Steps)

	// Within 10 minutes s1's search (15 min after its page view) is too
	// late; s2's probe view at exactly 10 minutes still counts.
	got, err = s.Funnel(ctx, FunnelQuery{Range: twoDays, Steps: steps, Within: 10 * time.Minute})
	require.NoError(t, err)
	assert.Equal(t, []int64{4, 2, 2}, []int64{got.Steps[0].Sessions, got.Steps[1].Sessions, got.Steps[2].Sessions})

	// Order matters: a probe view then a search happens in s1 (10:01 ->
	// 10:15), s5 (16:00 -> 16:05); in s4 the view at 09:02 follows the
	// search at 09:01, and the view at 09:20 has no search after it.
	got, err = s.Funnel(ctx, FunnelQuery{Range: twoDays, Steps: []string{"probe.view", "probe.search"}, Within: 30 * time.Minute})
	require.NoError(t, err)
	assert.Equal(t, []int64{4, 2}, []int64{got.Steps[0].Sessions, got.Steps[1].Sessions})
	assert.InDelta(t, 0.5, got.Steps[1].Conversion, 1e-9)
}

func TestHotlist(t *testing.T) {
	s := knownStore(t)
	s.now = func() time.Time { return at(1, "18:00") }
	got, err := s.Hotlist(context.Background(), HotlistQuery{Days: 2, Limit: 10})
	require.NoError(t, err)
	assert.Equal(t, twoDays, got.Range)
	// fenix/gc_ms ties firefox/gc_ms on sessions and views but was viewed
	// later (day 1).
	assert.Equal(t, []HotProbe{
		{Rank: 1, Product: "fog", Probe: "gc_ms", Channel: "nightly", Sessions: 3, Views: 6, LastViewed: at(1, "00:00")},
		{Rank: 2, Product: "fog", Probe: "cpu", Channel: "nightly", Sessions: 2, Views: 3, LastViewed: at(1, "00:00")},
		{Rank: 3, Product: "fenix", Probe: "gc_ms", Channel: "release", Sessions: 1, Views: 1, LastViewed: at(1, "00:00")},
		{Rank: 4, Product: "firefox", Probe: "gc_ms", Channel: "release", Sessions: 1, Views: 1, LastViewed: day0},
	}, got.Probes)

	got, err = s.Hotlist(context.Background(), HotlistQuery{Days: 1, Product: "fog", Limit: 1})
	require.NoError(t, err)
	assert.Equal(t, []HotProbe{{Rank: 1, Product: "fog", Probe: "cpu", Channel: "nightly", Sessions: 1, Views: 2, LastViewed: at(1, "00:00")}}, got.Probes)
}

func TestViewGroupedAndFiltered(t *testing.T) {
	s := knownStore(t)
	ctx := context.Background()
	got, err := s.View(ctx, ViewQuery{Range: twoDays, View: "glam.probe_views.daily", GroupBy: []string{"glam.probe.name"},
		Filters: map[string]string{"glam.product": "fog"}, Limit: 10})
	require.NoError(t, err)
	assert.Equal(t, "sum", got.MetricType)
	require.Len(t, got.Rows, 2)
	gc, cpu := "gc_ms", "cpu"
	assert.Equal(t, map[string]*string{"glam.probe.name": &gc}, got.Rows[0].Tags)
	assert.Equal(t, int64(6), got.Rows[0].Count)
	assert.Equal(t, map[string]*string{"glam.probe.name": &cpu}, got.Rows[1].Tags)
	assert.Equal(t, int64(3), got.Rows[1].Count)

	// No grouping: one row for the whole view.
	got, err = s.View(ctx, ViewQuery{Range: twoDays, View: "glam.sessions", Limit: 10})
	require.NoError(t, err)
	require.Len(t, got.Rows, 1)
	assert.Equal(t, int64(20), got.Rows[0].Count)
	assert.Equal(t, int64(5), got.Rows[0].Windows)

	views, err := s.ListViews(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"glam.probe_sessions.daily", "glam.probe_views.daily", "glam.probe_views.hourly", "glam.session_probes", "glam.sessions"}, views)

	var ie *InputError
	_, err = s.View(ctx, ViewQuery{Range: twoDays, View: "glam.nope", Limit: 10})
	require.ErrorAs(t, err, &ie)
	assert.Equal(t, `unknown view "glam.nope": send one of "glam.probe_sessions.daily", "glam.probe_views.daily", "glam.probe_views.hourly", "glam.session_probes", "glam.sessions"`, ie.Msg)
	_, err = s.View(ctx, ViewQuery{Range: twoDays, View: "glam.sessions", GroupBy: []string{"glam.os"}, Limit: 10})
	require.ErrorAs(t, err, &ie)
	assert.Equal(t, `view "glam.sessions" has no tag "glam.os": its tags are "session.id"`, ie.Msg)
}

func TestGLAMUsage(t *testing.T) {
	s := knownStore(t)
	ctx := context.Background()
	from, to := day0, day0.AddDate(0, 0, 2)
	q := GLAMUsageQuery{From: &from, To: &to, Fields: []string{"probe_name"}, Count: true, MaxRows: 100}
	require.True(t, q.ViewAnswers())
	got, err := s.GLAMUsage(ctx, q)
	require.NoError(t, err)
	assert.Equal(t, []map[string]any{{"probe_name": "gc_ms", "total": int64(8)}, {"probe_name": "cpu", "total": int64(3)}}, got)

	// The same count from raw events (a time not on the hour), and by
	// product through the context.
	q.Product, q.Fields = "fog", []string{"context__product", "probe_name"}
	t1 := to.Add(-time.Second)
	q.To = &t1
	require.False(t, q.ViewAnswers())
	got, err = s.GLAMUsage(ctx, q)
	require.NoError(t, err)
	assert.Equal(t, []map[string]any{
		{"context__product": "fog", "probe_name": "gc_ms", "total": int64(6)},
		{"context__product": "fog", "probe_name": "cpu", "total": int64(3)},
	}, got)

	// Individual rows of day 1, GLAM's default fields, in time order.
	d1 := day0.AddDate(0, 0, 1)
	got, err = s.GLAMUsage(ctx, GLAMUsageQuery{From: &d1, To: &to, MaxRows: 100})
	require.NoError(t, err)
	assert.Equal(t, []map[string]any{
		{"action_type": "PROBE_SEARCH", "timestamp": "2024-05-07T09:02:00Z", "probe_name": "cpu"},
		{"action_type": "PROBE_SEARCH", "timestamp": "2024-05-07T09:20:00Z", "probe_name": "gc_ms"},
		{"action_type": "PROBE_SEARCH", "timestamp": "2024-05-07T09:40:00Z", "probe_name": "cpu"},
		{"action_type": "PROBE_SEARCH", "timestamp": "2024-05-07T16:00:00Z", "probe_name": "gc_ms"},
		{"action_type": "PROBE_SEARCH", "timestamp": "2024-05-07T16:10:00Z", "probe_name": "gc_ms"},
	}, got)

	// Context and tracking id of one searched probe; other actions by name.
	got, err = s.GLAMUsage(ctx, GLAMUsageQuery{From: &d1, To: &to, ActionType: "probe.search", Fields: []string{"id", "tracking_id", "context"}, MaxRows: 100})
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.Equal(t, map[string]any{"id": "e14", "tracking_id": "s4", "context": map[string]any{"product": "fog"}}, got[0])
	got, err = s.GLAMUsage(ctx, GLAMUsageQuery{From: &d1, To: &to, Fields: []string{"context"}, MaxRows: 100})
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"product": "fog", "probe": "cpu", "process": "parent", "channel": "nightly", "os": "Linux"}, got[0]["context"])

	_, err = s.GLAMUsage(ctx, GLAMUsageQuery{From: &d1, To: &to, ActionType: "*", MaxRows: 3})
	var ie *InputError
	require.ErrorAs(t, err, &ie)
	assert.Contains(t, ie.Msg, "more than 3 rows match")
	_, err = s.GLAMUsage(ctx, GLAMUsageQuery{Fields: []string{"probe"}, MaxRows: 3})
	require.ErrorAs(t, err, &ie)
	assert.Contains(t, ie.Msg, `unknown field "probe"`)
}

func TestStatus(t *testing.T) {
	s := knownStore(t)
	s.now = func() time.Time { return at(1, "16:20") }
	got, err := s.Status(context.Background())
	require.NoError(t, err)
	last := at(1, "16:10")
	assert.Equal(t, Status{
		Time: at(1, "16:20"), ActiveSessions: 1, ActiveWithin: "30m0s", LastEventTime: &last,
		EventsToday: 9, SchemaVersion: pgschema.Latest(),
	}, got)
	s.now = func() time.Time { return at(1, "17:00") }
	got, err = s.Status(context.Background())
	require.NoError(t, err)
	assert.Zero(t, got.ActiveSessions)
}

// A session longer than the default views' 24 hours (a session view with a
// longer max_duration) is active while its last event is recent: nothing
// assumes how long sessions last.
func TestStatusCountsLongSessions(t *testing.T) {
	s := knownStore(t)
	now := at(3, "12:00")
	s.now = func() time.Time { return now }
	_, err := s.db.Exec(context.Background(), `INSERT INTO `+rowsTable+` (view, window_start, tags_hash, tags, window_end, metric_type, count, sum)
		VALUES ($1, $2, '\x0a', '{"session.id":"marathon"}', $3, 'sum', 900, 900)`,
		s.cfg.Views.Sessions, now.Add(-40*time.Hour), now.Add(-10*time.Minute))
	require.NoError(t, err)
	got, err := s.Status(context.Background())
	require.NoError(t, err)
	assert.Equal(t, int64(1), got.ActiveSessions, "started 40 hours ago, last event 10 minutes ago")
}

func TestInputErrorIsAnError(t *testing.T) {
	var err error = inputErrorf("send %s", "x")
	var ie *InputError
	assert.True(t, errors.As(err, &ie))
	assert.Equal(t, "send x", err.Error())
}

func TestViewDistributionAndLastValue(t *testing.T) {
	s := knownStore(t)
	ctx := context.Background()
	_, err := s.db.Exec(ctx, `INSERT INTO `+rowsTable+`
		(view, window_start, tags_hash, tags, window_end, metric_type, count, sum, bucket_bounds, bucket_counts, min, max, last_value, last_value_time)
	VALUES
		('t.latency', $1, '\x01', '{"glam.product":"fog"}', $2, 'histogram', 3, 120, '{10,100}', '{1,2,0}', 5, 60, NULL, NULL),
		('t.latency', $2, '\x01', '{"glam.product":"fog"}', $3, 'histogram', 2, 400, '{10,100}', '{0,1,1}', 50, 350, NULL, NULL),
		('t.latency', $2, '\x02', '{"glam.product":"fenix"}', $3, 'histogram', 1, 1, '{10,100}', '{1,0,0}', 1, 1, NULL, NULL),
		('t.version', $1, '\x01', '{"glam.product":"fog"}', $2, 'gauge', 0, 0, NULL, NULL, NULL, NULL, 124, $4),
		('t.version', $2, '\x01', '{"glam.product":"fog"}', $3, 'gauge', 0, 0, NULL, NULL, NULL, NULL, 125, $5)`,
		day0, day0.AddDate(0, 0, 1), day0.AddDate(0, 0, 2), at(0, "12:00"), at(1, "08:00"))
	require.NoError(t, err)

	got, err := s.View(ctx, ViewQuery{Range: twoDays, View: "t.latency", GroupBy: []string{"glam.product"}, Limit: 10})
	require.NoError(t, err)
	assert.Equal(t, "histogram", got.MetricType)
	require.Len(t, got.Rows, 2)
	fog := got.Rows[0]
	assert.Equal(t, "fog", *fog.Tags["glam.product"])
	assert.Equal(t, int64(5), fog.Count)
	assert.Equal(t, 520.0, fog.Sum)
	assert.Equal(t, 5.0, *fog.Min)
	assert.Equal(t, 350.0, *fog.Max)
	ten, hundred := 10.0, 100.0
	assert.Equal(t, []Bucket{{Le: &ten, Count: 1}, {Le: &hundred, Count: 3}, {Le: nil, Count: 1}}, fog.Buckets)
	assert.Equal(t, []Bucket{{Le: &ten, Count: 1}, {Le: &hundred, Count: 0}, {Le: nil, Count: 0}}, got.Rows[1].Buckets)

	// Filtered to fog, without grouping: the same sums in one row.
	got, err = s.View(ctx, ViewQuery{Range: twoDays, View: "t.latency", Filters: map[string]string{"glam.product": "fog"}, Limit: 10})
	require.NoError(t, err)
	require.Len(t, got.Rows, 1)
	assert.Equal(t, fog.Buckets, got.Rows[0].Buckets)
	assert.Equal(t, int64(2), got.Rows[0].Windows)

	got, err = s.View(ctx, ViewQuery{Range: twoDays, View: "t.version", Limit: 10})
	require.NoError(t, err)
	assert.Equal(t, "gauge", got.MetricType)
	require.Len(t, got.Rows, 1)
	assert.Equal(t, 125.0, *got.Rows[0].LastValue)
	assert.Equal(t, at(1, "08:00"), *got.Rows[0].LastValueTime)
}

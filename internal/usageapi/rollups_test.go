package usageapi

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mozilla/otelcol-glam/internal/usage"
	"github.com/mozilla/otelcol-glam/internal/usageapi/usagetest"
)

// generatedEnd is the end of the generated data sets: a Monday, so that
// ranges ending there hold whole ISO weeks.
var generatedEnd = time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)

// generatedStore is a Store over a generated data set of n events over days
// days: raw events, and the view rows (and so the rollups) derived from
// them.
func generatedStore(t *testing.T, n, days int) *Store {
	t.Helper()
	ctx := context.Background()
	db := migratedDB(t)
	require.NoError(t, usagetest.Generate(ctx, db, n, days, generatedEnd))
	cfg := NewDefaultConfig()
	require.NoError(t, usagetest.DeriveViews(ctx, db, usagetest.Views(cfg.Views), cfg.ProbeViewEvent))
	return New(db, cfg)
}

// rollupRanges are whole-day ranges with and without whole weeks, starting
// and ending on any weekday.
var rollupRanges = []Range{
	{From: generatedEnd.AddDate(0, 0, -30), To: generatedEnd},
	{From: generatedEnd.AddDate(0, 0, -40), To: generatedEnd.AddDate(0, 0, -3)},
	{From: generatedEnd.AddDate(0, 0, -9), To: generatedEnd.AddDate(0, 0, -2)},
	{From: generatedEnd.AddDate(0, 0, -5), To: generatedEnd.AddDate(0, 0, -4)},
	{From: generatedEnd.AddDate(0, 0, -14), To: generatedEnd.AddDate(0, 0, -7)},
}

// assertRollupsMatchRaw compares every answer the rollups give with the
// same question answered by GROUP BY over the raw events.
func assertRollupsMatchRaw(t *testing.T, s *Store) {
	t.Helper()
	ctx := context.Background()
	for _, r := range rollupRanges {
		name := fmt.Sprintf("%s..%s", r.From.Format(time.DateOnly), r.To.Format(time.DateOnly))
		for _, product := range []string{"", "fenix"} {
			q := TopProbesQuery{Range: r, Product: product, Limit: 40}
			got, err := s.TopProbes(ctx, q)
			require.NoError(t, err)
			want, err := s.TopProbesRaw(ctx, q)
			require.NoError(t, err)
			require.NotEmpty(t, want.Probes, name)
			assert.Equal(t, want, got, "top probes %s product %q", name, product)
		}
		from, to := r.From, r.To
		for _, fields := range [][]string{{"probe_name"}, {"context__product", "context__channel"}, {"action_type", "context__probe"}} {
			q := GLAMUsageQuery{From: &from, To: &to, Fields: fields, Count: true, MaxRows: 100000}
			require.True(t, q.rollupAnswers())
			got, err := s.GLAMUsage(ctx, q)
			require.NoError(t, err)
			want, err := s.glamUsageFromEvents(ctx, q)
			require.NoError(t, err)
			assert.Equal(t, want, got, "GLAM usage %s by %v", name, fields)
		}
	}
	// Ranges of hours: the whole days inside from the rollups, as the rows
	// of every hour say.
	for _, r := range []Range{
		{From: generatedEnd.AddDate(0, 0, -30).Add(-5 * time.Hour), To: generatedEnd.Add(-37 * time.Minute)},
		{From: generatedEnd.AddDate(0, 0, -9).Add(7 * time.Hour), To: generatedEnd.AddDate(0, 0, -1).Add(3 * time.Hour)},
		{From: generatedEnd.AddDate(0, 0, -3).Add(23 * time.Hour), To: generatedEnd.AddDate(0, 0, -1).Add(time.Hour)},
	} {
		q := TopProbesQuery{Range: r, Limit: 40}
		got, err := s.TopProbes(ctx, q)
		require.NoError(t, err)
		want, err := s.topProbesByHours(ctx, r.snap(time.Hour), q)
		require.NoError(t, err)
		require.NotEmpty(t, want.Probes)
		assert.Equal(t, want, got, "top probes %s..%s", r.From, r.To)
	}
	for _, r := range rollupRanges {
		for _, v := range []ViewQuery{
			{View: s.cfg.Views.ProbeViewsDaily, GroupBy: []string{tagChannel}},
			{View: s.cfg.Views.ProbeViewsHourly, GroupBy: []string{tagProduct, tagProbe}, Filters: map[string]string{tagChannel: "beta"}},
			{View: s.cfg.Views.Sessions},
			{View: s.cfg.Views.SessionProbes, GroupBy: []string{tagProbe}, Filters: map[string]string{tagProduct: "fog"}},
		} {
			v.Range, v.Limit = r, 5000
			if v.Filters == nil {
				v.Filters = map[string]string{}
			}
			got, err := s.view(ctx, v, true)
			require.NoError(t, err)
			want, err := s.view(ctx, v, false)
			require.NoError(t, err)
			if len(v.Filters) == 0 {
				require.NotEmpty(t, want.Rows, "view %s by %v where %v over %s..%s", v.View, v.GroupBy, v.Filters, r.From, r.To)
			}
			assert.Equal(t, want, got, "view %s by %v where %v over %s..%s", v.View, v.GroupBy, v.Filters, r.From, r.To)
		}
	}
	// A probe's series by day and week: per period, its views and distinct
	// sessions, as raw events count them.
	for _, probe := range [][2]string{{"fog", "probe_0"}, {"fenix", "probe_1"}, {"firefox", "probe_5"}} {
		for _, i := range []Interval{Day, Week} {
			q := SeriesQuery{Range: Range{From: generatedEnd.AddDate(0, 0, -40), To: generatedEnd.AddDate(0, 0, -2)}, Product: probe[0], Probe: probe[1], Interval: i}
			got, err := s.ProbeSeries(ctx, q)
			require.NoError(t, err)
			want, err := s.ProbeSeriesRaw(ctx, q)
			require.NoError(t, err)
			assert.Equal(t, want, got, "series of %v by %s", probe, i)
		}
	}
	for _, days := range []int{1, 6, 7, 20, 45} {
		for _, product := range []string{"", "fog"} {
			q := HotlistQuery{Days: days, Product: product, Limit: 60}
			got, err := s.Hotlist(ctx, q)
			require.NoError(t, err)
			want, err := rawHotlist(ctx, s, q)
			require.NoError(t, err)
			require.NotEmpty(t, want)
			assert.Equal(t, want, got.Probes, "hot list of %d days, product %q", days, product)
		}
	}
}

func TestRollupsMatchRawEvents(t *testing.T) {
	s := generatedStore(t, 30_000, 45)
	// The hot list's today is the data set's last day.
	s.now = func() time.Time { return generatedEnd.Add(-time.Hour) }
	assertRollupsMatchRaw(t, s)
}

// Late events merged as the exporter merges them move the rollups: a
// session seen on a new day before its others (its later day's previous
// day changes), a new session on two days, and one more view of a probe a
// session already viewed that day (an update of its row).
func TestRollupsFollowLateEvents(t *testing.T) {
	s := generatedStore(t, 20_000, 45)
	s.now = func() time.Time { return generatedEnd.Add(-time.Hour) }
	ctx := context.Background()
	var existing usagetest.Event
	require.NoError(t, s.db.QueryRow(ctx, `SELECT session_id, product, probe_name, event_time FROM `+eventsTable+`
		WHERE event_name = $1 AND event_time >= $2 ORDER BY event_time LIMIT 1`, s.cfg.ProbeViewEvent, generatedEnd.AddDate(0, 0, -10)).
		Scan(&existing.Session, &existing.Product, &existing.Probe, &existing.Time))
	late := []usagetest.Event{
		{ID: "late-1", Session: existing.Session, Product: existing.Product, Probe: existing.Probe, Time: existing.Time.AddDate(0, 0, -6)},
		{ID: "late-2", Session: "late-session", Product: "fenix", Probe: "probe_1", Time: generatedEnd.AddDate(0, 0, -3)},
		{ID: "late-3", Session: "late-session", Product: "fenix", Probe: "probe_1", Time: generatedEnd.AddDate(0, 0, -12)},
		{ID: "late-4", Session: existing.Session, Product: existing.Product, Probe: existing.Probe, Time: existing.Time.Add(time.Second)},
	}
	ids := make([]string, len(late))
	for i := range late {
		late[i].Name, late[i].Channel = usage.EventProbeView, "beta"
		ids[i] = late[i].ID
	}
	require.NoError(t, usagetest.Insert(ctx, s.db, late))
	require.NoError(t, usagetest.MergeDaily(ctx, s.db, usagetest.Views(s.cfg.Views), s.cfg.ProbeViewEvent, ids))
	assertRollupsMatchRaw(t, s)
}

// Deleting a view's rows (a runtime view purged) takes its rollup rows
// with them.
func TestRollupsFollowDeletedRows(t *testing.T) {
	s := generatedStore(t, 5_000, 10)
	ctx := context.Background()
	for _, view := range []string{s.cfg.Views.ProbeViewsDaily, s.cfg.Views.ProbeSessionsDaily} {
		var before int
		require.NoError(t, s.db.QueryRow(ctx, `SELECT (SELECT count(*) FROM `+probeDaysTable+` WHERE view = $1)
			+ (SELECT count(*) FROM `+probeSessionDaysTable+` WHERE view = $1)`, view).Scan(&before))
		require.Positive(t, before, view)
		_, err := s.db.Exec(ctx, `DELETE FROM `+rowsTable+` WHERE view = $1`, view)
		require.NoError(t, err)
		var after int
		require.NoError(t, s.db.QueryRow(ctx, `SELECT (SELECT count(*) FROM `+probeDaysTable+` WHERE view = $1)
			+ (SELECT count(*) FROM `+probeSessionDaysTable+` WHERE view = $1)`, view).Scan(&after))
		assert.Zero(t, after, view)
	}
}

func TestWeeks(t *testing.T) {
	d := func(s string) time.Time { t, _ := time.Parse(time.DateOnly, s); return t }
	for _, c := range []struct{ from, to, w0, w1 string }{
		// 2024-06-03 is a Monday.
		{"2024-06-03", "2024-06-10", "2024-06-03", "2024-06-10"},
		{"2024-06-02", "2024-06-18", "2024-06-03", "2024-06-17"},
		{"2024-06-04", "2024-06-12", "2024-06-12", "2024-06-12"},
		{"2024-06-04", "2024-06-05", "2024-06-05", "2024-06-05"},
	} {
		w0, w1 := weeks(Range{From: d(c.from), To: d(c.to)})
		assert.Equal(t, []time.Time{d(c.w0), d(c.w1)}, []time.Time{w0, w1}, "%s..%s", c.from, c.to)
	}
}

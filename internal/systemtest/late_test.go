package systemtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mozilla/otelcol-glam/internal/pgtest"
)

// Events 3 hours and 3 days old — whole sessions of offline clients, each
// in one request — sent along with live traffic to otelcol-glam: stored
// raw, counted in the fixed-window views (hourly and daily rows of their
// own hours and days, merged as late deltas), and in the usage API's
// answers for those hours and days. Expected counts are the test's own,
// from the events it generated.
func TestEventsHoursAndDaysLateAreCounted(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewDatabase(t)
	db := openDB(t, dsn)
	c := startCollector(t, "c", collectorConfig{dsn: dsn, api: true})

	rng := rand.New(rand.NewPCG(31, 32))
	now := time.Now().UTC().Add(-time.Minute)
	var late [][]event
	for i := range 12 {
		age := 3 * time.Hour
		if i%2 == 1 {
			age = 72 * time.Hour
		}
		start := now.Add(-age - time.Duration(rng.IntN(1200))*time.Second)
		late = append(late, session(rng, "late", fmt.Sprintf("l%02d", i), start, 10+rng.IntN(15), time.Duration(5+rng.IntN(40))*time.Second))
	}
	requests := clientRequests(rng, liveSessions(rng, "live", 20, now), 2, 10)
	requests = append(requests, clientRequests(rng, late, 1, 0)...)
	got := newAcked()
	runClients(requests, func(_ int, events []event) {
		if deliver(ctx, t, []string{c.ingest}, otlpLogs(events)) > 0 {
			got.add(events)
		}
	})
	if t.Failed() {
		t.FailNow()
	}
	want := got.snapshot()
	waitStored(ctx, t, db, len(want), 30*time.Second)
	waitCaughtUp(ctx, t, db, consumerName, 30*time.Second)
	requireRawExact(ctx, t, db, want, "")
	requireViewsExact(ctx, t, db, "")

	// The fixed-window views hold the late probe views in their own hours
	// and days.
	type key struct {
		window                    time.Time
		product, probe, proc, chn string
	}
	hourly, daily := map[key]int64{}, map[key]int64{}
	for _, s := range late {
		for _, e := range s {
			if e.name != "probe.view" {
				continue
			}
			k := key{e.at.Truncate(time.Hour), e.attrs["glam.product"], e.attrs["glam.probe.name"], e.attrs["glam.probe.process"], e.attrs["glam.channel"]}
			hourly[k]++
			k.window = e.at.Truncate(24 * time.Hour)
			daily[k]++
		}
	}
	require.NotEmpty(t, hourly)
	for view, counts := range map[string]map[key]int64{"glam.probe_views.hourly": hourly, "glam.probe_views.daily": daily} {
		size := time.Hour
		if view == "glam.probe_views.daily" {
			size = 24 * time.Hour
		}
		for k, n := range counts {
			var got int64
			require.NoError(t, db.QueryRow(ctx, `SELECT coalesce(sum(count), 0) FROM glam_usage_view_rows WHERE view = $1 AND window_start = $2
				AND tags = jsonb_build_object('glam.product', $3::text, 'glam.probe.name', $4::text, 'glam.probe.process', $5::text, 'glam.channel', $6::text)`,
				view, k.window, k.product, k.probe, k.proc, k.chn).Scan(&got))
			if k.window.Add(size).After(now.Add(-2 * time.Hour)) {
				// A live session's window shares it (today's day, 3 h late
				// sessions' included, whatever the time of day).
				continue
			}
			assert.Equal(t, n, got, "%s %v", view, k)
		}
	}

	// The usage API answers for those hours and days.
	checkTopProbes(t, c, late, now.Add(-72*time.Hour).Truncate(24*time.Hour))
	checkHourlySeries(t, c, late, now.Add(-3*time.Hour))
}

// checkTopProbes asks for the top probes of day (a UTC day of late
// sessions only) and compares with the sessions' probe views: per probe,
// its views and its distinct sessions that day.
func checkTopProbes(t *testing.T, c *collector, sessions [][]event, day time.Time) {
	t.Helper()
	type rank struct {
		Product  string `json:"product"`
		Probe    string `json:"probe"`
		Views    int64  `json:"views"`
		Sessions int64  `json:"sessions"`
	}
	views := map[[2]string]int64{}
	seen := map[[2]string]map[string]bool{}
	for _, s := range sessions {
		for _, e := range s {
			if e.name != "probe.view" || !e.at.Truncate(24*time.Hour).Equal(day) {
				continue
			}
			k := [2]string{e.attrs["glam.product"], e.attrs["glam.probe.name"]}
			views[k]++
			if seen[k] == nil {
				seen[k] = map[string]bool{}
			}
			seen[k][e.session] = true
		}
	}
	require.NotEmpty(t, views, "no late probe view on %s", day)
	var want []rank
	for k, n := range views {
		want = append(want, rank{Product: k[0], Probe: k[1], Views: n, Sessions: int64(len(seen[k]))})
	}
	sortRanks := func(r []rank) {
		sort.Slice(r, func(i, j int) bool {
			if r[i].Views != r[j].Views {
				return r[i].Views > r[j].Views
			}
			return r[i].Product+"/"+r[i].Probe < r[j].Product+"/"+r[j].Probe
		})
	}
	sortRanks(want)
	var answer struct {
		Probes []rank `json:"probes"`
	}
	q := url.Values{"from": {day.Format(time.RFC3339)}, "to": {day.AddDate(0, 0, 1).Format(time.RFC3339)}, "limit": {"1000"}}
	c.getJSON(t, "/api/v1/usage/probes/top?"+q.Encode(), &answer)
	sortRanks(answer.Probes)
	assert.Equal(t, want, answer.Probes, "top probes of %s, 3 days ago", day.Format(time.DateOnly))
	t.Logf("top probes of %s: %d probes as the late sessions viewed them", day.Format(time.DateOnly), len(want))
}

// checkHourlySeries asks, for every probe the late sessions viewed, for its
// hourly series around around and compares with the sessions: views per
// hour, and sessions that started in the hour (their first probe view) and
// viewed the probe.
func checkHourlySeries(t *testing.T, c *collector, sessions [][]event, around time.Time) {
	t.Helper()
	from, to := around.Truncate(time.Hour).Add(-time.Hour), around.Truncate(time.Hour).Add(2*time.Hour)
	type point struct {
		Start    time.Time `json:"start"`
		Views    int64     `json:"views"`
		Sessions int64     `json:"sessions"`
	}
	views := map[[2]string]map[time.Time]int64{}
	started := map[[2]string]map[time.Time]map[string]bool{}
	for _, s := range sessions {
		first := time.Time{}
		for _, e := range s {
			if e.name == "probe.view" && first.IsZero() {
				first = e.at
			}
		}
		for _, e := range s {
			if e.name != "probe.view" || e.at.Before(from) || !e.at.Before(to) {
				continue
			}
			k := [2]string{e.attrs["glam.product"], e.attrs["glam.probe.name"]}
			if views[k] == nil {
				views[k], started[k] = map[time.Time]int64{}, map[time.Time]map[string]bool{}
			}
			views[k][e.at.Truncate(time.Hour)]++
			h := first.Truncate(time.Hour)
			if started[k][h] == nil {
				started[k][h] = map[string]bool{}
			}
			started[k][h][e.session] = true
		}
	}
	require.NotEmpty(t, views, "no late probe view around %s", around)
	for k := range views {
		var want []point
		for h := from; h.Before(to); h = h.Add(time.Hour) {
			want = append(want, point{Start: h, Views: views[k][h], Sessions: int64(len(started[k][h]))})
		}
		var answer struct {
			Points []point `json:"points"`
		}
		q := url.Values{"from": {from.Format(time.RFC3339)}, "to": {to.Format(time.RFC3339)}, "interval": {"hour"}}
		c.getJSON(t, fmt.Sprintf("/api/v1/usage/probes/%s/%s/series?%s", url.PathEscape(k[0]), url.PathEscape(k[1]), q.Encode()), &answer)
		for i := range answer.Points {
			answer.Points[i].Start = answer.Points[i].Start.UTC()
		}
		assert.Equal(t, want, answer.Points, "hourly series of %s/%s, 3 hours ago", k[0], k[1])
	}
	t.Logf("hourly series of %d probes from %s to %s as the late sessions viewed them", len(views), from.Format(time.RFC3339), to.Format(time.RFC3339))
}

package usagetest

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mozilla/otelcol-glam/internal/pgschema"
	"github.com/mozilla/otelcol-glam/internal/usage"
)

// SessionGap is the default session views' gap.
const SessionGap = 30 * time.Minute

// Tag sets of the default views, built from the raw event columns; an
// absent attribute is an absent tag, as the processor writes them.
const (
	probeTags = `jsonb_strip_nulls(jsonb_build_object('` + usage.AttrProduct + `', product, '` + usage.AttrProbeName + `', probe_name, '` +
		usage.AttrProbeProcess + `', probe_process, '` + usage.AttrChannel + `', channel))`
	probeSessionTags = `jsonb_strip_nulls(jsonb_build_object('` + usage.AttrProduct + `', product, '` + usage.AttrProbeName + `', probe_name, '` +
		usage.AttrSessionID + `', session_id))`
	sessionProbeTags = `jsonb_strip_nulls(jsonb_build_object('` + usage.AttrProduct + `', product, '` + usage.AttrProbeName + `', probe_name))`
)

// fixedWindowSQL counts events named $3 per window of size $2 and tag set.
// Rows are inserted in window order, as the exporter creates them (a
// window's rows appear when it opens), so that the table's physical order
// is what a collector's would be.
const fixedWindowSQL = `INSERT INTO ` + pgschema.ViewRowsTable + `
	(view, window_start, tags_hash, tags, window_end, metric_type, count, sum)
SELECT $1, w, sha256(convert_to(tags::text, 'UTF8')), tags, w + $2::interval, '` + pgschema.MetricTypeSum + `', n, n
FROM (
	SELECT date_bin($2::interval, event_time, timestamptz '1970-01-01 00:00:00+00') AS w, %s AS tags, count(*) AS n
	FROM ` + pgschema.EventsTable + ` WHERE event_name = $3 AND (NOT $4 OR session_id IS NOT NULL)
	GROUP BY 1, 2
) g
ORDER BY w`

// sessionWindowSQL counts the events of each series (session and tag set)
// per session window: a window closes after $3 without an event of the
// series; it starts at its first event and ends at its last.
const sessionWindowSQL = `INSERT INTO ` + pgschema.ViewRowsTable + `
	(view, window_start, tags_hash, tags, window_end, metric_type, count, sum)
SELECT $1, min(event_time), sha256(convert_to(t::text, 'UTF8')), t, max(event_time), '` + pgschema.MetricTypeSum + `', count(*), count(*)
FROM (
	SELECT session_id, event_time, tags || jsonb_build_object('` + usage.AttrSessionID + `', session_id) AS t,
		sum(brk) OVER (PARTITION BY session_id, tags ORDER BY event_time, event_id) AS grp
	FROM (
		SELECT session_id, event_time, event_id, %s AS tags,
			CASE WHEN event_time - lag(event_time) OVER w <= $3::interval THEN 0 ELSE 1 END AS brk
		FROM ` + pgschema.EventsTable + `
		WHERE session_id IS NOT NULL AND ($2 = '' OR event_name = $2)
		WINDOW w AS (PARTITION BY session_id, %[1]s ORDER BY event_time, event_id)
	) e
) g
GROUP BY session_id, t, grp
ORDER BY 2`

// Views names the default views, as usageapi.Views does (convertible).
type Views struct {
	ProbeViewsHourly   string
	ProbeViewsDaily    string
	ProbeSessionsDaily string
	Sessions           string
	SessionProbes      string
}

// DeriveViews writes the rows of the default views (named by views) from
// the raw events: what the glam_views processor and glam_postgres exporter
// write for the same events. probeView is the probe-view event.
func DeriveViews(ctx context.Context, db *pgxpool.Pool, views Views, probeView string) error {
	steps := []struct {
		view, sql string
		args      []any
	}{
		{views.ProbeViewsHourly, fmt.Sprintf(fixedWindowSQL, probeTags), []any{time.Hour, probeView, false}},
		{views.ProbeViewsDaily, fmt.Sprintf(fixedWindowSQL, probeTags), []any{24 * time.Hour, probeView, false}},
		{views.ProbeSessionsDaily, fmt.Sprintf(fixedWindowSQL, probeSessionTags), []any{24 * time.Hour, probeView, true}},
		{views.Sessions, fmt.Sprintf(sessionWindowSQL, `'{}'::jsonb`), []any{"", SessionGap}},
		{views.SessionProbes, fmt.Sprintf(sessionWindowSQL, sessionProbeTags), []any{probeView, SessionGap}},
	}
	for _, s := range steps {
		if _, err := db.Exec(ctx, s.sql, append([]any{s.view}, s.args...)...); err != nil {
			return fmt.Errorf("derive view %s: %w", s.view, err)
		}
	}
	return vacuum(ctx, db, pgschema.ViewRowsTable)
}

// vacuum brings freshly loaded tables to the state autovacuum keeps a
// collector's in: statistics gathered, and pages no longer written marked
// all-visible, which index-only scans need.
func vacuum(ctx context.Context, db *pgxpool.Pool, tables ...string) error {
	for _, t := range tables {
		// One statement per call: VACUUM refuses to run in a transaction,
		// which a multi-statement query string is.
		if _, err := db.Exec(ctx, "VACUUM (ANALYZE) "+t); err != nil {
			return fmt.Errorf("vacuum %s: %w", t, err)
		}
	}
	return nil
}

// mergeDailySQL merges the events of ids into a daily count view's rows as
// the glam_postgres exporter merges a view batch: adding to the rows there
// and making the rows not there yet.
const mergeDailySQL = `INSERT INTO ` + pgschema.ViewRowsTable + ` AS t
	(view, window_start, tags_hash, tags, window_end, metric_type, count, sum)
SELECT $1, w, sha256(convert_to(tags::text, 'UTF8')), tags, w + interval '1 day', '` + pgschema.MetricTypeSum + `', n, n
FROM (
	SELECT date_trunc('day', event_time, 'UTC') AS w, %s AS tags, count(*) AS n
	FROM ` + pgschema.EventsTable + ` WHERE event_name = $2 AND event_id = ANY($3) AND (NOT $4 OR session_id IS NOT NULL)
	GROUP BY 1, 2
) g
ORDER BY 1, 3
ON CONFLICT (view, window_start, tags_hash) DO UPDATE SET count = t.count + excluded.count, sum = t.sum + excluded.sum`

// MergeDaily merges the stored events of ids (late ones, say) into the
// daily probe-view views' rows, as the exporter would: the per-probe and
// the per-session daily views.
func MergeDaily(ctx context.Context, db *pgxpool.Pool, views Views, probeView string, ids []string) error {
	for _, s := range []struct {
		view, tags string
		session    bool
	}{{views.ProbeViewsDaily, probeTags, false}, {views.ProbeSessionsDaily, probeSessionTags, true}} {
		if _, err := db.Exec(ctx, fmt.Sprintf(mergeDailySQL, s.tags), s.view, probeView, ids, s.session); err != nil {
			return fmt.Errorf("merge into view %s: %w", s.view, err)
		}
	}
	return nil
}

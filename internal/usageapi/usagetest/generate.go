package usagetest

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mozilla/otelcol-glam/internal/pgschema"
	"github.com/mozilla/otelcol-glam/internal/usage"
)

// Generated data set: sessions of EventsPerSession events, 45 s apart (so a
// session lasts about 14 minutes, under the 30-minute gap), started at
// pseudo-random times over the days. An event is a page view, a probe view
// (12 of 20) or a search. Each session looks at about four probes, drawn
// from GeneratedProbes with a heavy head (index = probes * r^3), as GLAM's
// usage is: a few probes get most views.
const (
	EventsPerSession = 20
	GeneratedProbes  = 2000
)

const generateSQL = `INSERT INTO ` + pgschema.EventsTable + `
	(event_id, event_time, observed_time, event_name, session_id, product, probe_name, probe_process, channel, os, source, attributes, resource)
SELECT 'g' || i, t, t, name, 's' || sess, product, probe, process, channel, os, '` + usage.SourceOTLPLogs + `',
	jsonb_strip_nulls(jsonb_build_object('` + usage.AttrEventID + `', 'g' || i, '` + usage.AttrEventName + `', name, '` + usage.AttrSessionID + `', 's' || sess,
		'` + usage.AttrProduct + `', product, '` + usage.AttrProbeName + `', probe, '` + usage.AttrChannel + `', channel)), '{}'::jsonb
FROM (
	SELECT i, sess, t, name,
		CASE WHEN name = 'page.view' THEN NULL ELSE (ARRAY['fog', 'fenix', 'firefox'])[p % 3 + 1] END AS product,
		CASE WHEN name = '` + usage.EventProbeView + `' THEN 'probe_' || p END AS probe,
		CASE WHEN name = '` + usage.EventProbeView + `' THEN (ARRAY['parent', 'content'])[p % 2 + 1] END AS process,
		CASE WHEN name = '` + usage.EventProbeView + `' THEN (ARRAY['nightly', 'beta', 'release'])[sess % 3 + 1] END AS channel,
		CASE WHEN name = '` + usage.EventProbeView + `' THEN (ARRAY['Windows', 'Linux', 'Mac', 'Android'])[sess % 4 + 1] END AS os
	FROM (
		SELECT i, sess,
			$1::timestamptz + make_interval(secs => (sess * 2654435761 % ($2::bigint * 86400 - 900))::float8 + (i % $3) * 45) AS t,
			CASE WHEN i % $3 = 0 THEN 'page.view' WHEN i % $3 <= 12 THEN '` + usage.EventProbeView + `'
				WHEN i % $3 <= 14 THEN '` + usage.EventProbeSearch + `' ELSE 'page.view' END AS name,
			floor($4 * power(((sess * 7 + (i % $3) / 5) * 1103515245 % 1000003)::float8 / 1000003, 3))::int AS p
		FROM (SELECT i, i / $3 AS sess FROM generate_series(0::bigint, $5::bigint - 1) i) s
	) r
) e`

// Generate inserts n events over the days days before end (a UTC
// midnight), with their ids, and vacuums and analyzes the tables.
func Generate(ctx context.Context, db *pgxpool.Pool, n, days int, end time.Time) error {
	start := end.AddDate(0, 0, -days)
	var list []time.Time
	for d := start; d.Before(end); d = d.AddDate(0, 0, 1) {
		list = append(list, d)
	}
	if err := pgschema.EnsureEventPartitions(ctx, db, list); err != nil {
		return err
	}
	if _, err := db.Exec(ctx, generateSQL, start, days, EventsPerSession, GeneratedProbes, n); err != nil {
		return fmt.Errorf("generate events: %w", err)
	}
	if _, err := db.Exec(ctx, `INSERT INTO `+pgschema.EventIDsTable+` (event_id, event_time) SELECT event_id, event_time FROM `+pgschema.EventsTable); err != nil {
		return fmt.Errorf("generate event ids: %w", err)
	}
	return vacuum(ctx, db, pgschema.EventsTable, pgschema.EventIDsTable)
}

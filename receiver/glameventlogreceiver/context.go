package glameventlogreceiver // import "github.com/mozilla/otelcol-glam/receiver/glameventlogreceiver"

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/mozilla/otelcol-glam/internal/pgschema"
	"github.com/mozilla/otelcol-glam/internal/usage"
)

// sessionContext reads the session rows merged up to the offset that a new
// event could still extend — those merged within session_context before the
// offset last moved (a row's last merge is at or after its last event's
// receipt, so this also finds a session sent days late) — as
// usage.SessionContextScope data points, so that
// a session spanning a restart or a hand-over stays one session (one row,
// its true start). Rows of views that are not session views come along
// (their tags name a session too); the views processor ignores them.
func (r *reader) sessionContext(ctx context.Context, conn *pgx.Conn, offsetMoved time.Time) (pmetric.Metrics, error) {
	md := pmetric.NewMetrics()
	sm := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty()
	sm.Scope().SetName(usage.SessionContextScope)
	if r.cfg.SessionContext == 0 {
		return md, nil
	}
	// A runtime view's reader restores its own view's rows only.
	var only *string
	if r.view != "" {
		only = &r.view
	}
	rows, err := conn.Query(ctx, `SELECT view, window_start, window_end, tags FROM `+pgschema.ViewRowsTable+`
		WHERE `+pgschema.ViewRowTagColumns[usage.AttrSessionID]+` IS NOT NULL AND updated_at >= $1
		AND ($2::text IS NULL OR view = $2)
		ORDER BY view, window_start`, offsetMoved.Add(-r.cfg.SessionContext), only)
	if err != nil {
		return md, err
	}
	var view, current string
	var start, end time.Time
	var tags []byte
	var points pmetric.NumberDataPointSlice
	first := true
	_, err = pgx.ForEachRow(rows, []any{&view, &start, &end, &tags}, func() error {
		if first || view != current {
			first = false
			m := sm.Metrics().AppendEmpty()
			m.SetName(view)
			points = m.SetEmptyGauge().DataPoints()
			current = view
		}
		dp := points.AppendEmpty()
		dp.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
		dp.SetTimestamp(pcommon.NewTimestampFromTime(end))
		putJSON(dp.Attributes(), tags)
		return nil
	})
	return md, err
}

package usageapi

import (
	"time"

	"github.com/mozilla/otelcol-glam/internal/pgschema"
)

// The rollups of view rows (probes: migration 0010; sessions: 0013), kept
// by triggers in the transactions that merge the view rows, so they always
// equal the rows.
const (
	probeDaysTable        = pgschema.ProbeDaysTable
	probeSessionDaysTable = pgschema.ProbeSessionDaysTable
	viewSessionsTable     = pgschema.ViewSessionsTable
)

// weeks splits a range of whole UTC days into the whole ISO weeks inside
// it, [w0, w1), and the days before and after them, which the rollups'
// week rows and day rows answer. A range holding no whole week is all
// days (w0 = w1 = To).
func weeks(r Range) (w0, w1 time.Time) {
	from := r.From.UTC()
	w0 = from.AddDate(0, 0, (8-int(from.Weekday()))%7)
	to := r.To.UTC()
	w1 = to.AddDate(0, 0, -((int(to.Weekday()) + 6) % 7))
	if !w0.Before(w1) {
		return r.To, r.To
	}
	return w0, w1
}

// periodRows selects cols from a rollup table over a day-aligned range: its
// week rows from w0 to w1 and its day rows from from to w0 and from w1 to
// to, where view, from, w0, w1 and to are the placeholders of those values
// and cond (if not empty) a further condition. Three index ranges instead
// of one range of days, which over months is seven times as many rows.
func periodRows(table, cols, view, from, w0, w1, to, cond string) string {
	if cond != "" {
		cond = " AND " + cond
	}
	part := func(days, lo, hi string) string {
		return `SELECT ` + cols + ` FROM ` + table + ` WHERE view = ` + view + ` AND days = ` + days +
			` AND day >= ` + lo + ` AND day < ` + hi + cond
	}
	return `(` + part("7", w0, w1) + ` UNION ALL ` + part("1", from, w0) + ` UNION ALL ` + part("1", w1, to) + `)`
}

// wholeDays is the part of a range of whole hours made of whole UTC days,
// [d0, d1); d0 is not before d1 when there is none.
func wholeDays(r Range) (d0, d1 time.Time) {
	d0 = r.From.UTC().Truncate(24 * time.Hour)
	if d0.Before(r.From) {
		d0 = d0.AddDate(0, 0, 1)
	}
	return d0, r.To.UTC().Truncate(24 * time.Hour)
}

package probebuild

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Columns a build writes, in GLAM's tables (id is the table's own).
var (
	desktopColumns = []string{"version", "os", "build_id", "process", "metric", "metric_key", "client_agg_type",
		"metric_type", "total_users", "histogram", "percentiles", "total_sample", "non_norm_histogram", "non_norm_percentiles"}
	desktopKey   = []string{"version", "os", "build_id", "process", "metric", "metric_key", "client_agg_type"}
	gleanColumns = []string{"app_id", "channel", "version", "ping_type", "os", "build_id", "build_date", "metric",
		"metric_type", "metric_key", "client_agg_type", "total_users", "histogram", "percentiles", "total_sample",
		"non_norm_histogram", "non_norm_percentiles"}
	gleanKey = []string{"app_id", "channel", "version", "ping_type", "os", "build_id", "metric", "metric_type",
		"metric_key", "client_agg_type"}
)

func desktopValues(r Row) []any {
	return []any{r.Version, r.OS, r.BuildID, r.Process, r.Metric, r.MetricKey, r.ClientAggType, r.MetricType,
		r.TotalUsers, nullable(r.Histogram), nullable(r.Percentiles), r.TotalSample, nullable(r.NonNormHist),
		nullable(r.NonNormPercent)}
}

func gleanValues(r Row) []any {
	return []any{r.AppID, r.Channel, r.Version, r.PingType, r.OS, r.BuildID, r.BuildDate, r.Metric, r.MetricType,
		r.MetricKey, r.ClientAggType, r.TotalUsers, nullable(r.Histogram), nullable(r.Percentiles), r.TotalSample,
		nullable(r.NonNormHist), nullable(r.NonNormPercent)}
}

// nullable stores an absent JSON document ("") as NULL.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// stageRows is the temporary table a write copies its rows into.
const stageRows = "glam_probe_build_rows"

// writeRows upserts rows into table on GLAM's unique key, inside tx: COPY
// into a temporary table, then one INSERT … ON CONFLICT DO UPDATE.
func writeRows(ctx context.Context, tx pgx.Tx, table string, glean bool, rows []Row) (int64, error) {
	if len(rows) == 0 {
		return 0, nil
	}
	cols, key, values := desktopColumns, desktopKey, desktopValues
	if glean {
		cols, key, values = gleanColumns, gleanKey, gleanValues
	}
	target := pgx.Identifier{table}.Sanitize()
	if _, err := tx.Exec(ctx, `CREATE TEMPORARY TABLE `+stageRows+` ON COMMIT DROP AS
		SELECT `+strings.Join(cols, ", ")+` FROM `+target+` WITH NO DATA`); err != nil {
		return 0, fmt.Errorf("write %s: %w", table, err)
	}
	n, err := tx.CopyFrom(ctx, pgx.Identifier{stageRows}, cols, pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) {
		return values(rows[i]), nil
	}))
	if err != nil {
		return 0, fmt.Errorf("write %s: copy: %w", table, err)
	}
	set := ""
	for _, c := range cols {
		if !slices.Contains(key, c) {
			if set != "" {
				set += ", "
			}
			set += c + " = excluded." + c
		}
	}
	if _, err := tx.Exec(ctx, `INSERT INTO `+target+` (`+strings.Join(cols, ", ")+`)
		SELECT `+strings.Join(cols, ", ")+` FROM `+stageRows+`
		ON CONFLICT (`+strings.Join(key, ", ")+`) DO UPDATE SET `+set); err != nil {
		return 0, fmt.Errorf("write %s: upsert: %w", table, err)
	}
	if _, err := tx.Exec(ctx, `DROP TABLE `+stageRows); err != nil {
		return 0, fmt.Errorf("write %s: %w", table, err)
	}
	return n, nil
}

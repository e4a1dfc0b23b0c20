package probebuild

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// filter narrows a build's rows to what a client asked for.
type filter struct {
	level    string // "", LevelVersion or LevelBuildID
	os       string
	process  string
	pingType string
	version  int64
}

func parseFilter(q url.Values, product string) (filter, error) {
	f := filter{level: q.Get("aggregation_level"), os: q.Get("os"), process: q.Get("process"), pingType: q.Get("ping_type")}
	if f.level != "" && f.level != LevelVersion && f.level != LevelBuildID {
		return f, fmt.Errorf("aggregation_level must be version or build_id, got %q", f.level)
	}
	if f.process != "" && product != ProductFirefox {
		return f, fmt.Errorf("process applies to product firefox only")
	}
	if f.pingType != "" && product == ProductFirefox {
		return f, fmt.Errorf("ping_type applies to fenix and fog only")
	}
	if v := q.Get("version"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return f, fmt.Errorf("version must be an integer, got %q", v)
		}
		f.version = n
	}
	return f, nil
}

// ResultRow is one row of a result, shaped like a row of GLAM's
// /api/v1/data/ response so that the app parses both alike.
type ResultRow struct {
	Version            int64           `json:"version"`
	OS                 string          `json:"os"`
	BuildID            string          `json:"build_id"`
	Process            string          `json:"process,omitempty"`
	AppID              string          `json:"app_id,omitempty"`
	Channel            string          `json:"channel,omitempty"`
	PingType           string          `json:"ping_type,omitempty"`
	BuildDate          *time.Time      `json:"build_date,omitempty"`
	Metric             string          `json:"metric"`
	MetricKey          string          `json:"metric_key"`
	MetricType         string          `json:"metric_type"`
	ClientAggType      string          `json:"client_agg_type"`
	TotalUsers         int64           `json:"total_users"`
	TotalSample        *int64          `json:"total_sample"`
	Histogram          json.RawMessage `json:"histogram"`
	Percentiles        json.RawMessage `json:"percentiles"`
	NonNormHistogram   json.RawMessage `json:"non_norm_histogram"`
	NonNormPercentiles json.RawMessage `json:"non_norm_percentiles"`
}

// readResult reads the probe's rows in the versions j built.
func readResult(ctx context.Context, pool *pgxpool.Pool, j *Job, f filter) ([]ResultRow, error) {
	b := j.Build
	glean := b.Product != ProductFirefox
	table := pgx.Identifier{AggregationTable(b)}.Sanitize()
	args := []any{b.Probe, j.VersionsBuilt}
	where := `lower(metric) = lower($1) AND version = ANY($2)`
	add := func(cond string, v any) {
		args = append(args, v)
		where += fmt.Sprintf(" AND "+cond, len(args))
	}
	if glean {
		add("app_id = $%d", b.AppID)
		add("channel = $%d", b.Channel)
	}
	switch f.level {
	case LevelVersion:
		where += ` AND build_id = '*'`
	case LevelBuildID:
		where += ` AND build_id <> '*'`
	}
	if f.os != "" {
		add("os = $%d", f.os)
	}
	if f.process != "" {
		add("process = $%d", f.process)
	}
	if f.pingType != "" {
		add("ping_type = $%d", f.pingType)
	}
	if f.version != 0 {
		add("version = $%d", f.version)
	}
	dims := "process, '', '', NULL::timestamptz"
	if glean {
		dims = "ping_type, app_id, channel, build_date"
	}
	rows, err := pool.Query(ctx, `SELECT version, os, build_id, `+dims+`, metric, metric_key, metric_type,
			client_agg_type, total_users, total_sample, coalesce(nullif(histogram, ''), 'null'),
			coalesce(nullif(percentiles, ''), 'null'), coalesce(nullif(non_norm_histogram, ''), 'null'),
			coalesce(nullif(non_norm_percentiles, ''), 'null')
		FROM `+table+` WHERE `+where+`
		ORDER BY version DESC, os, build_id, 4, metric_key, client_agg_type`, args...)
	if err != nil {
		return nil, fmt.Errorf("read result: %w", err)
	}
	out := []ResultRow{}
	for rows.Next() {
		var r ResultRow
		var procOrPing, hist, perc, nnHist, nnPerc string
		if err := rows.Scan(&r.Version, &r.OS, &r.BuildID, &procOrPing, &r.AppID, &r.Channel, &r.BuildDate,
			&r.Metric, &r.MetricKey, &r.MetricType, &r.ClientAggType, &r.TotalUsers, &r.TotalSample,
			&hist, &perc, &nnHist, &nnPerc); err != nil {
			return nil, fmt.Errorf("read result: %w", err)
		}
		if glean {
			r.PingType = procOrPing
		} else {
			r.Process = procOrPing
		}
		r.Histogram, r.Percentiles = json.RawMessage(hist), json.RawMessage(perc)
		r.NonNormHistogram, r.NonNormPercentiles = json.RawMessage(nnHist), json.RawMessage(nnPerc)
		out = append(out, r)
	}
	return out, rows.Err()
}

package usageapi

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mozilla/otelcol-glam/internal/pgschema"
)

// ViewInfo describes a view as its rows show it.
type ViewInfo struct {
	Name string `json:"name"`
	// MetricType is the pgschema metric type of its rows: sum, histogram or
	// gauge.
	MetricType string `json:"metric_type"`
	// TagKeys are the tag keys seen on its most recent rows.
	TagKeys []string `json:"tag_keys"`
}

// tagSample is how many of a view's latest rows its tag keys are read from:
// enough to see every key of a view whose data points carry all its keys,
// few enough to stay an index range scan.
const tagSample = 1000

// ListViews names the views that have rows, by a loose index scan of the
// view rows' primary key (one probe per view, however many rows).
func (s *Store) ListViews(ctx context.Context) ([]string, error) {
	rows, err := s.db.Query(ctx, `WITH RECURSIVE v(name) AS (
		(SELECT view FROM `+rowsTable+` ORDER BY view LIMIT 1)
		UNION ALL
		SELECT (SELECT view FROM `+rowsTable+` WHERE view > v.name ORDER BY view LIMIT 1)
		FROM v WHERE v.name IS NOT NULL
	) SELECT name FROM v WHERE name IS NOT NULL`)
	if err != nil {
		return nil, fmt.Errorf("list views: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list views: %w", err)
	}
	return names, nil
}

// DescribeView reads a view's metric type and tag keys from its latest
// rows. A view without rows is an InputError naming the views there are.
func (s *Store) DescribeView(ctx context.Context, name string) (ViewInfo, error) {
	info := ViewInfo{Name: name}
	var metricType *string
	err := s.db.QueryRow(ctx, `WITH latest AS (
		SELECT metric_type, tags FROM `+rowsTable+` WHERE view = $1 ORDER BY window_start DESC LIMIT $2
	) SELECT (SELECT metric_type FROM latest LIMIT 1),
		coalesce((SELECT array_agg(DISTINCT k ORDER BY k) FROM latest, jsonb_object_keys(latest.tags) k), '{}')`,
		name, tagSample).Scan(&metricType, &info.TagKeys)
	if err != nil {
		return info, fmt.Errorf("describe view: %w", err)
	}
	if metricType == nil {
		known, err := s.ListViews(ctx)
		if err != nil {
			return info, err
		}
		return info, inputErrorf("unknown view %q: send one of %s", name, quoteList(known))
	}
	info.MetricType = *metricType
	return info, nil
}

// ViewQuery aggregates a view's windows in a range, grouped by some tags and
// filtered on others.
type ViewQuery struct {
	Range
	View    string
	GroupBy []string
	Filters map[string]string
	Limit   int
}

// Bucket is one bucket of a distribution: the count of values at most Le
// (nil for the overflow bucket) and above the previous bound.
type Bucket struct {
	Le    *float64 `json:"le"`
	Count int64    `json:"count"`
}

// ViewRow is one group of a view's rows.
type ViewRow struct {
	// Tags are the group's values of the group_by tags; null where the
	// measurements lacked the tag.
	Tags map[string]*string `json:"tags"`
	// Windows is how many windows (and series) were merged.
	Windows       int64      `json:"windows"`
	Count         int64      `json:"count"`
	Sum           float64    `json:"sum"`
	Min           *float64   `json:"min,omitempty"`
	Max           *float64   `json:"max,omitempty"`
	Buckets       []Bucket   `json:"buckets,omitempty"`
	LastValue     *float64   `json:"last_value,omitempty"`
	LastValueTime *time.Time `json:"last_value_time,omitempty"`
}

// ViewResult is the answer.
type ViewResult struct {
	Range
	View       string            `json:"view"`
	MetricType string            `json:"metric_type"`
	GroupBy    []string          `json:"group_by"`
	Filters    map[string]string `json:"filters"`
	Rows       []ViewRow         `json:"rows"`
}

// View aggregates the windows of a view that start in the range: counts,
// sums and bucket counts add up, min and max are the extremes, the last
// value is the one with the latest time. Groups come largest count first.
func (s *Store) View(ctx context.Context, q ViewQuery) (ViewResult, error) {
	return s.view(ctx, q, true)
}

// view is View, from the rollup when it answers and rollup allows it.
func (s *Store) view(ctx context.Context, q ViewQuery, rollup bool) (ViewResult, error) {
	res := ViewResult{Range: q.Range, View: q.View, GroupBy: q.GroupBy, Filters: q.Filters}
	if res.GroupBy == nil {
		res.GroupBy = []string{}
	}
	info, err := s.DescribeView(ctx, q.View)
	if err != nil {
		return res, err
	}
	res.MetricType = info.MetricType
	for _, k := range append(slices.Clone(q.GroupBy), sortedKeys(q.Filters)...) {
		if !slices.Contains(info.TagKeys, k) {
			return res, inputErrorf("view %q has no tag %q: its tags are %s", q.View, k, quoteList(info.TagKeys))
		}
	}
	if cols, ok := rollupColumns(q, info); ok && rollup {
		return s.viewFromRollup(ctx, q, cols, res)
	}
	filter := map[string]any{}
	for k, v := range q.Filters {
		filter[k] = v
	}
	args := []any{q.View, q.From, q.To, filter}
	groups := make([]string, len(q.GroupBy))
	for i, k := range q.GroupBy {
		args = append(args, k)
		groups[i] = fmt.Sprintf("tags->>$%d", len(args))
	}
	selectGroups, groupBy, orderBy := "", "", "total_count DESC"
	if len(groups) > 0 {
		selectGroups = strings.Join(groups, ", ") + ", "
		groupBy = "GROUP BY " + positions(len(groups))
		orderBy += ", " + positions(len(groups))
	}
	where := `view = $1 AND window_start >= $2 AND window_start < $3 AND tags @> $4::jsonb`
	// Without groups the aggregate is one row even over no windows (its sums
	// NULL): HAVING makes a range without windows answer no rows.
	having := ""
	if len(groups) == 0 {
		having = "HAVING count(*) > 0"
	}
	sql := `SELECT ` + selectGroups + `count(*) AS windows, sum(count)::bigint AS total_count, sum(sum)::float8, min(min), max(max),
			(array_agg(last_value ORDER BY last_value_time DESC NULLS LAST))[1], max(last_value_time)
		FROM ` + rowsTable + ` WHERE ` + where + ` ` + groupBy + ` ` + having + ` ORDER BY ` + orderBy +
		fmt.Sprintf(` LIMIT $%d`, len(args)+1)
	rows, err := s.db.Query(ctx, sql, append(slices.Clone(args), q.Limit)...)
	if err != nil {
		return res, fmt.Errorf("view %s: %w", q.View, err)
	}
	res.Rows, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (ViewRow, error) {
		vals := make([]*string, len(groups))
		r := ViewRow{Tags: map[string]*string{}}
		dest := make([]any, 0, len(groups)+7)
		for i := range vals {
			dest = append(dest, &vals[i])
		}
		dest = append(dest, &r.Windows, &r.Count, &r.Sum, &r.Min, &r.Max, &r.LastValue, &r.LastValueTime)
		err := row.Scan(dest...)
		for i, k := range q.GroupBy {
			r.Tags[k] = vals[i]
		}
		if r.LastValueTime != nil {
			t := r.LastValueTime.UTC()
			r.LastValueTime = &t
		}
		return r, err
	})
	if err != nil {
		return res, fmt.Errorf("view %s: %w", q.View, err)
	}
	if res.Rows == nil {
		res.Rows = []ViewRow{}
	}
	if info.MetricType == pgschema.MetricTypeHistogram {
		err = s.addBuckets(ctx, &res, where, selectGroups, groupBy, args)
	}
	return res, err
}

// rollupTagColumns are the tags the view rows' rollup keeps, by key, as
// its columns.
var rollupTagColumns = map[string]string{tagProduct: "product", tagProbe: "probe_name", tagChannel: "channel"}

// rollupColumns reports whether the rollup answers q, and its columns for
// q's tags: a sum view (whose rows have counts and sums only) over whole
// UTC days, grouped and filtered by tags the rollup keeps, filtered on
// values other than "" (the rollup's absent tag).
func rollupColumns(q ViewQuery, info ViewInfo) (map[string]string, bool) {
	if info.MetricType != pgschema.MetricTypeSum || !q.Range.dayAligned() || !q.To.After(q.From) {
		return nil, false
	}
	cols := map[string]string{}
	for _, k := range append(slices.Clone(q.GroupBy), sortedKeys(q.Filters)...) {
		c, ok := rollupTagColumns[k]
		if !ok {
			return nil, false
		}
		cols[k] = c
	}
	for _, v := range q.Filters {
		if v == "" {
			return nil, false
		}
	}
	return cols, true
}

// viewFromRollup answers View from the weeks and days of the rollup.
func (s *Store) viewFromRollup(ctx context.Context, q ViewQuery, cols map[string]string, res ViewResult) (ViewResult, error) {
	w0, w1 := weeks(q.Range)
	args := []any{q.View, q.From.UTC(), w0, w1, q.To.UTC()}
	var conds []string
	for _, k := range sortedKeys(q.Filters) {
		args = append(args, q.Filters[k])
		conds = append(conds, fmt.Sprintf("%s = $%d", cols[k], len(args)))
	}
	groups := make([]string, len(q.GroupBy))
	for i, k := range q.GroupBy {
		groups[i] = "nullif(" + cols[k] + ", '')"
	}
	selectGroups, groupBy, orderBy, having := "", "", "total_count DESC", "HAVING sum(windows) > 0"
	if len(groups) > 0 {
		selectGroups = strings.Join(groups, ", ") + ", "
		groupBy = "GROUP BY " + positions(len(groups))
		orderBy += ", " + positions(len(groups))
		having = ""
	}
	args = append(args, q.Limit)
	sql := `SELECT ` + selectGroups + `sum(windows)::bigint, sum(count)::bigint AS total_count, sum(sum)::float8
		FROM ` + periodRows(probeDaysTable, "product, probe_name, channel, windows, count, sum", "$1", "$2", "$3", "$4", "$5", strings.Join(conds, " AND ")) + ` p
		` + groupBy + ` ` + having + ` ORDER BY ` + orderBy + fmt.Sprintf(` LIMIT $%d`, len(args))
	rows, err := s.db.Query(ctx, sql, args...)
	if err != nil {
		return res, fmt.Errorf("view %s: %w", q.View, err)
	}
	res.Rows, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (ViewRow, error) {
		vals := make([]*string, len(groups))
		r := ViewRow{Tags: map[string]*string{}}
		dest := make([]any, 0, len(groups)+3)
		for i := range vals {
			dest = append(dest, &vals[i])
		}
		err := row.Scan(append(dest, &r.Windows, &r.Count, &r.Sum)...)
		for i, k := range q.GroupBy {
			r.Tags[k] = vals[i]
		}
		return r, err
	})
	if err != nil {
		return res, fmt.Errorf("view %s: %w", q.View, err)
	}
	if res.Rows == nil {
		res.Rows = []ViewRow{}
	}
	return res, nil
}

// addBuckets sums the bucket counts of each group, position by position,
// with the bounds of the view's latest row.
func (s *Store) addBuckets(ctx context.Context, res *ViewResult, where, selectGroups, groupBy string, args []any) error {
	n := len(res.GroupBy)
	pos := fmt.Sprint(n + 1)
	if groupBy == "" {
		groupBy = "GROUP BY " + pos
	} else {
		groupBy += ", " + pos
	}
	sql := `SELECT ` + selectGroups + `u.i, sum(u.c)::bigint
		FROM ` + rowsTable + `, unnest(bucket_counts) WITH ORDINALITY AS u(c, i)
		WHERE ` + where + ` ` + groupBy
	rows, err := s.db.Query(ctx, sql, args...)
	if err != nil {
		return fmt.Errorf("view %s buckets: %w", res.View, err)
	}
	counts := map[string][]int64{}
	for rows.Next() {
		vals := make([]*string, n)
		var i int
		var c int64
		dest := make([]any, 0, n+2)
		for j := range vals {
			dest = append(dest, &vals[j])
		}
		if err := rows.Scan(append(dest, &i, &c)...); err != nil {
			rows.Close()
			return fmt.Errorf("view %s buckets: %w", res.View, err)
		}
		key := groupKey(vals)
		for len(counts[key]) < i {
			counts[key] = append(counts[key], 0)
		}
		counts[key][i-1] = c
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("view %s buckets: %w", res.View, err)
	}
	var bounds []float64
	if err := s.db.QueryRow(ctx, `SELECT bucket_bounds FROM `+rowsTable+` WHERE view = $1 AND bucket_bounds IS NOT NULL
		ORDER BY window_start DESC LIMIT 1`, res.View).Scan(&bounds); err != nil {
		return fmt.Errorf("view %s bounds: %w", res.View, err)
	}
	for ri := range res.Rows {
		vals := make([]*string, n)
		for j, k := range res.GroupBy {
			vals[j] = res.Rows[ri].Tags[k]
		}
		for i, c := range counts[groupKey(vals)] {
			b := Bucket{Count: c}
			if i < len(bounds) {
				b.Le = &bounds[i]
			}
			res.Rows[ri].Buckets = append(res.Rows[ri].Buckets, b)
		}
	}
	return nil
}

func groupKey(vals []*string) string {
	var b strings.Builder
	for _, v := range vals {
		if v == nil {
			b.WriteString("\x00n")
			continue
		}
		b.WriteString("\x00v")
		b.WriteString(*v)
	}
	return b.String()
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func quoteList(items []string) string {
	if len(items) == 0 {
		return "(none yet)"
	}
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}

package grafana

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Grafana is not installable here, so these tests do what it does to a
// panel's SQL before PostgreSQL sees it, in its order: the browser puts in
// the dashboard's variables; the SQL data source puts in $__interval and
// friends (sqleng.Interpolate); then the PostgreSQL data source expands its
// macros (pkg/tsdb/grafana-postgresql-datasource/macros.go). Only what the
// dashboard may use is implemented; anything else is an error, so a panel
// cannot use a macro these tests do not expand.

// grafanaQuery is what Grafana asks the data source with: the dashboard's
// time range, the interval it chose for the panel, and the variables'
// values (every value of a multi-value variable set to All).
type grafanaQuery struct {
	from, to time.Time
	interval time.Duration
	vars     map[string][]string
}

var (
	// Grafana's template variable syntaxes: $name, ${name}, [[name]].
	variableRe = regexp.MustCompile(`\$\{(\w+)\}|\[\[(\w+)\]\]|\$(\w+)`)
	// The macro engine's expression: $name(args), args without ')'.
	macroRe = regexp.MustCompile(`\$([_a-zA-Z0-9]+)\(([^\)]*)\)`)
)

func (q grafanaQuery) expand(sql string) (string, error) {
	var errs []string
	sql = variableRe.ReplaceAllStringFunc(sql, func(m string) string {
		g := variableRe.FindStringSubmatch(m)
		name := g[1] + g[2] + g[3]
		if strings.HasPrefix(name, "__") {
			return m // Grafana's own, expanded below
		}
		values, ok := q.vars[name]
		if !ok {
			errs = append(errs, "unknown variable "+m)
			return m
		}
		// A multi-value variable in an SQL data source: quoted literals,
		// comma-separated, quotes doubled.
		quoted := make([]string, len(values))
		for i, v := range values {
			quoted[i] = "'" + strings.ReplaceAll(v, "'", "''") + "'"
		}
		return strings.Join(quoted, ",")
	})
	if len(errs) > 0 {
		return "", fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	sql = strings.NewReplacer(
		"$__interval_ms", strconv.FormatInt(q.interval.Milliseconds(), 10),
		"$__interval", formatInterval(q.interval),
		"$__unixEpochFrom()", strconv.FormatInt(q.from.Unix(), 10),
		"$__unixEpochTo()", strconv.FormatInt(q.to.Unix(), 10),
	).Replace(sql)
	var macroErr error
	out := macroRe.ReplaceAllStringFunc(sql, func(m string) string {
		g := macroRe.FindStringSubmatch(m)
		name, args := g[1], strings.Split(g[2], ",")
		for i := range args {
			args[i] = strings.Trim(args[i], " ")
		}
		// As Grafana: $__timeGroup right before a comma is the alias form
		// (compatibility with dashboards before 5.3).
		if name == "__timeGroup" {
			if i := strings.Index(sql, m); i >= 0 && i+len(m) < len(sql) && sql[i+len(m)] == ',' {
				name = "__timeGroupAlias"
			}
		}
		res, err := q.macro(name, args)
		if err != nil && macroErr == nil {
			macroErr = err
		}
		return res
	})
	return out, macroErr
}

func (q grafanaQuery) macro(name string, args []string) (string, error) {
	from, to := q.from.UTC().Format(time.RFC3339Nano), q.to.UTC().Format(time.RFC3339Nano)
	column := func() (string, error) {
		if len(args) == 0 || args[0] == "" {
			return "", fmt.Errorf("missing time column argument for macro %s", name)
		}
		return args[0], nil
	}
	switch name {
	case "__time":
		c, err := column()
		return c + ` AS "time"`, err
	case "__timeEpoch":
		c, err := column()
		return `extract(epoch from ` + c + `) as "time"`, err
	case "__timeFilter":
		c, err := column()
		return fmt.Sprintf("%s BETWEEN '%s' AND '%s'", c, from, to), err
	case "__timeFrom":
		return "'" + from + "'", nil
	case "__timeTo":
		return "'" + to + "'", nil
	case "__unixEpochFilter":
		c, err := column()
		return fmt.Sprintf("%s >= %d AND %s <= %d", c, q.from.Unix(), c, q.to.Unix()), err
	case "__timeGroup", "__timeGroupAlias":
		if len(args) != 2 {
			return "", fmt.Errorf("macro %s needs a time column and an interval (fill values are not expanded here)", name)
		}
		d, err := parseInterval(strings.Trim(args[1], "'"))
		if err != nil {
			return "", err
		}
		s := d.Seconds()
		expr := fmt.Sprintf("floor(extract(epoch from %s)/%v)*%v", args[0], s, s)
		if name == "__timeGroupAlias" {
			expr += ` AS "time"`
		}
		return expr, nil
	}
	return "", fmt.Errorf("unknown macro %q", name)
}

// parseInterval reads an interval as Grafana's gtime.ParseInterval: Go
// durations, and days and weeks.
func parseInterval(s string) (time.Duration, error) {
	for unit, d := range map[string]time.Duration{"d": 24 * time.Hour, "w": 7 * 24 * time.Hour} {
		if n, ok := strings.CutSuffix(s, unit); ok {
			if v, err := strconv.Atoi(n); err == nil && v > 0 {
				return time.Duration(v) * d, nil
			}
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("error parsing interval %q", s)
	}
	return d, nil
}

// formatInterval writes an interval as Grafana's gtime.FormatInterval: in
// its largest whole unit.
func formatInterval(d time.Duration) string {
	for _, u := range []struct {
		d    time.Duration
		name string
	}{{365 * 24 * time.Hour, "y"}, {24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}, {time.Millisecond, "ms"}} {
		if d >= u.d {
			return fmt.Sprintf("%d%s", d/u.d, u.name)
		}
	}
	return "1ms"
}

// The expansions Grafana's documentation and macro tests show.
func TestMacrosExpandAsGrafanaDoes(t *testing.T) {
	q := grafanaQuery{
		from:     time.Date(2017, 4, 21, 5, 1, 17, 0, time.UTC),
		to:       time.Date(2017, 4, 21, 5, 6, 17, 0, time.UTC),
		interval: 5 * time.Minute,
		vars:     map[string][]string{"product": {"fog", "it's"}},
	}
	for in, want := range map[string]string{
		"WHERE $__timeFilter(time_column)":                   "WHERE time_column BETWEEN '2017-04-21T05:01:17Z' AND '2017-04-21T05:06:17Z'",
		"SELECT $__timeGroup(time_column,'5m')":              "SELECT floor(extract(epoch from time_column)/300)*300",
		"SELECT $__timeGroup(time_column,'5m'), value":       `SELECT floor(extract(epoch from time_column)/300)*300 AS "time", value`,
		"SELECT $__timeGroupAlias(time_column, '1d')":        `SELECT floor(extract(epoch from time_column)/86400)*86400 AS "time"`,
		"SELECT $__timeGroupAlias(time_column, $__interval)": `SELECT floor(extract(epoch from time_column)/300)*300 AS "time"`,
		"SELECT $__time(dateColumn)":                         `SELECT dateColumn AS "time"`,
		"SELECT $__timeEpoch(dateColumn)":                    `SELECT extract(epoch from dateColumn) as "time"`,
		"WHERE t > $__timeFrom() AND t < $__timeTo()":        "WHERE t > '2017-04-21T05:01:17Z' AND t < '2017-04-21T05:06:17Z'",
		"WHERE $__unixEpochFilter(dateColumn)":               "WHERE dateColumn >= 1492750877 AND dateColumn <= 1492751177",
		"LIMIT $__interval_ms":                               "LIMIT 300000",
		"WHERE product IN ($product)":                        "WHERE product IN ('fog','it''s')",
		"WHERE product IN (${product})":                      "WHERE product IN ('fog','it''s')",
	} {
		got, err := q.expand(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for in, want := range map[string]string{
		"$__timeFilter()":                 "missing time column",
		"$__timeGroup(t, 'forever')":      "error parsing interval",
		"$__timeGroup(t, '1h', previous)": "fill values are not expanded here",
		"$__timeGroupAlias(t)":            "needs a time column and an interval",
		"$__schema()":                     `unknown macro "__schema"`,
		"channel = $channel":              "unknown variable $channel",
	} {
		_, err := q.expand(in)
		assert.ErrorContains(t, err, want, in)
	}
	assert.Equal(t, "1d", formatInterval(24*time.Hour))
	assert.Equal(t, "2h", formatInterval(150*time.Minute))
}

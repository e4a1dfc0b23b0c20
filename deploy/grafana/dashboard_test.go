package grafana

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/mozilla/otelcol-glam/internal/pgschema"
	"github.com/mozilla/otelcol-glam/internal/pgtest"
	"github.com/mozilla/otelcol-glam/processor/glamviewsprocessor"
)

const (
	dashboardFile  = "dashboards/glam-usage.json"
	datasourceFile = "provisioning/datasources/glam-usage.yaml"
	providerFile   = "provisioning/dashboards/glam-usage.yaml"
	readerFile     = "reader.sql"
)

type datasourceRef struct {
	Type string `json:"type" yaml:"type"`
	UID  string `json:"uid" yaml:"uid"`
}

type target struct {
	RefID      string        `json:"refId"`
	Datasource datasourceRef `json:"datasource"`
	EditorMode string        `json:"editorMode"`
	Format     string        `json:"format"`
	RawQuery   bool          `json:"rawQuery"`
	RawSQL     string        `json:"rawSql"`
}

type panel struct {
	ID          int           `json:"id"`
	Type        string        `json:"type"`
	Title       string        `json:"title"`
	Description string        `json:"description"`
	Datasource  datasourceRef `json:"datasource"`
	Interval    string        `json:"interval"`
	GridPos     struct {
		X, Y, W, H int
	} `json:"gridPos"`
	Targets []target `json:"targets"`
}

type dashboard struct {
	UID           string  `json:"uid"`
	Title         string  `json:"title"`
	SchemaVersion int     `json:"schemaVersion"`
	Timezone      string  `json:"timezone"`
	Panels        []panel `json:"panels"`
	Time          struct {
		From, To string
	} `json:"time"`
	Templating struct {
		List []struct {
			Name       string        `json:"name"`
			Type       string        `json:"type"`
			Datasource datasourceRef `json:"datasource"`
			Query      string        `json:"query"`
			Multi      bool          `json:"multi"`
			IncludeAll bool          `json:"includeAll"`
		} `json:"list"`
	} `json:"templating"`
}

func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	raw, err := os.ReadFile(dashboardFile)
	require.NoError(t, err)
	var d dashboard
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	require.NoError(t, dec.Decode(&d))
	return d
}

type datasourceFileContent struct {
	APIVersion  int `yaml:"apiVersion"`
	Datasources []struct {
		Name           string            `yaml:"name"`
		UID            string            `yaml:"uid"`
		Type           string            `yaml:"type"`
		Access         string            `yaml:"access"`
		URL            string            `yaml:"url"`
		User           string            `yaml:"user"`
		JSONData       map[string]any    `yaml:"jsonData"`
		SecureJSONData map[string]string `yaml:"secureJsonData"`
		Editable       bool              `yaml:"editable"`
	} `yaml:"datasources"`
}

func loadYAML(t *testing.T, path string, out any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(true)
	require.NoError(t, dec.Decode(out), path)
}

// The views the panels may read: GLAM's default views, which glam_views
// writes unless configured otherwise.
var defaultViews = []string{
	glamviewsprocessor.ViewProbeViewsHourly, glamviewsprocessor.ViewProbeViewsDaily, glamviewsprocessor.ViewProbeSessionsDaily,
	glamviewsprocessor.ViewSessions, glamviewsprocessor.ViewSessionProbes, glamviewsprocessor.ViewSearchesDaily,
	glamviewsprocessor.ViewPageViewsDaily, glamviewsprocessor.ViewActionsDaily, glamviewsprocessor.ViewSessionActions,
}

var viewLiteral = regexp.MustCompile(`view (?:= |IN \()'([^']+)'(?:, '([^']+)')*`)

func TestDashboardStructure(t *testing.T) {
	d := loadDashboard(t)
	var ds datasourceFileContent
	loadYAML(t, datasourceFile, &ds)
	require.Len(t, ds.Datasources, 1)
	want := datasourceRef{Type: ds.Datasources[0].Type, UID: ds.Datasources[0].UID}

	assert.Equal(t, "glam-usage", d.UID)
	assert.NotEmpty(t, d.Title)
	assert.GreaterOrEqual(t, d.SchemaVersion, 36, "a dashboard of Grafana 10 or later (datasource refs by uid)")
	assert.Equal(t, "utc", d.Timezone, "views are UTC windows")
	assert.NotEmpty(t, d.Time.From)

	vars := map[string]bool{}
	for _, v := range d.Templating.List {
		vars[v.Name] = true
		assert.Equal(t, want, v.Datasource, "variable %s", v.Name)
		assert.Equal(t, "query", v.Type)
		assert.NotEmpty(t, v.Query)
	}

	require.NotEmpty(t, d.Panels)
	ids := map[int]bool{}
	var cells [][2]int
	for _, p := range d.Panels {
		at := fmt.Sprintf("panel %d %q", p.ID, p.Title)
		assert.Positive(t, p.ID, at)
		assert.False(t, ids[p.ID], "%s: ids are unique", at)
		ids[p.ID] = true
		assert.NotEmpty(t, p.Title, at)
		assert.NotEmpty(t, p.Description, "%s: says what it shows and from which view", at)
		assert.Contains(t, []string{"stat", "timeseries", "table"}, p.Type, at)
		assert.Equal(t, want, p.Datasource, "%s: the provisioned data source", at)
		g := p.GridPos
		assert.True(t, g.W > 0 && g.H > 0 && g.X >= 0 && g.Y >= 0 && g.X+g.W <= 24, "%s: gridPos %+v inside the 24 columns", at, g)
		for x := g.X; x < g.X+g.W; x++ {
			for y := g.Y; y < g.Y+g.H; y++ {
				assert.NotContains(t, cells, [2]int{x, y}, "%s overlaps another panel", at)
				cells = append(cells, [2]int{x, y})
			}
		}
		if p.Interval != "" {
			_, err := parseInterval(p.Interval)
			assert.NoError(t, err, at)
		}
		require.NotEmpty(t, p.Targets, at)
		refs := map[string]bool{}
		for _, tg := range p.Targets {
			assert.NotEmpty(t, tg.RefID, at)
			assert.False(t, refs[tg.RefID], "%s: refIds are unique", at)
			refs[tg.RefID] = true
			assert.Equal(t, want, tg.Datasource, at)
			assert.True(t, tg.RawQuery, at)
			assert.Equal(t, "code", tg.EditorMode, at)
			assert.NotEmpty(t, tg.RawSQL, at)
			assert.Contains(t, tg.RawSQL, "$__timeFilter(window_start)", "%s: bounded by the dashboard's time range", at)
			if p.Type == "timeseries" {
				assert.Equal(t, "time_series", tg.Format, at)
				assert.Contains(t, tg.RawSQL, "$__timeGroupAlias(window_start, ", at)
			} else {
				assert.Equal(t, "table", tg.Format, at)
			}
			for _, m := range variableRe.FindAllStringSubmatch(tg.RawSQL, -1) {
				if name := m[1] + m[2] + m[3]; !strings.HasPrefix(name, "__") {
					assert.True(t, vars[name], "%s: variable $%s is defined", at, name)
				}
			}
			found := viewLiteral.FindAllStringSubmatch(tg.RawSQL, -1)
			require.NotEmpty(t, found, "%s: reads named views", at)
			for _, m := range found {
				for _, v := range m[1:] {
					if v != "" {
						assert.Contains(t, defaultViews, v, "%s: a view glam_views writes by default", at)
					}
				}
			}
		}
	}
}

func TestProvisioningFiles(t *testing.T) {
	var ds datasourceFileContent
	loadYAML(t, datasourceFile, &ds)
	assert.Equal(t, 1, ds.APIVersion)
	require.Len(t, ds.Datasources, 1)
	src := ds.Datasources[0]
	assert.Equal(t, "grafana-postgresql-datasource", src.Type)
	assert.Equal(t, "glam-usage-postgres", src.UID)
	assert.Equal(t, "proxy", src.Access)
	assert.Equal(t, "${GLAM_GRAFANA_PG_HOST}", src.URL)
	assert.Equal(t, "${GLAM_GRAFANA_PG_USER}", src.User)
	assert.Equal(t, "${GLAM_GRAFANA_PG_DATABASE}", src.JSONData["database"])
	assert.Equal(t, map[string]string{"password": "${GLAM_GRAFANA_PG_PASSWORD}"}, src.SecureJSONData, "no password in the file")
	assert.Equal(t, "1h", src.JSONData["timeInterval"], "the finest view is hourly")
	assert.Equal(t, 1500, src.JSONData["postgresVersion"])
	assert.False(t, src.Editable, "provisioned, so changed in the file only")

	var prov struct {
		APIVersion int `yaml:"apiVersion"`
		Providers  []struct {
			Name                  string `yaml:"name"`
			Folder                string `yaml:"folder"`
			Type                  string `yaml:"type"`
			DisableDeletion       bool   `yaml:"disableDeletion"`
			AllowUIUpdates        bool   `yaml:"allowUiUpdates"`
			UpdateIntervalSeconds int    `yaml:"updateIntervalSeconds"`
			Options               struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	loadYAML(t, providerFile, &prov)
	assert.Equal(t, 1, prov.APIVersion)
	require.Len(t, prov.Providers, 1)
	assert.Equal(t, "file", prov.Providers[0].Type)
	assert.Equal(t, "/var/lib/grafana/dashboards/glam", prov.Providers[0].Options.Path)
}

// ---- every panel's SQL on known view rows ----------------------------------

var day0 = time.Date(2024, 5, 6, 0, 0, 0, 0, time.UTC)

func at(day int, clock string) time.Time {
	c, err := time.Parse("15:04", clock)
	if err != nil {
		panic(err)
	}
	return day0.AddDate(0, 0, day).Add(time.Duration(c.Hour())*time.Hour + time.Duration(c.Minute())*time.Minute)
}

type viewRow struct {
	view       string
	start, end time.Time
	tags       map[string]string
	count      int64
}

func hourly(start time.Time, product, probe, channel string, n int64) viewRow {
	return viewRow{glamviewsprocessor.ViewProbeViewsHourly, start, start.Add(time.Hour),
		map[string]string{"glam.product": product, "glam.probe.name": probe, "glam.probe.process": "parent", "glam.channel": channel}, n}
}

func daily(view string, d int, tags map[string]string, n int64) viewRow {
	return viewRow{view, at(d, "00:00"), at(d+1, "00:00"), tags, n}
}

func session(id string, start, end time.Time, n int64) viewRow {
	return viewRow{glamviewsprocessor.ViewSessions, start, end, map[string]string{"session.id": id}, n}
}

// knownRows are the view rows the expectations below are worked out from:
// days 0 and 1 are in the dashboard's range, day -1 is not.
var knownRows = []viewRow{
	hourly(at(0, "10:00"), "fog", "gc_ms", "nightly", 3),
	hourly(at(0, "10:00"), "fog", "gc_ms", "beta", 1),
	hourly(at(0, "11:00"), "firefox", "cpu", "release", 2),
	hourly(at(1, "09:00"), "fog", "gc_ms", "nightly", 2),
	hourly(at(1, "09:00"), "fenix", "startup", "beta", 1),
	hourly(at(-1, "23:00"), "fog", "gc_ms", "nightly", 5),
	daily(glamviewsprocessor.ViewProbeSessionsDaily, 0, map[string]string{"glam.product": "fog", "glam.probe.name": "gc_ms", "session.id": "s1"}, 3),
	daily(glamviewsprocessor.ViewProbeSessionsDaily, 0, map[string]string{"glam.product": "fog", "glam.probe.name": "gc_ms", "session.id": "s2"}, 1),
	daily(glamviewsprocessor.ViewProbeSessionsDaily, 0, map[string]string{"glam.product": "firefox", "glam.probe.name": "cpu", "session.id": "s1"}, 2),
	daily(glamviewsprocessor.ViewProbeSessionsDaily, 1, map[string]string{"glam.product": "fog", "glam.probe.name": "gc_ms", "session.id": "s3"}, 2),
	daily(glamviewsprocessor.ViewProbeSessionsDaily, 1, map[string]string{"glam.product": "fenix", "glam.probe.name": "startup", "session.id": "s3"}, 1),
	daily(glamviewsprocessor.ViewProbeSessionsDaily, -1, map[string]string{"glam.product": "fog", "glam.probe.name": "gc_ms", "session.id": "s0"}, 5),
	session("s1", at(0, "10:00"), at(0, "10:20"), 6),
	session("s2", at(0, "10:30"), at(0, "10:35"), 2),
	session("s3", at(1, "09:00"), at(1, "09:40"), 4),
	session("s0", at(-1, "22:00"), at(-1, "23:10"), 3),
	daily(glamviewsprocessor.ViewSearchesDaily, 0, map[string]string{"glam.product": "fog"}, 2),
	daily(glamviewsprocessor.ViewSearchesDaily, 1, map[string]string{}, 1),
	daily(glamviewsprocessor.ViewSearchesDaily, -1, map[string]string{"glam.product": "fog"}, 7),
	daily(glamviewsprocessor.ViewPageViewsDaily, 0, map[string]string{}, 3),
	daily(glamviewsprocessor.ViewPageViewsDaily, 1, map[string]string{}, 1),
	daily(glamviewsprocessor.ViewActionsDaily, 0, map[string]string{"glam.action": "view-sql-query", "glam.product": "fog"}, 2),
	daily(glamviewsprocessor.ViewActionsDaily, 1, map[string]string{"glam.action": "export-json", "glam.product": "fog"}, 1),
	daily(glamviewsprocessor.ViewActionsDaily, 1, map[string]string{"glam.action": "view-sql-query", "glam.product": "firefox"}, 1),
}

func knownDatabase(t *testing.T) *pgxpool.Pool {
	t.Helper()
	ctx := context.Background()
	db, err := pgxpool.New(ctx, pgtest.NewDatabase(t))
	require.NoError(t, err)
	t.Cleanup(db.Close)
	require.NoError(t, pgschema.Migrate(ctx, db))
	for _, r := range knownRows {
		tags, err := json.Marshal(r.tags)
		require.NoError(t, err)
		_, err = db.Exec(ctx, `INSERT INTO `+pgschema.ViewRowsTable+`
			(view, window_start, tags_hash, tags, window_end, metric_type, count, sum)
			VALUES ($1, $2, sha256(convert_to($3::text, 'UTF8')), $3::jsonb, $4, '`+pgschema.MetricTypeSum+`', $5::bigint, $5::float8)`,
			r.view, r.start, string(tags), r.end, r.count)
		require.NoError(t, err)
	}
	return db
}

// result is a query's columns and rows, times as epoch seconds and every
// number as a float64, as Grafana's frames hold them.
type result struct {
	columns []string
	rows    [][]any
}

func normalize(v any) any {
	switch v := v.(type) {
	case pgtype.Numeric:
		f, err := v.Float64Value()
		if err != nil || !f.Valid {
			return nil
		}
		return f.Float64
	case int64:
		return float64(v)
	case int32:
		return float64(v)
	case float32:
		return float64(v)
	case time.Time:
		return float64(v.Unix())
	}
	return v
}

// run runs sql as role, which may only read the view rows (reader.sql), in
// the simple protocol: a raw query, as Grafana sends it.
func run(t *testing.T, db *pgxpool.Pool, role, sql string) (result, error) {
	t.Helper()
	ctx := context.Background()
	tx, err := db.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	_, err = tx.Exec(ctx, "SET LOCAL ROLE "+pgx.Identifier{role}.Sanitize())
	require.NoError(t, err)
	rows, err := tx.Query(ctx, sql, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		return result{}, err
	}
	defer rows.Close()
	var res result
	for _, f := range rows.FieldDescriptions() {
		res.columns = append(res.columns, f.Name)
	}
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return res, err
		}
		row := make([]any, len(vals))
		for i, v := range vals {
			row[i] = normalize(v)
		}
		res.rows = append(res.rows, row)
	}
	return res, rows.Err()
}

// readerRole creates the role of reader.sql under a name of this test's
// (roles are the whole server's) and drops it at the end.
func readerRole(t *testing.T, db *pgxpool.Pool) string {
	t.Helper()
	ctx := context.Background()
	sql, err := os.ReadFile(readerFile)
	require.NoError(t, err)
	name := fmt.Sprintf("grafana_glam_test_%d", time.Now().UnixNano())
	_, err = db.Exec(ctx, strings.ReplaceAll(string(sql), "grafana_glam", name))
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = db.Exec(ctx, "DROP OWNED BY "+name)
		_, _ = db.Exec(ctx, "DROP ROLE "+name)
	})
	return name
}

var (
	epoch = func(tm time.Time) float64 { return float64(tm.Unix()) }
	// The range: days 0 and 1, as Grafana sends "these two days".
	twoDays = grafanaQuery{from: day0, to: at(2, "00:00").Add(-time.Millisecond), interval: time.Hour}
)

// Expected answers, worked out by hand from knownRows, per panel title.
// Durations: s1 1200 s, s2 300 s on day 0 (median 750, p90 300 + 0.9 *
// 900); s3 2400 s on day 1.
func expectedAllProducts() map[string]result {
	return map[string]result{
		"Sessions":       {[]string{"sessions"}, [][]any{{3.0}}},
		"Probe views":    {[]string{"probe views"}, [][]any{{9.0}}},
		"Searches":       {[]string{"searches"}, [][]any{{3.0}}},
		"Median session": {[]string{"median session"}, [][]any{{1200.0}}},
		"Probe views by product": {[]string{"time", "metric", "views"}, [][]any{
			{epoch(at(0, "10:00")), "fog", 4.0}, {epoch(at(0, "11:00")), "firefox", 2.0},
			{epoch(at(1, "09:00")), "fenix", 1.0}, {epoch(at(1, "09:00")), "fog", 2.0},
		}},
		"Top probes": {[]string{"product", "probe", "views", "sessions"}, [][]any{
			{"fog", "gc_ms", 6.0, 3.0}, {"firefox", "cpu", 2.0, 1.0}, {"fenix", "startup", 1.0, 1.0},
		}},
		"Probe views by channel": {[]string{"time", "metric", "views"}, [][]any{
			{epoch(at(0, "10:00")), "beta", 1.0}, {epoch(at(0, "10:00")), "nightly", 3.0}, {epoch(at(0, "11:00")), "release", 2.0},
			{epoch(at(1, "09:00")), "beta", 1.0}, {epoch(at(1, "09:00")), "nightly", 2.0},
		}},
		"Sessions per day": {[]string{"time", "sessions"}, [][]any{{epoch(at(0, "00:00")), 2.0}, {epoch(at(1, "00:00")), 1.0}}},
		"Session length per day": {[]string{"time", "median", "p90"}, [][]any{
			{epoch(at(0, "00:00")), 750.0, 1110.0}, {epoch(at(1, "00:00")), 2400.0, 2400.0},
		}},
		"Searches and page views per day": {[]string{"time", "searches", "page views"}, [][]any{
			{epoch(at(0, "00:00")), 2.0, 3.0}, {epoch(at(1, "00:00")), 1.0, 1.0},
		}},
		"Clicks by action": {[]string{"action", "clicks"}, [][]any{{"view-sql-query", 3.0}, {"export-json", 1.0}}},
	}
}

// With product fog and a daily $__interval, the panels that filter on
// product change; the others answer as above.
func expectedFogDaily() map[string]result {
	want := expectedAllProducts()
	want["Probe views"] = result{[]string{"probe views"}, [][]any{{6.0}}}
	want["Probe views by product"] = result{[]string{"time", "metric", "views"}, [][]any{
		{epoch(at(0, "00:00")), "fog", 4.0}, {epoch(at(1, "00:00")), "fog", 2.0},
	}}
	want["Top probes"] = result{[]string{"product", "probe", "views", "sessions"}, [][]any{{"fog", "gc_ms", 6.0, 3.0}}}
	want["Probe views by channel"] = result{[]string{"time", "metric", "views"}, [][]any{
		{epoch(at(0, "00:00")), "beta", 1.0}, {epoch(at(0, "00:00")), "nightly", 3.0}, {epoch(at(1, "00:00")), "nightly", 2.0},
	}}
	return want
}

func TestEveryPanelOnKnownViewRows(t *testing.T) {
	d := loadDashboard(t)
	db := knownDatabase(t)
	role := readerRole(t, db)

	// The product variable's own query: All is every product it lists.
	require.Len(t, d.Templating.List, 1)
	varSQL, err := twoDays.expand(d.Templating.List[0].Query)
	require.NoError(t, err)
	products, err := run(t, db, role, varSQL)
	require.NoError(t, err)
	assert.Equal(t, [][]any{{"fenix"}, {"firefox"}, {"fog"}}, products.rows, "the products viewed in the range, sorted")
	var all []string
	for _, r := range products.rows {
		all = append(all, r[0].(string))
	}

	allProducts, fogDaily := twoDays, twoDays
	allProducts.vars = map[string][]string{"product": all}
	fogDaily.vars, fogDaily.interval = map[string][]string{"product": {"fog"}}, 24*time.Hour
	for name, c := range map[string]struct {
		q    grafanaQuery
		want map[string]result
	}{"all products, hourly": {allProducts, expectedAllProducts()}, "fog, daily": {fogDaily, expectedFogDaily()}} {
		t.Run(name, func(t *testing.T) {
			seen := map[string]bool{}
			for _, p := range d.Panels {
				q := c.q
				// Grafana never goes below a panel's minimum interval.
				if p.Interval != "" {
					minimum, err := parseInterval(p.Interval)
					require.NoError(t, err)
					q.interval = max(q.interval, minimum)
				}
				for _, tg := range p.Targets {
					sql, err := q.expand(tg.RawSQL)
					require.NoError(t, err, p.Title)
					got, err := run(t, db, role, sql)
					require.NoError(t, err, "%s: %s", p.Title, sql)
					want, ok := c.want[p.Title]
					require.True(t, ok, "no expectation for panel %q", p.Title)
					seen[p.Title] = true
					assert.Equal(t, want.columns, got.columns, p.Title)
					assertRows(t, want.rows, got.rows, p.Title)
					if tg.Format == "time_series" {
						assertTimeSeries(t, got, p.Title)
					}
				}
			}
			for title := range c.want {
				assert.True(t, seen[title], "panel %q is on the dashboard", title)
			}
		})
	}

	// The reader role is all Grafana needs, and all it gets: no raw events.
	_, err = run(t, db, role, "SELECT count(*) FROM "+pgschema.EventsTable)
	assert.ErrorContains(t, err, "permission denied")
}

// assertRows compares rows, numbers to 1e-9.
func assertRows(t *testing.T, want, got [][]any, what string) {
	t.Helper()
	require.Len(t, got, len(want), "%s: %v", what, got)
	for i := range want {
		require.Len(t, got[i], len(want[i]), "%s row %d", what, i)
		for j := range want[i] {
			w, isNum := want[i][j].(float64)
			g, gotNum := got[i][j].(float64)
			if isNum && gotNum {
				assert.LessOrEqual(t, math.Abs(w-g), 1e-9, "%s row %d column %d: %v, want %v", what, i, j, g, w)
				continue
			}
			assert.Equal(t, want[i][j], got[i][j], "%s row %d column %d", what, i, j)
		}
	}
}

// assertTimeSeries checks what Grafana needs of a time series frame: a
// time column first, sorted; a string metric column or none; numbers in
// the rest.
func assertTimeSeries(t *testing.T, r result, what string) {
	t.Helper()
	require.NotEmpty(t, r.columns, what)
	assert.Equal(t, "time", r.columns[0], what)
	times := make([]float64, len(r.rows))
	for i, row := range r.rows {
		times[i] = row[0].(float64)
		for j, v := range row[1:] {
			if r.columns[j+1] == "metric" {
				assert.IsType(t, "", v, what)
				continue
			}
			assert.IsType(t, 0.0, v, "%s: column %s is a number", what, r.columns[j+1])
		}
	}
	assert.True(t, slices.IsSorted(times), "%s: sorted by time", what)
}

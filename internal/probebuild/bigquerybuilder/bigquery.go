package bigquerybuilder

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"cloud.google.com/go/bigquery"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
)

// Builder builds probes from GLAM ETL's per-client daily aggregate
// tables. Its queries are parameterized: request values travel as query
// parameters, and the only values placed in the SQL text are table names
// from the config, whose placeholders are filled with values Normalize
// restricted to [a-z0-9_].
type Builder struct {
	client *bigquery.Client
	cfg    Config
	// now is the clock lookback_days counts from.
	now func() time.Time
}

// New connects to BigQuery: to cfg.Endpoint without
// credentials when set (an emulator), else with cfg.CredentialsFile or the
// application default credentials.
func New(ctx context.Context, cfg Config, with ...Option) (*Builder, error) {
	var opts []option.ClientOption
	switch {
	case cfg.Endpoint != "":
		opts = append(opts, option.WithEndpoint(cfg.Endpoint), option.WithoutAuthentication())
	case cfg.CredentialsFile != "":
		opts = append(opts, option.WithAuthCredentialsFile(option.ServiceAccount, cfg.CredentialsFile))
	}
	client, err := bigquery.NewClient(ctx, cfg.ProjectID, opts...)
	if err != nil {
		return nil, fmt.Errorf("bigquery client: %w", err)
	}
	client.Location = cfg.Location
	b := &Builder{client: client, cfg: cfg, now: time.Now}
	for _, o := range with {
		o(b)
	}
	return b, nil
}

// Option changes a new Builder.
type Option func(*Builder)

// WithClock sets the clock lookback_days counts back from (time.Now).
func WithClock(now func() time.Time) Option {
	return func(b *Builder) { b.now = now }
}

// Close releases the client.
func (b *Builder) Close() error { return b.client.Close() }

// Build runs the probe's histogram query and, when the probe is not a
// histogram, its scalar query.
func (b *Builder) Build(ctx context.Context, build Build, progress Progress) (Output, error) {
	src := b.cfg.Tables.For(build.Product)
	out := Output{Table: AggregationTable(build)}
	p := b.params(build, src)
	kinds := []struct {
		name, table string
		run         func(context.Context, string, queryParams, Progress) ([]Row, []int64, error)
	}{
		{"histogram", src.Histogram, b.histograms},
		{"scalar", src.Scalar, b.scalars},
	}
	var tried []string
	for i, k := range kinds {
		if k.table == "" {
			continue
		}
		table := fillTable(k.table, build)
		tried = append(tried, table)
		progress("querying "+k.name+"s in BigQuery", 0.05+0.45*float64(i))
		rows, versions, err := k.run(ctx, table, p, func(stage string, f float64) {
			progress(stage, 0.05+0.45*float64(i)+0.45*f)
		})
		if err != nil {
			return out, classify(fmt.Errorf("%s query on %s: %w", k.name, table, err))
		}
		if len(rows) > 0 {
			out.Rows, out.Versions = rows, versions
			return out, nil
		}
	}
	return out, PermanentError{fmt.Errorf("probe %q has no data for %s channel %q in %s",
		build.Probe, build.Product, build.Channel, strings.Join(tried, " or "))}
}

// queryParams are the values a build's queries take as parameters.
type queryParams struct {
	build           Build
	since           time.Time
	sampled         bool
	minBuildClients int64
	minTotalUsers   int64
}

func (b *Builder) params(build Build, src SourceTables) queryParams {
	p := queryParams{
		build:           build,
		since:           time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		sampled:         build.Channel == "release",
		minBuildClients: src.MinBuildClients[build.Channel],
		minTotalUsers:   src.MinTotalUsers,
	}
	if b.cfg.LookbackDays > 0 {
		p.since = b.now().UTC().AddDate(0, 0, -b.cfg.LookbackDays)
	}
	return p
}

func (p queryParams) bigquery() []bigquery.QueryParameter {
	return []bigquery.QueryParameter{
		{Name: "channel", Value: p.build.Channel},
		{Name: "probe", Value: p.build.Probe},
		{Name: "versions", Value: int64(p.build.Versions)},
		{Name: "since", Value: civilDate(p.since)},
		{Name: "sampled", Value: p.sampled},
		{Name: "min_build_clients", Value: p.minBuildClients},
	}
}

// fillTable puts a build's values in a configured table name and quotes it.
func fillTable(table string, b Build) string {
	r := strings.NewReplacer("{channel}", b.Channel, "{app_id}", b.AppID, "{ping_type}", b.PingType)
	return "`" + r.Replace(table) + "`"
}

// run executes a query and passes each row to each.
func (b *Builder) run(ctx context.Context, sql string, params []bigquery.QueryParameter, progress Progress, each func(it *bigquery.RowIterator) error) error {
	q := b.client.Query(sql)
	q.Parameters = params
	job, err := q.Run(ctx)
	if err != nil {
		return err
	}
	progress("waiting for BigQuery", 0.1)
	status, err := job.Wait(ctx)
	if err != nil {
		return err
	}
	if err := status.Err(); err != nil {
		return err
	}
	it, err := job.Read(ctx)
	if err != nil {
		return err
	}
	for n := 0; ; n++ {
		if err := each(it); err != nil {
			if errors.Is(err, iterator.Done) {
				return nil
			}
			return err
		}
		if it.TotalRows > 0 && n%100 == 0 {
			progress("reading rows from BigQuery", 0.2+0.8*float64(n)/float64(it.TotalRows))
		}
	}
}

// classify marks errors retrying cannot fix (a missing table, a query
// BigQuery rejects) as permanent.
func classify(err error) error {
	var gerr *googleapi.Error
	if !errors.As(err, &gerr) {
		return err
	}
	for _, e := range gerr.Errors {
		switch e.Reason {
		case "rateLimitExceeded", "quotaExceeded", "backendError", "internalError":
			return err // 403s among them: they pass
		}
	}
	switch gerr.Code {
	case http.StatusBadRequest, http.StatusNotFound, http.StatusForbidden:
		return PermanentError{err}
	}
	return err
}

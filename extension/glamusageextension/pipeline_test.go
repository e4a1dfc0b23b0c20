package glamusageextension

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/mozilla/otelcol-glam/exporter/glampostgresexporter"
	"github.com/mozilla/otelcol-glam/internal/pgtest"
	"github.com/mozilla/otelcol-glam/internal/usageapi"
	"github.com/mozilla/otelcol-glam/internal/usageapi/usagetest"
	"github.com/mozilla/otelcol-glam/processor/glamviewsprocessor"
	"github.com/mozilla/otelcol-glam/receiver/glameventlogreceiver"
	"github.com/mozilla/otelcol-glam/receiver/glamreceiver"
)

// pipeline is the collector's usage pipeline built in-process from the
// components' factories: glam receiver -> logs -> glam_postgres (the event
// log), and glam_eventlog -> measurements -> glam_views -> glam_postgres.
type pipeline struct {
	ingest string // the receiver's OTLP logs URL
}

func startPipeline(t *testing.T, dsn string) pipeline {
	t.Helper()
	ctx := context.Background()
	var started []component.Component
	t.Cleanup(func() {
		for i := len(started) - 1; i >= 0; i-- {
			require.NoError(t, started[i].Shutdown(context.Background()))
		}
	})
	start := func(c component.Component) {
		require.NoError(t, c.Start(ctx, componenttest.NewNopHost()))
		started = append(started, c)
	}

	ef := glampostgresexporter.NewFactory()
	ecfg := ef.CreateDefaultConfig().(*glampostgresexporter.Config)
	ecfg.Postgres.DSN = configopaque.String(dsn)
	eset := exportertest.NewNopSettings(ef.Type())
	logsOut, err := ef.CreateLogs(ctx, eset, ecfg)
	require.NoError(t, err)
	metricsOut, err := ef.CreateMetrics(ctx, eset, ecfg)
	require.NoError(t, err)
	start(logsOut)
	start(metricsOut)

	pf := glamviewsprocessor.NewFactory()
	pcfg := pf.CreateDefaultConfig().(*glamviewsprocessor.Config)
	pcfg.FlushInterval = 200 * time.Millisecond
	views, err := pf.CreateMetrics(ctx, processortest.NewNopSettings(pf.Type()), pcfg, metricsOut)
	require.NoError(t, err)
	start(views)

	lf := glameventlogreceiver.NewFactory()
	lcfg := lf.CreateDefaultConfig().(*glameventlogreceiver.Config)
	lcfg.DSN = configopaque.String(dsn)
	lcfg.Backoff = 50 * time.Millisecond
	log, err := lf.CreateMetrics(ctx, receivertest.NewNopSettings(lf.Type()), lcfg, views)
	require.NoError(t, err)
	start(log)

	rf := glamreceiver.NewFactory()
	rcfg := rf.CreateDefaultConfig().(*glamreceiver.Config)
	rcfg.ServerConfig.NetAddr.Endpoint = freeEndpoint(t)
	rset := receivertest.NewNopSettings(rf.Type())
	logsIn, err := rf.CreateLogs(ctx, rset, rcfg, logsOut)
	require.NoError(t, err)
	start(logsIn)
	return pipeline{ingest: "http://" + rcfg.ServerConfig.NetAddr.Endpoint + rcfg.PathPrefix + "/v1/logs"}
}

// post sends events as one OTLP/JSON logs request, as the OpenTelemetry JS
// SDK does, and expects the receiver to accept them all.
func (p pipeline) post(t *testing.T, events []usagetest.Event) {
	t.Helper()
	ld := plog.NewLogs()
	records := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	for _, e := range events {
		lr := records.AppendEmpty()
		lr.SetEventName(e.Name)
		lr.SetTimestamp(pcommon.NewTimestampFromTime(e.Time))
		for k, v := range e.Attributes() {
			lr.Attributes().PutStr(k, v)
		}
	}
	body, err := plogotlp.NewExportRequestFromLogs(ld).MarshalJSON()
	require.NoError(t, err)
	resp, err := http.Post(p.ingest, "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	var out bytes.Buffer
	_, _ = out.ReadFrom(resp.Body)
	require.Equal(t, http.StatusOK, resp.StatusCode, out.String())
	require.NotContains(t, out.String(), "rejected", "the receiver rejected events: %s", out.String())
}

// TestFromReceiverToAPI posts the known data set to the glam receiver and
// checks the answers the usage API gives once the views processor has
// flushed and the exporter has written: the same numbers as when the data
// set is loaded straight into the tables.
func TestFromReceiverToAPI(t *testing.T) {
	day0 := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -2)
	dsn := pgtest.NewDatabase(t)
	p := startPipeline(t, dsn)
	events, err := usagetest.ReadCSV(knownDataSet, day0)
	require.NoError(t, err)
	p.post(t, events[:10])
	p.post(t, events[10:])
	// A client retry of the first request is counted once.
	p.post(t, events[:10])

	c := newClient(t, startAPI(t, dsn, host{}, nil))
	span := fmt.Sprintf("from=%s&to=%s", day(day0, 0), day(day0, 1))
	require.Eventually(t, func() bool {
		var top usageapi.TopProbes
		var sum usageapi.SessionSummary
		status, _ := c.get("/api/v1/usage/probes/top?"+span, "")
		if status != http.StatusOK {
			return false
		}
		c.getOK("/api/v1/usage/probes/top?"+span, "/api/v1/usage/probes/top", &top)
		c.getOK("/api/v1/usage/sessions/summary?"+span, "/api/v1/usage/sessions/summary", &sum)
		var glam []map[string]any
		c.getOK(fmt.Sprintf("/api/v1/usage/?fromDate=%s&toDate=%s&fields=probe_name&agg=count", day(day0, 0), day(day0, 2)), "/api/v1/usage/", &glam)
		return len(top.Probes) == 4 && top.Probes[0].Views == 6 && sum.Events == 20 && sum.ProbesPerSession.Mean > 1.39 && len(glam) == 2
	}, 60*time.Second, 250*time.Millisecond, "the pipeline did not deliver the data set")
	assertKnownAnswers(t, c, day0)

	var st statusBody
	c.getOK("/api/v1/usage/status", "/api/v1/usage/status", &st)
	require.NotNil(t, st.LastEventTime)
	require.Equal(t, day0.AddDate(0, 0, 1).Add(16*time.Hour+10*time.Minute), *st.LastEventTime)
}

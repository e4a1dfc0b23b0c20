package glampostgresexporter

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/mozilla/otelcol-glam/internal/usage"
	"github.com/mozilla/otelcol-glam/processor/glamviewsprocessor"
	"github.com/mozilla/otelcol-glam/receiver/glameventlogreceiver"
	"github.com/mozilla/otelcol-glam/receiver/glamreceiver"
)

// The whole pipeline of the distribution on real HTTP and a real database:
// glam receiver → (logs) glam_postgres, the event log; and glam_eventlog →
// glam_views → (metrics) glam_postgres, with GLAM's default measures and
// views.
func TestPipelineFromHTTPToRows(t *testing.T) {
	dsn, db := newDB(t)
	ctx := context.Background()
	exp := startExporter(t, directConfig(dsn), nil)

	pf := glamviewsprocessor.NewFactory()
	pcfg := pf.CreateDefaultConfig().(*glamviewsprocessor.Config)
	pcfg.FlushInterval = 100 * time.Millisecond
	proc, err := pf.CreateMetrics(ctx, processortest.NewNopSettings(pf.Type()), pcfg, exp.metrics)
	require.NoError(t, err)
	require.NoError(t, proc.Start(ctx, componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, proc.Shutdown(ctx)) })

	lf := glameventlogreceiver.NewFactory()
	lcfg := lf.CreateDefaultConfig().(*glameventlogreceiver.Config)
	lcfg.DSN = configopaque.String(dsn)
	lcfg.Backoff = 50 * time.Millisecond
	logRcv, err := lf.CreateMetrics(ctx, receivertest.NewNopSettings(lf.Type()), lcfg, proc)
	require.NoError(t, err)
	require.NoError(t, logRcv.Start(ctx, componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, logRcv.Shutdown(ctx)) })

	rf := glamreceiver.NewFactory()
	rcfg := rf.CreateDefaultConfig().(*glamreceiver.Config)
	rcfg.ServerConfig.NetAddr.Endpoint = freeAddr(t)
	logsRcv, err := rf.CreateLogs(ctx, receivertest.NewNopSettings(rf.Type()), rcfg, exp.logs)
	require.NoError(t, err)
	require.NoError(t, logsRcv.Start(ctx, componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, logsRcv.Shutdown(ctx)) })

	// A browser session: 5 views of one probe, 2 of another.
	now := time.Now().UTC()
	ld := plog.NewLogs()
	records := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	for i, probe := range []string{"gc_ms", "gc_ms", "cc_ms", "gc_ms", "gc_ms", "cc_ms", "gc_ms"} {
		lr := records.AppendEmpty()
		lr.SetEventName(usage.EventProbeView)
		lr.SetTimestamp(ts(now.Add(time.Duration(i-10) * time.Second)))
		a := lr.Attributes()
		a.PutStr(usage.AttrEventID, fmt.Sprintf("uid-%d", i))
		a.PutStr(usage.AttrSessionID, "session-1")
		a.PutStr(usage.AttrProduct, "fog")
		a.PutStr(usage.AttrProbeName, probe)
		a.PutStr(usage.AttrProbeProcess, "parent")
		a.PutStr(usage.AttrChannel, "nightly")
	}
	body, err := plogotlp.NewExportRequestFromLogs(ld).MarshalJSON()
	require.NoError(t, err)
	url := "http://" + rcfg.ServerConfig.NetAddr.Endpoint + rcfg.PathPrefix + "/v1/logs"
	for range 2 { // the browser retries the whole request
		resp, err := http.Post(url, "application/json", bytes.NewReader(body))
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}

	assert.Equal(t, 7, count(t, db, "SELECT count(*) FROM glam_usage_events WHERE session_id = 'session-1' AND event_name = 'probe.view'"))
	assert.Equal(t, 5, count(t, db, "SELECT count(*) FROM glam_usage_events WHERE probe_name = 'gc_ms' AND product = 'fog'"))

	// The views are read from the log: merged once they are, with the
	// consumer's offset at the last event.
	var last usage.LogPosition
	require.NoError(t, db.QueryRow(ctx, `SELECT log_xid, log_seq FROM glam_usage_events
		ORDER BY log_xid DESC, log_seq DESC LIMIT 1`).Scan(&last.XID, &last.Seq))
	require.Eventually(t, func() bool {
		got, ok := offset(t, db, lcfg.Consumer)
		return ok && got == last
	}, 30*time.Second, 50*time.Millisecond, "the views did not catch up with the log")

	// GLAM's default views, merged once: probe views per hour and per day.
	for _, view := range []string{"glam.probe_views.hourly", "glam.probe_views.daily"} {
		assert.Equal(t, 5, count(t, db, `SELECT coalesce(sum(count), 0) FROM glam_usage_view_rows
			WHERE view = $1 AND tags @> '{"glam.probe.name": "gc_ms", "glam.product": "fog"}'`, view), view)
		assert.Equal(t, 2, count(t, db, `SELECT coalesce(sum(count), 0) FROM glam_usage_view_rows
			WHERE view = $1 AND tags @> '{"glam.probe.name": "cc_ms"}'`, view), view)
	}
	// Distinct sessions per probe per day: one row per (probe, session).
	assert.Equal(t, 2, count(t, db, `SELECT count(*) FROM glam_usage_view_rows WHERE view = 'glam.probe_sessions.daily'`))
	// The offset deduplicates batches from the log: no batch records.
	assert.Equal(t, 0, count(t, db, "SELECT count(*) FROM glam_usage_applied_batches"))
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

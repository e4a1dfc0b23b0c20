package glamreceiver

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/mozilla/otelcol-glam/receiver/glamreceiver/internal/metadata"
	"github.com/mozilla/otelcol-glam/receiver/glamreceiver/internal/metadatatest"
)

// harness runs a real glam receiver on a localhost port, with sinks (or
// given consumers) as its pipelines.
type harness struct {
	t       *testing.T
	origin  string // http://host:port
	cfg     *Config
	tel     *componenttest.Telemetry
	traces  *consumertest.TracesSink
	logs    *consumertest.LogsSink
	metrics *consumertest.MetricsSink
}

// pipelines says which pipelines the receiver is in; nil fields are
// pipelines it is not in.
type pipelines struct {
	traces  consumer.Traces
	logs    consumer.Logs
	metrics consumer.Metrics
}

// withSinks puts the receiver in all three pipelines, each a sink.
func (h *harness) withSinks() pipelines {
	return pipelines{traces: h.traces, logs: h.logs, metrics: h.metrics}
}

func newHarness(t *testing.T, configure func(*Config), choose func(h *harness) pipelines) *harness {
	t.Helper()
	h := &harness{
		t:       t,
		tel:     componenttest.NewTelemetry(),
		traces:  new(consumertest.TracesSink),
		logs:    new(consumertest.LogsSink),
		metrics: new(consumertest.MetricsSink),
	}
	t.Cleanup(func() { require.NoError(t, h.tel.Shutdown(context.Background())) })
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	cfg.ServerConfig.NetAddr.Endpoint = "localhost:0"
	if configure != nil {
		configure(cfg)
	}
	require.NoError(t, cfg.Validate())
	h.cfg = cfg
	p := h.withSinks()
	if choose != nil {
		p = choose(h)
	}

	factory := NewFactory()
	set := metadatatest.NewSettings(h.tel)
	ctx := context.Background()
	var components []*sharedComponent
	if p.traces != nil {
		c, err := factory.CreateTraces(ctx, set, cfg, p.traces)
		require.NoError(t, err)
		components = append(components, c.(*sharedComponent))
	}
	if p.logs != nil {
		c, err := factory.CreateLogs(ctx, set, cfg, p.logs)
		require.NoError(t, err)
		components = append(components, c.(*sharedComponent))
	}
	if p.metrics != nil {
		c, err := factory.CreateMetrics(ctx, set, cfg, p.metrics)
		require.NoError(t, err)
		components = append(components, c.(*sharedComponent))
	}
	require.NotEmpty(t, components)
	for _, c := range components {
		require.NoError(t, c.Start(ctx, componenttest.NewNopHost()))
	}
	t.Cleanup(func() {
		for _, c := range components {
			require.NoError(t, c.Shutdown(context.Background()))
		}
	})
	h.origin = "http://" + components[0].Unwrap().addr.String()
	return h
}

// reply is a response, read whole.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request to path below path_prefix; headers are name, value
// pairs.
func (h *harness) do(method, path, contentType string, body []byte, headers ...string) reply {
	h.t.Helper()
	return h.doAt(method, h.cfg.PathPrefix+path, contentType, body, headers...)
}

// doAt sends a request to path on the receiver's server.
func (h *harness) doAt(method, path, contentType string, body []byte, headers ...string) reply {
	h.t.Helper()
	req, err := http.NewRequest(method, h.origin+path, bytes.NewReader(body))
	require.NoError(h.t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(h.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(h.t, err)
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}

func (h *harness) post(path, contentType string, body []byte, headers ...string) reply {
	h.t.Helper()
	return h.do(http.MethodPost, path, contentType, body, headers...)
}

// allRecords flattens what the logs sink received.
func (h *harness) allRecords() []plog.LogRecord {
	var out []plog.LogRecord
	for _, ld := range h.logs.AllLogs() {
		for i := 0; i < ld.ResourceLogs().Len(); i++ {
			sls := ld.ResourceLogs().At(i).ScopeLogs()
			for j := 0; j < sls.Len(); j++ {
				for k := 0; k < sls.At(j).LogRecords().Len(); k++ {
					out = append(out, sls.At(j).LogRecords().At(k))
				}
			}
		}
	}
	return out
}

// countByEvent counts the usage events in lds by event name.
func countByEvent(lds []plog.Logs) map[string]int {
	out := map[string]int{}
	for _, ld := range lds {
		for i := 0; i < ld.ResourceLogs().Len(); i++ {
			sls := ld.ResourceLogs().At(i).ScopeLogs()
			for j := 0; j < sls.Len(); j++ {
				for k := 0; k < sls.At(j).LogRecords().Len(); k++ {
					out[sls.At(j).LogRecords().At(k).EventName()]++
				}
			}
		}
	}
	return out
}

// assertNoMeasurements checks that the receiver sent nothing to its metrics
// pipeline: usage events go to the logs pipeline only, and measurements are
// derived from the committed event log downstream (glam_eventlog), never by
// the receiver. Only a test that posts client OTLP metrics may see any.
func (h *harness) assertNoMeasurements() {
	h.t.Helper()
	assert.Empty(h.t, h.metrics.AllMetrics(), "the receiver records no measurement for usage events")
}

// switchLogs is a logs pipeline whose answer a test can change: it refuses
// with err while err is set, and otherwise passes to the sink.
type switchLogs struct {
	mu   sync.Mutex
	err  error
	sink *consumertest.LogsSink
	// block, when set, holds each call until it is closed.
	block chan struct{}
	// entered is signalled when a call arrives.
	entered chan struct{}
}

func (s *switchLogs) set(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
}

func (s *switchLogs) Capabilities() consumer.Capabilities { return consumer.Capabilities{} }

func (s *switchLogs) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	if s.entered != nil {
		s.entered <- struct{}{}
	}
	if s.block != nil {
		<-s.block
	}
	s.mu.Lock()
	err := s.err
	s.mu.Unlock()
	if err != nil {
		return err
	}
	return s.sink.ConsumeLogs(ctx, ld)
}

// attrs returns a log record's attributes as a plain map.
func attrs(lr plog.LogRecord) map[string]any { return lr.Attributes().AsRaw() }

func resourceAttrs(ld plog.Logs) map[string]any {
	return ld.ResourceLogs().At(0).Resource().Attributes().AsRaw()
}

// telemetryOpts compare the receiver's own metrics on values only.
var telemetryOpts = []metricdatatest.Option{metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars()}

// createNopSignals creates the traces, logs and metrics receivers of one
// config, each into a no-op consumer, on a free localhost port.
func createNopSignals(tb testing.TB, cfg *Config) (traces, logs, metrics *sharedComponent) {
	cfg.ServerConfig.NetAddr.Endpoint = "localhost:0"
	set := receivertest.NewNopSettings(metadata.Type)
	ctx := context.Background()
	factory := NewFactory()
	tr, err := factory.CreateTraces(ctx, set, cfg, consumertest.NewNop())
	require.NoError(tb, err)
	lr, err := factory.CreateLogs(ctx, set, cfg, consumertest.NewNop())
	require.NoError(tb, err)
	mr, err := factory.CreateMetrics(ctx, set, cfg, consumertest.NewNop())
	require.NoError(tb, err)
	return tr.(*sharedComponent), lr.(*sharedComponent), mr.(*sharedComponent)
}

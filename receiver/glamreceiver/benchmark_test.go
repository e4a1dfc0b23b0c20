package glamreceiver

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/mozilla/otelcol-glam/internal/usage"
	"github.com/mozilla/otelcol-glam/receiver/glamreceiver/internal/metadata"
)

// The benchmarks drive the full HTTP handler the server runs (confighttp's
// wrappers included: decompression, body limit, otelhttp, client info) with
// httptest requests, into no-op consumers for traces, logs and metrics, with
// deduplication on (the receiver derives no measurements: that happens
// downstream, from the committed event log). Every iteration sends fresh
// span ids, so events are really emitted, not suppressed as duplicates.
//
//	go test -run '^$' -bench . -benchmem ./receiver/glamreceiver/
//
// BenchmarkBaselineUnmarshal decodes the same bodies with ptraceotlp alone,
// the floor any OTLP receiver pays.

// benchBody is an OTLP request of n probe.view spans shaped like the GLAM
// app's, and where each span id sits in it so iterations can renumber them.
type benchBody struct {
	body    []byte
	idAt    []int // offset of each span id's last 4 bytes (raw or hex)
	hexIDs  bool
	enc     string
	spanCnt int
}

func newBenchBody(b *testing.B, n int, protobuf bool) *benchBody {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	res := rs.Resource().Attributes()
	res.PutStr("service.name", "glam")
	res.PutStr("telemetry.sdk.language", "webjs")
	res.PutStr("session.id", "3b2f5c1e-1111-4222-8333-444455556666")
	res.PutStr("user_agent.original", firefoxUA)
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("glam-app")
	start := time.Now().Add(-time.Minute)
	markers := make([][]byte, n)
	for i := 0; i < n; i++ {
		s := ss.Spans().AppendEmpty()
		s.SetTraceID(pcommon.TraceID([16]byte{0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6, 0x0c}))
		id := [8]byte{0xab, 0xcd, 0xef, byte(i), 0xf1, 0xf2, 0xf3, 0xf4}
		markers[i] = id[:]
		s.SetSpanID(pcommon.SpanID(id))
		s.SetName(usage.EventProbeView)
		s.SetKind(ptrace.SpanKindInternal)
		s.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
		s.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Millisecond)))
		a := s.Attributes()
		a.PutStr(usage.AttrProduct, "firefox")
		a.PutStr(usage.AttrProbeName, "gc_ms")
		a.PutStr(usage.AttrProbeProcess, "parent")
		a.PutStr(usage.AttrChannel, "nightly")
		a.PutStr(usage.AttrOS, "Windows")
		// The page the span was made on, as the OTel JS web SDK's
		// instrumentations record it: the receiver reads GLAM's route and
		// state out of it (pages.go).
		a.PutStr("http.url", "https://glam.telemetry.mozilla.org/firefox/probe/gc_ms/explore?channel=beta&process=parent")
	}
	req := ptraceotlp.NewExportRequestFromTraces(td)
	bb := &benchBody{spanCnt: n, hexIDs: !protobuf, enc: mediaJSON}
	var err error
	if protobuf {
		bb.body, err = req.MarshalProto()
		bb.enc = mediaProto
	} else {
		bb.body, err = req.MarshalJSON()
	}
	require.NoError(b, err)
	for _, m := range markers {
		pattern := m
		if bb.hexIDs {
			pattern = []byte(hex.EncodeToString(m))
		}
		at := bytes.Index(bb.body, pattern)
		require.GreaterOrEqual(b, at, 0)
		bb.idAt = append(bb.idAt, at+len(pattern)/2)
	}
	return bb
}

// renumber gives every span a new id for iteration i.
func (bb *benchBody) renumber(i int) {
	var c [4]byte
	binary.BigEndian.PutUint32(c[:], uint32(i))
	for _, at := range bb.idAt {
		if bb.hexIDs {
			hex.Encode(bb.body[at:at+8], c[:])
		} else {
			copy(bb.body[at:at+4], c[:])
		}
	}
}

// postSpans posts bb b.N times, renumbered each time, and reports events/s.
func postSpans(b *testing.B, handler http.Handler, bb *benchBody) {
	path := defaultPathPrefix + "/v1/traces"
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		bb.renumber(i)
		req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(bb.body))
		req.Header.Set("Content-Type", bb.enc)
		req.Header.Set("User-Agent", firefoxUA)
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), "already") {
			b.Fatalf("status %d: %s", rec.Code, rec.Body.String())
		}
	}
	b.ReportMetric(float64(b.N*bb.spanCnt)/b.Elapsed().Seconds(), "events/s")
}

func startBenchReceiver(b *testing.B) http.Handler {
	tr, _, _ := createNopSignals(b, createDefaultConfig().(*Config))
	require.NoError(b, tr.Start(context.Background(), componenttest.NewNopHost()))
	b.Cleanup(func() { require.NoError(b, tr.Shutdown(context.Background())) })
	return tr.Unwrap().server.Handler
}

func BenchmarkTraces(b *testing.B) {
	for _, protobuf := range []bool{false, true} {
		for _, n := range []int{1, 10, 100} {
			name := fmt.Sprintf("%s/batch=%d", encoding(map[bool]encoding{true: encProto}[protobuf]), n)
			b.Run(name, func(b *testing.B) {
				handler := startBenchReceiver(b)
				bb := newBenchBody(b, n, protobuf)
				postSpans(b, handler, bb)
			})
		}
	}
}

// BenchmarkTracesEventsOnly is BenchmarkTraces with the logs pipeline
// alone, as a collector that only stores usage: spans are not passed on, so
// JSON bodies take the browser decoder (otlpjson.go).
func BenchmarkTracesEventsOnly(b *testing.B) {
	for _, n := range []int{1, 20, 100} {
		b.Run(fmt.Sprintf("json/batch=%d", n), func(b *testing.B) {
			cfg := createDefaultConfig().(*Config)
			cfg.ServerConfig.NetAddr.Endpoint = "localhost:0"
			lr, err := NewFactory().CreateLogs(context.Background(), receivertest.NewNopSettings(metadata.Type), cfg, consumertest.NewNop())
			require.NoError(b, err)
			require.NoError(b, lr.Start(context.Background(), componenttest.NewNopHost()))
			b.Cleanup(func() { require.NoError(b, lr.Shutdown(context.Background())) })
			handler := lr.(*sharedComponent).Unwrap().server.Handler
			postSpans(b, handler, newBenchBody(b, n, false))
		})
	}
}

func BenchmarkBaselineUnmarshal(b *testing.B) {
	for _, protobuf := range []bool{false, true} {
		for _, n := range []int{1, 10, 100} {
			name := fmt.Sprintf("%s/batch=%d", encoding(map[bool]encoding{true: encProto}[protobuf]), n)
			b.Run(name, func(b *testing.B) {
				bb := newBenchBody(b, n, protobuf)
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					req := ptraceotlp.NewExportRequest()
					if err := unmarshal(req, bb.body, protobuf); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "events/s")
			})
		}
	}
}

// BenchmarkGlean sends probe views whose extras name GLAM's attributes
// either dotted (kept as sent) or in snake_case (renamed to glam.*).
func BenchmarkGlean(b *testing.B) {
	extras := map[string]string{
		"dotted": `{"glam.probe.name":"gc_ms","glam.product":"firefox"}`,
		"snake":  `{"probe_name":"gc_ms","product":"firefox"}`,
	}
	for _, style := range []string{"dotted", "snake"} {
		for _, n := range []int{1, 10, 100} {
			benchGlean(b, fmt.Sprintf("json/extras=%s/batch=%d", style, n), n, extras[style])
		}
	}
}

func benchGlean(b *testing.B, name string, n int, extra string) {
	b.Run(name, func(b *testing.B) {
		handler := startBenchReceiver(b)
		events := make([]string, n)
		for i := range events {
			events[i] = fmt.Sprintf(`{"category":"probe","name":"view","timestamp":%d,"extra":%s}`, i*100, extra)
		}
		now := time.Now()
		body := gleanPingBody(now.Add(-time.Minute), now, events...)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			req := httptest.NewRequest(http.MethodPost, fmt.Sprintf("%s/submit/glam/events/1/00000000-0000-4000-8000-%012d", defaultPathPrefix, i), bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json; charset=utf-8")
			rec := httptest.NewRecorder()
			handler.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), "already") {
				b.Fatalf("status %d: %s", rec.Code, rec.Body.String())
			}
		}
		b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "events/s")
	})
}

// BenchmarkBrowserDecoder decodes the bodies with the browser decoder
// alone, against BenchmarkBaselineUnmarshal's pdata.
func BenchmarkBrowserDecoder(b *testing.B) {
	for _, n := range []int{1, 20, 100} {
		b.Run(fmt.Sprintf("json/batch=%d", n), func(b *testing.B) {
			bb := newBenchBody(b, n, false)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, ok := decodeJSONSpans(bb.body); !ok {
					b.Fatal("the browser decoder refused the body")
				}
			}
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

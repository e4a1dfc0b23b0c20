package glamreceiver // import "github.com/mozilla/otelcol-glam/receiver/glamreceiver"

import (
	"context"
	"errors"
	"net"
	"net/http"
	"slices"
	"strings"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receiverhelper"
	"go.uber.org/zap"

	"github.com/mozilla/otelcol-glam/receiver/glamreceiver/internal/metadata"
)

// glamReceiver serves every endpoint of one configured glam receiver and
// feeds whichever of its traces, logs and metrics pipelines exist.
type glamReceiver struct {
	cfg       *Config
	set       receiver.Settings
	obs       *receiverhelper.ObsReport
	telemetry *metadata.TelemetryBuilder
	pages     *pageRules
	seen      *seenSet
	origins   originList

	next struct {
		traces  consumer.Traces
		logs    consumer.Logs
		metrics consumer.Metrics
	}

	server    *http.Server
	serveDone chan struct{}
	// addr is where the server listens once started (tests bind port 0).
	addr net.Addr
}

func newGlamReceiver(set receiver.Settings, cfg *Config) (*glamReceiver, error) {
	pages, err := compilePages(cfg.Pages, cfg.Clicks)
	if err != nil {
		return nil, err
	}
	obs, err := receiverhelper.NewObsReport(receiverhelper.ObsReportSettings{
		ReceiverID:             set.ID,
		Transport:              "http",
		ReceiverCreateSettings: set,
	})
	if err != nil {
		return nil, err
	}
	telemetry, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	r := &glamReceiver{
		cfg:       cfg,
		set:       set,
		obs:       obs,
		telemetry: telemetry,
		pages:     pages,
		seen:      newSeenSet(cfg.Dedupe.MaxEntries, cfg.Dedupe.TTL),
	}
	if cors := cfg.ServerConfig.CORS.Get(); cors != nil {
		r.origins = newOriginList(cors.AllowedOrigins)
	}
	return r, nil
}

// Start serves the endpoints; the signals' components share the receiver
// (registry.go), which starts it once.
func (r *glamReceiver) Start(ctx context.Context, host component.Host) error {
	server := r.serverConfig()
	ln, err := server.ToListener(ctx)
	if err != nil {
		return err
	}
	r.server, err = server.ToServer(ctx, host.GetExtensions(), r.set.TelemetrySettings, r.routes(),
		confighttp.WithErrorHandler(writeServerError))
	if err != nil {
		_ = ln.Close()
		return err
	}
	r.addr = ln.Addr()
	r.set.Logger.Info("Starting glam receiver",
		zap.String("endpoint", ln.Addr().String()), zap.String("path_prefix", r.cfg.PathPrefix),
		zap.Bool("glean_submit_at_root", r.cfg.Glean.SubmitAtRoot))
	r.serveDone = make(chan struct{})
	go func() {
		defer close(r.serveDone)
		if err := r.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			componentstatus.ReportStatus(host, componentstatus.NewFatalErrorEvent(err))
		}
	}()
	return nil
}

// serverConfig is the configured server with what browsers need from CORS
// always granted: the OTel JS SDK's preflight asks for content-type, a body
// it compresses adds content-encoding, Glean.js's fetch uploads add
// X-Telemetry-Agent (and X-Debug-ID, X-Source-Tags when a person set them),
// and the OTel SDK's retry logic reads Retry-After, which a cross-origin
// script can only see when exposed.
// Listing allowed_headers replaces rather than extends the defaults, so a
// config that adds `authorization` would otherwise break every export.
func (r *glamReceiver) serverConfig() confighttp.ServerConfig {
	server := r.cfg.ServerConfig
	if cors := server.CORS.Get(); cors != nil {
		augmented := *cors
		augmented.AllowedHeaders = withHeaders(cors.AllowedHeaders, requiredCORSHeaders())
		augmented.ExposedHeaders = withHeaders(cors.ExposedHeaders, []string{"Retry-After"})
		*server.CORS.Get() = augmented
	}
	return server
}

// withHeaders returns headers plus those of required it lacks, ignoring case.
func withHeaders(headers, required []string) []string {
	out := slices.Clone(headers)
	for _, h := range required {
		if !slices.ContainsFunc(out, func(s string) bool { return strings.EqualFold(s, h) }) {
			out = append(out, h)
		}
	}
	return out
}

// requiredCORSHeaders are the request headers a preflight may ask for.
// The x-* ones are Glean.js's (core/upload/worker.js, core/pings/maker.js).
func requiredCORSHeaders() []string {
	return []string{"accept", "content-type", "content-encoding", "x-requested-with",
		"x-telemetry-agent", "x-debug-id", "x-source-tags"}
}

// Shutdown stops serving once the last signal's component shuts down.
func (r *glamReceiver) Shutdown(ctx context.Context) error {
	var err error
	if r.server != nil {
		err = r.server.Shutdown(ctx)
		<-r.serveDone
	}
	return err
}

// routes maps the endpoints under path_prefix, and Glean's at the root
// when glean::submit_at_root asks for it. Paths are matched without a
// method so that a wrong method gets a 405 in the OTLP error format rather
// than the mux's plain-text one.
func (r *glamReceiver) routes() http.Handler {
	prefix := r.cfg.PathPrefix
	mux := http.NewServeMux()
	mux.HandleFunc(prefix+"/v1/traces", r.handleTraces)
	mux.HandleFunc(prefix+"/v1/logs", r.handleLogs)
	mux.HandleFunc(prefix+"/v1/metrics", r.handleMetrics)
	mux.HandleFunc(prefix+gleanSubmit+"/", r.gleanHandler(prefix+gleanSubmit+"/"))
	if r.cfg.Glean.SubmitAtRoot {
		mux.HandleFunc(gleanSubmit+"/", r.gleanHandler(gleanSubmit+"/"))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, req *http.Request) {
		writeStatus(w, responseEncoding(req), http.StatusNotFound, "no glam receiver endpoint at "+req.URL.Path)
	})
	return mux
}

// emitsEvents reports whether some pipeline takes usage events: only a logs
// pipeline does. Measurements are derived from the committed event log
// downstream (the glam_eventlog receiver), never here; a metrics pipeline
// only takes the client's own OTLP metrics.
func (r *glamReceiver) emitsEvents() bool {
	return r.next.logs != nil
}

package glamreceiver // import "github.com/mozilla/otelcol-glam/receiver/glamreceiver"

import (
	"context"
	"net/http"

	"go.opentelemetry.io/collector/pdata/plog"
)

// otlpRequest is what the three OTLP export requests share for decoding.
type otlpRequest interface {
	UnmarshalJSON([]byte) error
	UnmarshalProto([]byte) error
}

// acceptOTLP accepts the request and decodes its body into m, then runs
// validate on the result. When it returns false the answer (an error) has
// been written.
func (r *glamReceiver) acceptOTLP(w http.ResponseWriter, req *http.Request, ep endpoint, m otlpRequest, signal string, validate func() error) (*request, bool) {
	in, ok := r.accept(w, req, ep)
	if !ok {
		return nil, false
	}
	var err error
	if in.enc == encProto {
		err = m.UnmarshalProto(in.body)
	} else {
		err = m.UnmarshalJSON(in.body)
	}
	if err != nil {
		writeStatus(w, in.enc, http.StatusBadRequest, "decoding OTLP "+signal+": "+err.Error())
		return nil, false
	}
	if err := validate(); err != nil {
		writeStatus(w, in.enc, http.StatusBadRequest, err.Error())
		return nil, false
	}
	return in, true
}

// obsOp is a signal's pair of obsreport calls.
type obsOp struct {
	start func(context.Context) context.Context
	end   func(ctx context.Context, format string, items int, err error)
}

// run finishes an event request once its items are collected and their
// clocks corrected: it suppresses duplicates (dedupe), writes the events
// and whatever passes through (build), delivers them and reports to the
// collector's telemetry. When it returns false the answer (an error) has
// been written.
func (in *intake) run(w http.ResponseWriter, req *http.Request, format string, op obsOp, dedupe func() error, build func() (plog.Logs, func(context.Context) error)) bool {
	ctx := op.start(req.Context())
	if in.req.family == familyBot && !in.r.cfg.CountBots {
		in.rejectAccepted(rejectBot)
	}
	if err := dedupe(); err != nil {
		op.end(ctx, format, 0, err)
		writeStatus(w, in.req.enc, http.StatusServiceUnavailable, err.Error())
		return false
	}
	events, passthrough := build()
	err := in.deliver(ctx, events, passthrough)
	op.end(ctx, format, in.count(fateAccepted), err)
	if err != nil {
		writeStatus(w, in.req.enc, consumerErrorStatus(err), "pipeline refused the data: "+err.Error())
		return false
	}
	return true
}

package glamreceiver // import "github.com/mozilla/otelcol-glam/receiver/glamreceiver"

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/mozilla/otelcol-glam/internal/usage"
)

// rejection is why an item of a request was not accepted. code labels the
// rejected-items telemetry; text goes into the answer's partial-success
// message.
type rejection struct {
	code string
	text string
}

var (
	rejectInvalidID   = rejection{"invalid_id", "trace id or span id is empty or zero"}
	rejectNoSpanName  = rejection{"no_event_name", "span has no name"}
	rejectNoEventName = rejection{"no_event_name", "log record has neither an eventName nor an event.name attribute"}
	rejectGleanEvent  = rejection{"invalid_event", "Glean event has no category or name"}
	rejectGleanExtra  = rejection{"invalid_event", "Glean event extra is not a string, number or boolean"}
	rejectGleanTime   = rejection{"invalid_event", "Glean event timestamp or glean_timestamp extra is not a usable number of milliseconds"}
	rejectFuture      = rejection{"future_time", "event time is in the future beyond the clock_skew limits"}
	rejectPast        = rejection{"past_time", "event time is before 2000-01-01"}
	rejectClientClock = rejection{"client_clock", "client clock differs from the receiver's by more than clock_skew::max_correction"}
	rejectScope       = rejection{"reserved_scope", "scope name is reserved for the collector's own usage data"}
	rejectUnstorable  = rejection{"unstorable", "a name, attribute or body holds a NUL character or a non-finite number, which cannot be stored"}
	rejectTooOld      = rejection{"too_old", "event time is older than max_event_age, beyond what the raw events' retention keeps"}
	rejectBot         = rejection{"bot", "the user agent is a bot, crawler or headless browser, which count_bots: false does not count"}
)

// obsOp is a signal's pair of obsreport calls, and the format they report
// ("json", "protobuf", "glean").
type obsOp struct {
	start  func(context.Context) context.Context
	end    func(ctx context.Context, format string, items int, err error)
	format string
}

type fate uint8

const (
	fateAccepted fate = iota
	fateRejected
	fateDuplicate
)

// candidate is one item of a request that could become a usage event.
// item is what the event is written from once its fate is settled (a span,
// a log record, a Glean event's attributes), so that writing walks the
// candidates, not the request again.
type candidate[T any] struct {
	event usage.Event
	fate  fate
	why   rejection
	// shifted: the event time was corrected for clock skew. It is counted
	// only if the event is emitted, not when later rejected or a duplicate.
	shifted bool
	item    T
}

// intake follows the items of one request, in request order, from the one
// walk over the request that reads them to delivery: rejections, clock
// correction, duplicate suppression.
type intake[T any] struct {
	r     *glamReceiver
	req   *request
	noun  string // plural name of the items, for messages
	op    obsOp
	cands []candidate[T]
	// docID, when set, is the id that makes the whole request a duplicate
	// (a Glean ping's document id); otherwise each event's own id does.
	docID      string
	reserved   *reservation
	duplicates int
}

func newIntake[T any](r *glamReceiver, req *request, noun string, op obsOp, capacity int) *intake[T] {
	return &intake[T]{r: r, req: req, noun: noun, op: op, cands: make([]candidate[T], 0, capacity)}
}

func (in *intake[T]) add(ev usage.Event, item T) {
	in.cands = append(in.cands, candidate[T]{event: ev, item: item})
}

func (in *intake[T]) reject(why rejection) {
	in.cands = append(in.cands, candidate[T]{fate: fateRejected, why: why})
}

func (in *intake[T]) count(f fate) int {
	n := 0
	for i := range in.cands {
		if in.cands[i].fate == f {
			n++
		}
	}
	return n
}

// correctClock corrects event times for the client's clock skew.
//
// When the client's clock reading at send time is known (clientNow, from a
// Glean ping), the skew is clientNow minus the receive time; bothWays says
// whether a client clock behind the receiver's is corrected too (only when
// clientNow is the send time itself, not a ping's end time which may
// precede a delayed upload). A skew beyond max_correction means the clock
// cannot be trusted: every event is rejected.
//
// Otherwise (OTLP) the only hint is the newest event: a client cannot
// report an event after it sent it, so if the newest event is ahead of the
// receive time by more than the tolerance, the whole request is shifted
// back by that lead. Events more than max_correction ahead are rejected
// first, so that one absurd timestamp does not drag the others.
//
// Either way, an event still ahead by more than the tolerance afterwards is
// rejected rather than silently kept.
func (in *intake[T]) correctClock(clientNow time.Time, bothWays bool) {
	tolerance, maxCorrection := in.r.cfg.ClockSkew.Tolerance, in.r.cfg.ClockSkew.MaxCorrection
	received := in.req.received
	var skew time.Duration
	if clientNow.IsZero() {
		newest := time.Time{}
		for i := range in.cands {
			c := &in.cands[i]
			if c.fate != fateAccepted {
				continue
			}
			if c.event.Time.Sub(received) > maxCorrection {
				c.fate, c.why = fateRejected, rejectFuture
				continue
			}
			if c.event.Time.After(newest) {
				newest = c.event.Time
			}
		}
		// An old newest event says nothing about the clock: it may simply
		// have waited in the client.
		skew = max(newest.Sub(received), 0)
	} else {
		skew = clientNow.Sub(received)
		if !bothWays && skew < 0 {
			skew = 0
		}
		if skew > maxCorrection || -skew > maxCorrection {
			in.rejectAccepted(rejectClientClock)
			return
		}
	}
	if skew > tolerance || -skew > tolerance {
		for i := range in.cands {
			if c := &in.cands[i]; c.fate == fateAccepted {
				c.event.Time = c.event.Time.Add(-skew)
				c.shifted = true
			}
		}
	}
	for i := range in.cands {
		c := &in.cands[i]
		switch {
		case c.fate != fateAccepted:
		case c.event.Time.Sub(received) > tolerance:
			c.fate, c.why = fateRejected, rejectFuture
		case c.event.Time.Before(earliestEventTime):
			c.fate, c.why = fateRejected, rejectPast
		case in.r.cfg.MaxEventAge > 0 && c.event.Time.Before(received.Add(-in.r.cfg.MaxEventAge)):
			c.fate, c.why = fateRejected, rejectTooOld
		}
	}
}

// earliestEventTime is older than any real usage event: a time before it
// is a broken clock or a zero value, and would only create absurd
// partitions downstream.
var earliestEventTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

func (in *intake[T]) rejectAccepted(why rejection) {
	for i := range in.cands {
		if c := &in.cands[i]; c.fate == fateAccepted {
			c.fate, c.why = fateRejected, why
		}
	}
}

// settle decides the fates that depend on the whole request once its
// clocks are corrected: bots, when not counted, then duplicates. It starts
// the request's obsreport operation; when it returns false the operation
// has ended and the answer (503: the ids are held by another request, or
// the set is full) has been written.
func (in *intake[T]) settle(w http.ResponseWriter, req *http.Request) (context.Context, bool) {
	ctx := in.op.start(req.Context())
	if in.req.family == familyBot && !in.r.cfg.CountBots {
		in.rejectAccepted(rejectBot)
	}
	var err error
	if in.docID != "" {
		err = in.dedupeDocument(in.docID)
	} else {
		err = in.dedupeEvents()
	}
	if err != nil {
		in.op.end(ctx, in.op.format, 0, err)
		writeStatus(w, in.req.enc, http.StatusServiceUnavailable, err.Error())
		return ctx, false
	}
	return ctx, true
}

// dedupeEvents holds the ids of the accepted events, marking those already
// received (or repeated within the request) as duplicates.
func (in *intake[T]) dedupeEvents() error {
	ids := make([]string, 0, len(in.cands))
	for i := range in.cands {
		if in.cands[i].fate == fateAccepted {
			ids = append(ids, in.cands[i].event.ID)
		}
	}
	duplicate, res, err := in.r.seen.reserve(ids, in.req.received)
	if err != nil {
		return err
	}
	in.reserved = res
	n := 0
	for i := range in.cands {
		if c := &in.cands[i]; c.fate == fateAccepted {
			if duplicate[n] {
				c.fate = fateDuplicate
				in.duplicates++
			}
			n++
		}
	}
	return nil
}

// dedupeDocument holds a document id (a Glean ping's); when it was already
// received, every event of the request is a duplicate.
func (in *intake[T]) dedupeDocument(docID string) error {
	duplicate, res, err := in.r.seen.reserve([]string{docID}, in.req.received)
	if err != nil {
		return err
	}
	in.reserved = res
	if duplicate[0] {
		for i := range in.cands {
			if c := &in.cands[i]; c.fate == fateAccepted {
				c.fate = fateDuplicate
				in.duplicates++
			}
		}
	}
	return nil
}

// deliver sends the accepted events, then the request's own telemetry.
// Usage events go first: if the pipeline taking the passed-through spans
// (passthrough, if any pipeline wants them) refuses, the client retries the
// whole request, and the events sent again are deduplicated downstream on
// their id. The ids held for the request become seen only if every pipeline
// accepted, so a refused request's retry is processed rather than dropped as
// a duplicate. No measurement is sent from here: they are derived from the
// committed event log downstream.
// When it returns false the answer (the pipeline's refusal) has been
// written.
func (in *intake[T]) deliver(w http.ResponseWriter, ctx context.Context, events plog.Logs, passthrough func(context.Context) error) bool {
	err := in.send(ctx, events, passthrough)
	if in.reserved != nil {
		if err != nil {
			in.r.seen.release(in.reserved)
		} else {
			in.r.seen.commit(in.reserved, in.req.received)
		}
	}
	in.recordTelemetry(ctx)
	in.op.end(ctx, in.op.format, in.count(fateAccepted), err)
	if err != nil {
		writeStatus(w, in.req.enc, consumerErrorStatus(err), "pipeline refused the data: "+err.Error())
		return false
	}
	return true
}

func (in *intake[T]) send(ctx context.Context, events plog.Logs, passthrough func(context.Context) error) error {
	if in.r.next.logs != nil && events.LogRecordCount() > 0 {
		if err := in.r.next.logs.ConsumeLogs(ctx, events); err != nil {
			return err
		}
	}
	if passthrough != nil {
		return passthrough(ctx)
	}
	return nil
}

func (in *intake[T]) recordTelemetry(ctx context.Context) {
	t := in.r.telemetry
	if in.duplicates > 0 {
		t.ReceiverGlamDuplicateEvents.Add(ctx, int64(in.duplicates))
	}
	corrected := 0
	for i := range in.cands {
		if c := &in.cands[i]; c.fate == fateAccepted && c.shifted {
			corrected++
		}
	}
	if corrected > 0 {
		t.ReceiverGlamClockCorrectedEvents.Add(ctx, int64(corrected))
	}
	for _, rc := range in.rejections() {
		t.ReceiverGlamRejectedItems.Add(ctx, int64(rc.n), metric.WithAttributes(attribute.String("reason", rc.why.code)))
	}
}

type rejectionCount struct {
	why rejection
	n   int
}

// rejections counts the rejected items by reason, in order of first
// occurrence.
func (in *intake[T]) rejections() []rejectionCount {
	var counts []rejectionCount
	for i := range in.cands {
		c := &in.cands[i]
		if c.fate != fateRejected {
			continue
		}
		found := false
		for j := range counts {
			if counts[j].why == c.why {
				counts[j].n++
				found = true
				break
			}
		}
		if !found {
			counts = append(counts, rejectionCount{why: c.why, n: 1})
		}
	}
	return counts
}

// message explains rejections and duplicates to the client, for the
// partial-success error_message (empty when everything was accepted).
func (in *intake[T]) message() string {
	var parts []string
	if counts := in.rejections(); len(counts) > 0 {
		reasons := make([]string, len(counts))
		total := 0
		for i, rc := range counts {
			reasons[i] = fmt.Sprintf("%s (%d)", rc.why.text, rc.n)
			total += rc.n
		}
		parts = append(parts, fmt.Sprintf("%d of %d %s rejected: %s", total, len(in.cands), in.noun, strings.Join(reasons, "; ")))
	}
	if in.duplicates > 0 {
		parts = append(parts, fmt.Sprintf("%d %s already received were not counted again", in.duplicates, in.noun))
	}
	return strings.Join(parts, ". ")
}

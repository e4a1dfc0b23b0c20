package glamreceiver // import "github.com/mozilla/otelcol-glam/receiver/glamreceiver"

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/mozilla/otelcol-glam/internal/usage"
)

// Attributes the receiver derives from a Glean ping, besides the events'
// extras. glam.channel and glam.os come from client_info only when the
// event's extras did not set them (see renameGlamExtras): the GLAM app
// knows better which channel and OS a person looked at than the channel of
// the app itself.
const (
	attrGleanLocale         = "glean.locale"
	attrGleanDisplayVersion = "glean.app_display_version"
	attrGleanDocumentType   = "glean.document_type"
	attrServiceName         = "service.name"
	// gleanTimestampExtra holds an event's wall-clock time in ms; it is
	// consumed as the event time rather than kept as an attribute.
	gleanTimestampExtra = "glean_timestamp"
	// maxGleanOffsetMillis bounds an event's offset from the ping start
	// (a year) so that the offset cannot overflow a time.Duration.
	maxGleanOffsetMillis = 366 * 24 * 3600 * 1000
)

// gleanPing is the part of a Glean ping the receiver reads. metrics and the
// other client_info fields are ignored (client_id on purpose: it would
// identify an installation across sessions).
type gleanPing struct {
	PingInfo struct {
		StartTime string `json:"start_time"`
		EndTime   string `json:"end_time"`
	} `json:"ping_info"`
	ClientInfo gleanClientInfo `json:"client_info"`
	Events     []gleanEvent    `json:"events"`
}

type gleanClientInfo struct {
	SessionID         string `json:"session_id"`
	AppChannel        string `json:"app_channel"`
	OS                string `json:"os"`
	Locale            string `json:"locale"`
	AppDisplayVersion string `json:"app_display_version"`
}

type gleanEvent struct {
	Category string `json:"category"`
	Name     string `json:"name"`
	// Timestamp is milliseconds since the ping's first event.
	Timestamp int64                      `json:"timestamp"`
	Extra     map[string]json.RawMessage `json:"extra"`
}

// gleanPath is a submission URL's {application_id}/{document_type}/{version}/{document_id}.
type gleanPath struct {
	appID, docType, version, docID string
}

var (
	gleanNameRE    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)
	gleanVersionRE = regexp.MustCompile(`^[0-9]{1,5}$`)
	uuidRE         = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
)

// gleanSubmit is where Glean's submission paths start, under path_prefix
// and, with glean::submit_at_root, at the root too.
const gleanSubmit = "/submit"

// parseGleanPath reads the submission path below base ({prefix}/submit/ or
// /submit/); the status says whether a bad path is unknown (404) or
// malformed (400).
func parseGleanPath(urlPath, base string) (gleanPath, int, error) {
	parts := strings.Split(strings.TrimPrefix(urlPath, base), "/")
	if len(parts) != 4 {
		return gleanPath{}, http.StatusNotFound, fmt.Errorf("Glean pings go to %s{application_id}/{document_type}/{version}/{document_id}", base)
	}
	p := gleanPath{appID: parts[0], docType: parts[1], version: parts[2], docID: parts[3]}
	switch {
	case !gleanNameRE.MatchString(p.appID):
		return p, http.StatusBadRequest, fmt.Errorf("application id %q is not a Glean application id", p.appID)
	case !gleanNameRE.MatchString(p.docType):
		return p, http.StatusBadRequest, fmt.Errorf("document type %q is not a Glean ping name", p.docType)
	case !gleanVersionRE.MatchString(p.version):
		return p, http.StatusBadRequest, fmt.Errorf("document version %q is not a number", p.version)
	case !uuidRE.MatchString(p.docID):
		return p, http.StatusBadRequest, fmt.Errorf("document id %q is not a UUID", p.docID)
	}
	return p, 0, nil
}

// gleanResponse is the answer to a ping: Glean.js reads only the status,
// the counts are for people and tests.
type gleanResponse struct {
	AcceptedEvents  int    `json:"acceptedEvents"`
	RejectedEvents  int    `json:"rejectedEvents"`
	DuplicateEvents int    `json:"duplicateEvents"`
	ErrorMessage    string `json:"errorMessage,omitempty"`
}

func writeGleanResponse(w http.ResponseWriter, resp gleanResponse) {
	body, _ := json.Marshal(resp)
	writeBody(w, encJSON, http.StatusOK, body)
}

var gleanEndpoint = endpoint{
	empty: func(w http.ResponseWriter, _ encoding) { writeGleanResponse(w, gleanResponse{}) },
}

// gleanHandler serves the Glean submission paths below base: a ping's
// events become usage events; a document id received before, on either
// route, is not counted again.
func (r *glamReceiver) gleanHandler(base string) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) { r.handleGlean(w, req, base) }
}

func (r *glamReceiver) handleGlean(w http.ResponseWriter, req *http.Request, base string) {
	if !r.emitsEvents() {
		writeStatus(w, encJSON, http.StatusNotFound, "no pipeline takes usage events from this receiver")
		return
	}
	path, status, err := parseGleanPath(req.URL.Path, base)
	if err != nil {
		writeStatus(w, encJSON, status, err.Error())
		return
	}
	in, ok := r.accept(w, req, gleanEndpoint)
	if !ok {
		return
	}
	if err := checkBody(in.body, in.enc, nil); err != nil {
		writeStatus(w, encJSON, http.StatusBadRequest, err.Error())
		return
	}
	if trimmed := bytes.TrimLeft(in.body, " \t\r\n"); len(trimmed) == 0 || trimmed[0] != '{' {
		writeStatus(w, encJSON, http.StatusBadRequest, "decoding Glean ping: the body is not a JSON object")
		return
	}
	var ping gleanPing
	if err := json.Unmarshal(in.body, &ping); err != nil {
		writeStatus(w, encJSON, http.StatusBadRequest, "decoding Glean ping: "+err.Error())
		return
	}
	start, err := parseGleanTime(ping.PingInfo.StartTime)
	if err != nil && needsStartTime(ping.Events) {
		writeStatus(w, encJSON, http.StatusBadRequest, "ping_info.start_time: "+err.Error())
		return
	}
	if err := checkGleanLimits(ping.Events); err != nil {
		writeStatus(w, encJSON, http.StatusBadRequest, err.Error())
		return
	}

	it := gleanIntake{newIntake[pcommon.Map](r, in, "events", obsOp{r.obs.StartLogsOp, r.obs.EndLogsOp, "glean"}, len(ping.Events))}
	it.docID = "glean:" + path.appID + "/" + path.docID
	it.read(path, &ping, start)
	client := ping.ClientInfo
	clientNow, bothWays := gleanClientClock(req.Header.Get("Date"), ping.PingInfo.EndTime)
	it.correctClock(clientNow, bothWays)
	ctx, ok := it.settle(w, req)
	if !ok {
		return
	}
	if !it.deliver(w, ctx, it.write(path, &client), nil) {
		return
	}
	writeGleanResponse(w, gleanResponse{
		AcceptedEvents:  it.count(fateAccepted),
		RejectedEvents:  it.count(fateRejected),
		DuplicateEvents: it.duplicates,
		ErrorMessage:    it.message(),
	})
}

// gleanIntake's items are the attributes made of each event's extras.
type gleanIntake struct{ *intake[pcommon.Map] }

// checkGleanLimits applies the attribute limit to events' extras.
func checkGleanLimits(events []gleanEvent) error {
	for i, ev := range events {
		if len(ev.Extra) > maxAttributes {
			return fmt.Errorf("%s has %d extras; at most %d are accepted", place{"event", i}, len(ev.Extra), maxAttributes)
		}
	}
	return nil
}

func needsStartTime(events []gleanEvent) bool {
	for _, ev := range events {
		if _, ok := ev.Extra[gleanTimestampExtra]; !ok {
			return true
		}
	}
	return false
}

// read makes a candidate of every event of the ping: id =
// {document_id}/{index}, name = category.name, time = glean_timestamp or
// ping start plus the event's offset.
func (in gleanIntake) read(path gleanPath, ping *gleanPing, start time.Time) {
	c := ping.ClientInfo
	badClient := unstorable(pcommon.NewMap(), c.SessionID, c.AppChannel, c.OS, c.Locale, c.AppDisplayVersion)
	for i, ev := range ping.Events {
		if ev.Category == "" || ev.Name == "" {
			in.reject(rejectGleanEvent)
			continue
		}
		renameGlamExtras(ev.Extra)
		m := pcommon.NewMap()
		if !putExtras(m, ev.Extra) {
			in.reject(rejectGleanExtra)
			continue
		}
		if badClient || unstorable(m, ev.Category, ev.Name) {
			in.reject(rejectUnstorable)
			continue
		}
		if ev.Timestamp > maxGleanOffsetMillis || ev.Timestamp < -maxGleanOffsetMillis {
			in.reject(rejectGleanTime)
			continue
		}
		t := start.Add(time.Duration(ev.Timestamp) * time.Millisecond)
		if raw, ok := ev.Extra[gleanTimestampExtra]; ok {
			ms, ok := parseMillis(raw)
			if !ok {
				in.reject(rejectGleanTime)
				continue
			}
			t = time.UnixMilli(ms)
		}
		in.add(usage.Event{
			ID:        path.docID + "/" + strconv.Itoa(i),
			Name:      ev.Category + "." + ev.Name,
			SessionID: ping.ClientInfo.SessionID,
			Time:      t,
			Observed:  in.req.received,
			Source:    usage.SourceGlean,
		}, m)
	}
}

// write writes the accepted events under one resource naming the
// application and the ping. The app's channel and OS from client_info fill
// glam.channel and glam.os only where neither the event's extras nor its
// page URL set them: which channel a person looked at is GLAM's state, not
// the channel of the GLAM app itself.
func (in gleanIntake) write(path gleanPath, client *gleanClientInfo) plog.Logs {
	w := in.newEventWriter()
	res := pcommon.NewResource()
	res.Attributes().PutStr(attrServiceName, path.appID)
	res.Attributes().PutStr(attrGleanDocumentType, path.docType)
	w.startResource(res)
	for i := range in.cands {
		if c := &in.cands[i]; c.fate == fateAccepted {
			m := w.write(c.event, c.item).Attributes()
			putIfAbsent(m, usage.AttrChannel, client.AppChannel)
			putIfAbsent(m, usage.AttrOS, client.OS)
			putIfAbsent(m, attrGleanLocale, client.Locale)
			putIfAbsent(m, attrGleanDisplayVersion, client.AppDisplayVersion)
		}
	}
	return w.logs
}

// parseMillis reads a millisecond count sent as a JSON number or string.
func parseMillis(raw json.RawMessage) (int64, bool) {
	s := strings.Trim(string(raw), `"`)
	ms, err := strconv.ParseInt(s, 10, 64)
	return ms, err == nil
}

// parseGleanTime reads ping_info times, which Glean writes to the minute
// ("2024-05-01T10:42+02:00") or finer.
func parseGleanTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, fmt.Errorf("missing")
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04Z07:00"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not an ISO 8601 date-time", s)
}

// gleanClientClock is the client's clock reading when it sent the ping:
// the Date header Glean.js sets at upload (true: a clock behind ours is
// corrected too), else the ping's end time (false: a ping uploaded late
// ended long before we received it, so only a clock ahead of ours shows).
// Zero when neither is readable.
func gleanClientClock(dateHeader, endTime string) (time.Time, bool) {
	if t, err := http.ParseTime(dateHeader); err == nil {
		return t, true
	}
	if t, err := parseGleanTime(endTime); err == nil {
		return t, false
	}
	return time.Time{}, false
}

package systemtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"

	"github.com/mozilla/otelcol-glam/internal/usage"
)

// event is one usage event as a browser sends it: an OTLP log record with
// an event name, a time and GLAM's attributes.
type event struct {
	id, session, name string
	at                time.Time
	// attrs are the glam.* attributes (product, probe, action, …).
	attrs map[string]string
}

// Vocabulary of the generated events: a few products, probes, processes,
// channels and actions, so that series repeat and rows merge.
var (
	products  = []string{"firefox", "fenix", "fog"}
	probes    = []string{"gc_ms", "cycle_collector", "js_pageload_parse_ms", "cookie_banner_rule", "a11y_theme", "dns_lookup_time"}
	processes = []string{"parent", "content", "gpu"}
	channels  = []string{"nightly", "beta", "release"}
	actions   = []string{"table-view", "explore-view", "aggregation-level", "channel-select", "probe-search"}
)

// randomEvent is an event of kind chosen by rng: mostly probe views, then
// page views, clicks and searches.
func randomEvent(rng *rand.Rand, id, session string, at time.Time) event {
	e := event{id: id, session: session, at: at, attrs: map[string]string{}}
	product := products[rng.IntN(len(products))]
	switch r := rng.IntN(20); {
	case r < 11:
		e.name = usage.EventProbeView
		e.attrs[usage.AttrProduct] = product
		e.attrs[usage.AttrProbeName] = probes[rng.IntN(len(probes))]
		e.attrs[usage.AttrProbeProcess] = processes[rng.IntN(len(processes))]
		e.attrs[usage.AttrChannel] = channels[rng.IntN(len(channels))]
	case r < 14:
		e.name = usage.EventPageView
	case r < 17:
		e.name = usage.EventGleanElementClick
		e.attrs[usage.AttrAction] = actions[rng.IntN(len(actions))]
		e.attrs[usage.AttrProduct] = product
	default:
		e.name = usage.EventProbeSearch
		e.attrs[usage.AttrProduct] = product
	}
	return e
}

// session is n events of one session.id from start, step apart: a whole
// session window as long as (n-1)*step stays under the 30-minute gap.
func session(rng *rand.Rand, prefix, sid string, start time.Time, n int, step time.Duration) []event {
	// Whole milliseconds: times read back from PostgreSQL (microseconds)
	// compare equal.
	start = start.UTC().Truncate(time.Millisecond)
	events := make([]event, n)
	for i := range events {
		events[i] = randomEvent(rng, fmt.Sprintf("%s-%s-%03d", prefix, sid, i), sid, start.Add(time.Duration(i)*step))
	}
	return events
}

// byTime orders events by event time (and id), as a client records them.
func byTime(events []event) {
	sort.SliceStable(events, func(i, j int) bool {
		if !events[i].at.Equal(events[j].at) {
			return events[i].at.Before(events[j].at)
		}
		return events[i].id < events[j].id
	})
}

// ids is the set of events' ids.
func ids(batches ...[]event) map[string]bool {
	out := map[string]bool{}
	for _, b := range batches {
		for _, e := range b {
			out[e.id] = true
		}
	}
	return out
}

// otlpLogs is events as one OTLP/JSON logs request, as the OpenTelemetry JS
// SDK sends it: the event id in log.record.uid, so a retry is recognised.
func otlpLogs(events []event) []byte {
	ld := plog.NewLogs()
	records := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	for _, e := range events {
		lr := records.AppendEmpty()
		lr.SetEventName(e.name)
		lr.SetTimestamp(pcommon.NewTimestampFromTime(e.at))
		attrs := lr.Attributes()
		attrs.PutStr(usage.AttrEventID, e.id)
		attrs.PutStr(usage.AttrSessionID, e.session)
		for k, v := range e.attrs {
			attrs.PutStr(k, v)
		}
	}
	body, err := plogotlp.NewExportRequestFromLogs(ld).MarshalJSON()
	if err != nil {
		panic(err) // pdata marshals every value it holds
	}
	return body
}

// httpClient bounds every request: a killed collector must not hang a
// client.
var httpClient = &http.Client{Timeout: 10 * time.Second}

// postOnce sends body to one receiver's OTLP logs URL once and reports
// whether it was accepted whole (a 200 without rejected records). An
// answer of 200 that rejects records is the test's own mistake: it fails.
func postOnce(ctx context.Context, t testing.TB, url string, body []byte) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := httpClient.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("%s: %d %s", url, resp.StatusCode, strings.TrimSpace(string(text)))
	}
	var answer struct {
		PartialSuccess struct {
			RejectedLogRecords json.Number `json:"rejectedLogRecords"`
			ErrorMessage       string      `json:"errorMessage"`
		} `json:"partialSuccess"`
	}
	if err := json.Unmarshal(text, &answer); err != nil {
		return false, fmt.Errorf("%s: answer %q: %w", url, text, err)
	}
	if n := answer.PartialSuccess.RejectedLogRecords; n != "" && n != "0" {
		t.Errorf("%s rejected %s records of a test batch: %s", url, n, answer.PartialSuccess.ErrorMessage)
	}
	return true, nil
}

// deliver sends body until one of urls accepts it, trying them in turn as a
// client behind a load balancer retries (bounded: 30 s, 1500 attempts). It
// returns the number of attempts; when every attempt failed it fails the
// test.
func deliver(ctx context.Context, t testing.TB, urls []string, body []byte) int {
	deadline := time.Now().Add(30 * time.Second)
	var last error
	for attempt := 0; attempt < 1500 && time.Now().Before(deadline) && ctx.Err() == nil; attempt++ {
		ok, err := postOnce(ctx, t, urls[attempt%len(urls)], body)
		if ok {
			return attempt + 1
		}
		last = err
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("no receiver of %v accepted a batch within 30 s: %v", urls, last)
	return 0
}

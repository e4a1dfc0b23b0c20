package usageapi

import (
	"context"
	"fmt"
	"time"
)

// MaxFunnelSteps bounds a funnel's steps.
const MaxFunnelSteps = 10

// FunnelQuery asks how many sessions went through Steps in order, each
// within Within of the session's first step. The first step must fall in
// the range; later steps may fall up to Within after its end.
type FunnelQuery struct {
	Range
	Steps  []string
	Within time.Duration
}

// FunnelStep is how many sessions reached one step.
type FunnelStep struct {
	Event    string `json:"event"`
	Sessions int64  `json:"sessions"`
	// Conversion is Sessions over the previous step's sessions (1 for the
	// first step, 0 when the previous step had none).
	Conversion float64 `json:"conversion"`
	// Overall is Sessions over the first step's sessions.
	Overall float64 `json:"overall"`
}

// Funnel is the answer.
type Funnel struct {
	Range
	Within string       `json:"within"`
	Steps  []FunnelStep `json:"steps"`
}

// Funnel reads the events of the steps, session by session in time order,
// and counts for each session the furthest step it reached from any of its
// first-step events. Only raw events answer this: views do not keep the
// order of events within a session.
func (s *Store) Funnel(ctx context.Context, q FunnelQuery) (Funnel, error) {
	out := Funnel{Range: q.Range, Within: q.Within.String()}
	rows, err := s.db.Query(ctx, `SELECT session_id, event_name, event_time
		FROM `+eventsTable+`
		WHERE event_name = ANY($1) AND event_time >= $2 AND event_time < $3 AND session_id IS NOT NULL
		ORDER BY session_id, event_time, event_id`,
		q.Steps, q.From, q.To.Add(q.Within))
	if err != nil {
		return out, fmt.Errorf("funnel: %w", err)
	}
	defer rows.Close()
	reached := make([]int64, len(q.Steps))
	var (
		session string
		names   []string
		times   []time.Time
	)
	flush := func() {
		if n := furthestStep(q, names, times); n > 0 {
			for i := range n {
				reached[i]++
			}
		}
		names, times = names[:0], times[:0]
	}
	for rows.Next() {
		var sid, name string
		var t time.Time
		if err := rows.Scan(&sid, &name, &t); err != nil {
			return out, fmt.Errorf("funnel: %w", err)
		}
		if sid != session {
			flush()
			session = sid
		}
		names, times = append(names, name), append(times, t)
	}
	if err := rows.Err(); err != nil {
		return out, fmt.Errorf("funnel: %w", err)
	}
	flush()
	out.Steps = funnelSteps(q.Steps, reached)
	return out, nil
}

// furthestStep is how many steps one session's events (in time order)
// complete, trying each first-step event in the range as the start and
// taking, after it, the earliest next step within the window.
func furthestStep(q FunnelQuery, names []string, times []time.Time) int {
	best := 0
	for start := range names {
		if names[start] != q.Steps[0] || times[start].Before(q.From) || !times[start].Before(q.To) {
			continue
		}
		deadline := times[start].Add(q.Within)
		step := 1
		for i := start + 1; i < len(names) && step < len(q.Steps) && !times[i].After(deadline); i++ {
			if names[i] == q.Steps[step] {
				step++
			}
		}
		best = max(best, step)
		if best == len(q.Steps) {
			break
		}
	}
	return best
}

func funnelSteps(events []string, reached []int64) []FunnelStep {
	steps := make([]FunnelStep, len(events))
	for i, e := range events {
		steps[i] = FunnelStep{Event: e, Sessions: reached[i]}
		prev := reached[0]
		if i > 0 {
			prev = reached[i-1]
		}
		steps[i].Conversion = ratio(reached[i], prev)
		steps[i].Overall = ratio(reached[i], reached[0])
	}
	return steps
}

func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

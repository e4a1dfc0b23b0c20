package probebuild

import "time"

// Job statuses, as the GLAM app reads them.
const (
	StatusQueued    = "queued"
	StatusRunning   = "running"
	StatusSucceeded = "succeeded"
	StatusFailed    = "failed"
	StatusCancelled = "cancelled"
)

// Priorities: a person waiting beats an ETL prefetch.
const (
	PriorityInteractive = 100
	PriorityPrefetch    = 0
)

// Job is one row of the job table, as the status endpoint shows it.
type Job struct {
	ID            string     `json:"id"`
	Status        string     `json:"status"`
	Stage         string     `json:"stage"`
	Progress      float64    `json:"progress"`
	Error         string     `json:"error,omitempty"`
	Build         Build      `json:"build"`
	Request       Request    `json:"request"`
	Priority      int        `json:"priority"`
	Attempts      int        `json:"attempts"`
	MaxAttempts   int        `json:"max_attempts"`
	RowsWritten   *int64     `json:"rows_written,omitempty"`
	Table         string     `json:"table"`
	VersionsBuilt []int64    `json:"versions_built,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
	StartedAt     *time.Time `json:"started_at,omitempty"`
	FinishedAt    *time.Time `json:"finished_at,omitempty"`
	RunAfter      time.Time  `json:"-"`

	// ViewRefresh says whether GLAM's materialized view over Table shows
	// the rows yet; set when the rows are committed.
	ViewRefresh *ViewRefresh `json:"view_refresh,omitempty"`

	// lease identifies the attempt that claimed the job: only it may
	// heartbeat, complete or fail the job.
	lease string
}

// Done reports whether the job reached a final status.
func (j *Job) Done() bool {
	return j.Status == StatusSucceeded || j.Status == StatusFailed || j.Status == StatusCancelled
}

package glamreceiver

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSeenSetCommitRelease(t *testing.T) {
	s := newSeenSet(10, time.Hour)
	now := time.Unix(1_700_000_000, 0)

	dup, res, err := s.reserve([]string{"a", "b", "a"}, now)
	require.NoError(t, err)
	assert.Equal(t, []bool{false, false, true}, dup, "a repeat within one request is a duplicate")

	_, _, err = s.reserve([]string{"c", "b"}, now)
	assert.ErrorIs(t, err, errInFlight, "b is held by the first request")
	dup, other, err := s.reserve([]string{"c"}, now)
	require.NoError(t, err, "the refused reservation held nothing")
	assert.Equal(t, []bool{false}, dup)
	s.release(other)

	s.release(res)
	dup, res, err = s.reserve([]string{"a", "b"}, now)
	require.NoError(t, err)
	assert.Equal(t, []bool{false, false}, dup, "released ids are not seen")
	s.commit(res, now)
	assert.Equal(t, 2, s.len())

	dup, res, err = s.reserve([]string{"b", "c"}, now.Add(time.Minute))
	require.NoError(t, err)
	assert.Equal(t, []bool{true, false}, dup)
	s.commit(res, now.Add(time.Minute))
	assert.Equal(t, 3, s.len())
}

func TestSeenSetForgetsAfterTTL(t *testing.T) {
	s := newSeenSet(10, time.Hour)
	now := time.Unix(1_700_000_000, 0)
	_, res, _ := s.reserve([]string{"a"}, now)
	s.commit(res, now)
	_, res, _ = s.reserve([]string{"b"}, now.Add(30*time.Minute))
	s.commit(res, now.Add(30*time.Minute))

	dup, res, err := s.reserve([]string{"a", "b"}, now.Add(time.Hour-time.Nanosecond))
	require.NoError(t, err)
	assert.Equal(t, []bool{true, true}, dup)
	s.release(res)

	dup, res, err = s.reserve([]string{"a", "b"}, now.Add(time.Hour))
	require.NoError(t, err)
	assert.Equal(t, []bool{false, true}, dup, "a expired, b has half an hour left")
	s.release(res)
	assert.Equal(t, 1, s.len())
}

func TestSeenSetIsBounded(t *testing.T) {
	s := newSeenSet(100, 24*time.Hour)
	now := time.Unix(1_700_000_000, 0)
	for i := 0; i < 250; i++ {
		_, res, err := s.reserve([]string{fmt.Sprint(i)}, now)
		require.NoError(t, err)
		s.commit(res, now)
	}
	assert.Equal(t, 100, s.len())
	assert.Len(t, s.seen, 100)
	dup, res, _ := s.reserve([]string{"149", "150", "249"}, now)
	assert.Equal(t, []bool{false, true, true}, dup, "the oldest ids were evicted first")
	s.release(res)
	assert.Empty(t, s.pending)
}

func TestSeenSetDisabled(t *testing.T) {
	s := newSeenSet(0, 0)
	now := time.Now()
	for range 2 {
		dup, res, err := s.reserve([]string{"a", "a"}, now)
		require.NoError(t, err)
		assert.Equal(t, []bool{false, false}, dup)
		s.commit(res, now)
	}
	assert.Equal(t, 0, s.len())
}

func TestOriginList(t *testing.T) {
	l := newOriginList([]string{"https://GLAM.example", "https://*.preview.glam.example"})
	for origin, want := range map[string]bool{
		"https://glam.example":              true,
		"https://Glam.Example":              true,
		"https://pr-1.preview.glam.example": true,
		"https://preview.glam.example":      false,
		"https://glam.example.evil.example": false,
		"http://glam.example":               false,
		"":                                  false,
		"null":                              false,
	} {
		assert.Equal(t, want, l.allows(origin), origin)
	}
	assert.True(t, newOriginList([]string{"*"}).allows("https://any.example"))
	assert.False(t, newOriginList([]string{"*"}).allows(""), "a request without Origin is not a browser's cross-origin beacon")
	assert.False(t, newOriginList(nil).allows("https://glam.example"))
}

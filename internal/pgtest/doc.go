// Package pgtest gives tests a real PostgreSQL to work against: a fresh
// database on the shared server (dropped when the test ends), or a throwaway
// cluster of their own that they may stop and start again.
//
// The server is the one named by GLAM_TEST_POSTGRES (a DSN), else the local
// server at 127.0.0.1:5432. When it cannot be reached the test is skipped,
// except when the CI environment variable is set: then it fails, so that a CI
// run never passes by testing nothing.
package pgtest

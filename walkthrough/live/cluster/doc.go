// Package cluster runs throwaway PostgreSQL clusters for the live driver:
// it finds a postgres binary of a release's major version, stages a copy
// where an unprivileged server account can run it, initialises a template
// data directory once per release (initdb) and copies it for each run,
// starts the server untraced in a private directory (Unix socket only,
// DEBUG2 log), reads its log, stops it, removes its directory and System V
// shared memory, and removes what killed runs left behind. It knows
// nothing of tracing.
package cluster

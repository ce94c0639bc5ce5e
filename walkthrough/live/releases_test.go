package live

// The tests look releases up by name (walkthrough.LookupVersion): link the
// package that embeds the release manifests and installs them.
import _ "github.com/pgwalk/pgwalk/annotations"

package e2e

// The release catalog (walkthrough.Versions) is filled from the manifests
// that package annotations embeds.
import _ "github.com/pgwalk/pgwalk/annotations"

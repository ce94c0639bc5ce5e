package catalog

// The release manifests are installed by package annotations.
import _ "github.com/pgwalk/pgwalk/annotations"

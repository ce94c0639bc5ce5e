//go:build unix && !linux

package reenact

import "github.com/pgwalk/pgwalk/walkthrough"

// fdDir lists the open fds of the calling process.
const fdDir = "/dev/fd"

// fdListingKey is the fact that says how the fd table was read, and what
// was skipped.
const fdListingKey = "fact.reenact.fd_listing_dev"

// listFDs returns the open file descriptors of this process, read from
// /dev/fd, classified by the fd numbers the postmaster said it passed.
func listFDs(vars *backendVars) ([]walkthrough.FD, error) {
	nums, err := fdNumbers(fdDir)
	if err != nil {
		return nil, err
	}
	fds := make([]walkthrough.FD, 0, len(nums))
	for _, n := range nums {
		kind := walkthrough.FDOther
		switch role, ok := vars.Roles[n]; {
		case n <= 2:
			kind = walkthrough.FDStdio
		case ok:
			kind = role
		}
		fds = append(fds, walkthrough.FD{Num: n, Kind: kind})
	}
	return fds, nil
}

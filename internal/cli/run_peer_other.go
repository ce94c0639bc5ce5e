//go:build !linux

package cli

// clientProcess returns "", "": only Linux says here who a client is.
func clientProcess(pid int) (program, userName string) { return "", "" }

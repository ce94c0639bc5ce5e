// Package e2e holds pgwalk's end-to-end tests of what a run leaves behind.
// They build the pgwalk binary once, run it for real with every driver and
// both versions, interrupt it at every stop with SIGINT, SIGTERM and SIGHUP
// (and kill it with SIGKILL), and then look at the machine: the process
// table, the temporary directories, the sockets and the shared memory. The
// package has no code of its own outside its tests.
package e2e

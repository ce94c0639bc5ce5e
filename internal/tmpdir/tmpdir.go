// Package tmpdir creates pgwalk's private temporary directories and removes
// the ones a pgwalk that was killed (SIGKILL, a crash, a power cut) could
// not remove itself.
//
// Every directory Make creates holds a marker file that names the process
// that owns it: its pid and its start time, which together tell a running
// owner from one that is gone or whose pid was reused by another process.
// CleanStale removes only directories that carry a valid marker, written by
// the same user, whose owner is gone: the rules of Sweeper, which every
// driver's cleanup follows. Anything else that matches the
// prefix (a directory of a running pgwalk, another user's, one without a
// marker, a symbolic link) is left alone.
package tmpdir

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Prefix is the name prefix of pgwalk's own temporary directories
// ("pgwalk-123456789").
const Prefix = "pgwalk-"

// MarkerName is the name of the marker file inside a directory made by
// Make.
const MarkerName = ".pgwalk-owner"

// magic is the first line of every marker file.
const magic = "pgwalk temporary directory"

// maxMarker bounds what readMarker reads: a marker is a few dozen bytes.
const maxMarker = 4096

// Owner identifies the process that created a directory.
type Owner struct {
	// PID is the owner's process id.
	PID int
	// Start is the owner's start time in clock ticks after boot (field 22
	// of /proc/PID/stat on Linux); 0 where the system does not tell.
	Start uint64
	// Boot is the kernel's boot id (/proc/sys/kernel/random/boot_id); ""
	// where the system does not tell. A marker from an earlier boot names
	// a process that is surely gone.
	Boot string
}

// InvalidMarkerError is returned by ReadOwner when a directory has no
// marker pgwalk could have written.
type InvalidMarkerError struct {
	Dir    string
	Reason string
}

func (e *InvalidMarkerError) Error() string {
	return fmt.Sprintf("%s: no valid pgwalk marker: %s", e.Dir, e.Reason)
}

// Self returns the Owner that describes the calling process.
func Self() (Owner, error) {
	return ownerOf(os.Getpid())
}

// Make creates a new directory named prefix followed by a random string
// under os.TempDir(), with mode 0700, and writes the marker that names the
// calling process as its owner. The caller removes the directory when it is
// done; CleanStale removes it if the caller could not.
func Make(prefix string) (string, error) {
	return MakeIn(os.TempDir(), prefix)
}

// MakeIn is Make with the directory created under base instead of
// os.TempDir(). The directory may be handed to another user afterwards
// (chown), as long as the marker stays the caller's.
func MakeIn(base, prefix string) (dir string, err error) {
	if prefix == "" || strings.ContainsAny(prefix, `/\*`) {
		return "", fmt.Errorf("tmpdir: bad prefix %q", prefix)
	}
	owner, err := Self()
	if err != nil {
		return "", fmt.Errorf("tmpdir: %w", err)
	}
	dir, err = os.MkdirTemp(base, prefix+"*")
	if err != nil {
		return "", fmt.Errorf("tmpdir: %w", err)
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(dir)
			dir = ""
		}
	}()
	// MkdirTemp asks for 0700 already; the umask can only take bits away,
	// but say it explicitly: the directory is private.
	if err := os.Chmod(dir, 0o700); err != nil {
		return "", fmt.Errorf("tmpdir: %w", err)
	}
	// Write the marker under another name and rename it, so that a
	// process killed half way leaves no marker rather than a torn one.
	tmp := filepath.Join(dir, MarkerName+".new")
	if err := os.WriteFile(tmp, owner.marker(), 0o600); err != nil {
		return "", fmt.Errorf("tmpdir: write the owner marker: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, MarkerName)); err != nil {
		return "", fmt.Errorf("tmpdir: write the owner marker: %w", err)
	}
	return dir, nil
}

// marker returns the content of o's marker file.
func (o Owner) marker() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\npid %d\nstart %d\n", magic, o.PID, o.Start)
	if o.Boot != "" {
		fmt.Fprintf(&b, "boot %s\n", o.Boot)
	}
	return b.Bytes()
}

// ReadOwner returns the owner recorded in dir's marker. The marker must be
// a regular file (not a link) owned by the calling user and writable by
// no one else; otherwise the error is an *InvalidMarkerError.
func ReadOwner(dir string) (Owner, error) {
	path := filepath.Join(dir, MarkerName)
	st, err := os.Lstat(path)
	if err != nil {
		return Owner{}, &InvalidMarkerError{Dir: dir, Reason: err.Error()}
	}
	if !st.Mode().IsRegular() {
		return Owner{}, &InvalidMarkerError{Dir: dir, Reason: "the marker is not a regular file"}
	}
	if st.Mode().Perm()&0o022 != 0 {
		return Owner{}, &InvalidMarkerError{Dir: dir, Reason: "the marker is writable by others"}
	}
	if st.Size() > maxMarker {
		return Owner{}, &InvalidMarkerError{Dir: dir, Reason: "the marker is too large"}
	}
	if !ownedBySelf(st) {
		return Owner{}, &InvalidMarkerError{Dir: dir, Reason: "the marker belongs to another user"}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return Owner{}, &InvalidMarkerError{Dir: dir, Reason: err.Error()}
	}
	o, err := parseMarker(b)
	if err != nil {
		return Owner{}, &InvalidMarkerError{Dir: dir, Reason: err.Error()}
	}
	return o, nil
}

// parseMarker parses the content of a marker file.
func parseMarker(b []byte) (Owner, error) {
	var o Owner
	sc := bufio.NewScanner(bytes.NewReader(b))
	if !sc.Scan() || sc.Text() != magic {
		return o, errors.New("the first line is not the pgwalk marker line")
	}
	seen := map[string]bool{}
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), " ")
		if !ok || seen[key] {
			return o, fmt.Errorf("malformed line %q", sc.Text())
		}
		seen[key] = true
		var err error
		switch key {
		case "pid":
			o.PID, err = strconv.Atoi(val)
			if err == nil && o.PID <= 0 {
				err = errors.New("not positive")
			}
		case "start":
			o.Start, err = strconv.ParseUint(val, 10, 64)
		case "boot":
			if val == "" {
				err = errors.New("empty")
			}
			o.Boot = val
		default:
			err = errors.New("unknown field")
		}
		if err != nil {
			return o, fmt.Errorf("field %s: %w", key, err)
		}
	}
	if err := sc.Err(); err != nil {
		return o, err
	}
	if !seen["pid"] || !seen["start"] {
		return o, errors.New("pid or start missing")
	}
	return o, nil
}

// Gone reports whether o's process has ended: no process has its pid, or
// the process that has it now started at another time (the pid was
// reused), or the system has rebooted since. When it cannot tell, Gone
// reports false.
func (o Owner) Gone() bool {
	return gone(o)
}

// CleanStale removes the directories under os.TempDir() whose name starts
// with prefix, that carry a valid marker of the calling user and whose
// owner is gone. It returns the directories it removed; an error says what
// could not be removed, and the others are still removed.
func CleanStale(prefix string) (removed []string, err error) {
	return Sweeper{Prefix: prefix}.Sweep()
}

// CleanStaleIn is CleanStale for the directories under base.
func CleanStaleIn(base, prefix string) (removed []string, err error) {
	return Sweeper{Base: base, Prefix: prefix}.Sweep()
}

// Sweeper removes what killed runs left: the directories Make or MakeIn
// created for a process that is gone. It is the one set of safety rules
// for every driver's leftovers. A directory is removed only when
//
//   - its name starts with Prefix and it is a directory, not a symbolic
//     link (Lstat);
//   - it is private: no permission bit for the group or others (a
//     directory handed to another user with chown stays private);
//   - it holds a valid marker (ReadOwner): a regular file of the calling
//     user, writable by no one else, that pgwalk wrote;
//   - the marker's owner is gone (Owner.Gone): no process has its pid, or
//     the one that has it started at another time, or the system has
//     rebooted since (another boot id).
//
// Anything else (a running pgwalk's directory, another user's, one without
// a marker) is left alone.
type Sweeper struct {
	// Base is the directory to look in; "" is os.TempDir().
	Base string
	// Prefix is the name prefix of the directories ("pgwalk-").
	Prefix string
	// Except are longer prefixes whose directories another Sweeper owns
	// (one that must end a server before removing its directory, say):
	// they are left alone.
	Except []string
	// Reap, when set, is called for each stale directory before it is
	// removed, to end what may still run there (a server's processes, its
	// shared memory).
	Reap func(dir string)
}

// Sweep removes the stale directories of s and returns them. An error says
// what could not be removed; the others are still removed.
func (s Sweeper) Sweep() (removed []string, err error) {
	base, prefix := s.Base, s.Prefix
	if base == "" {
		base = os.TempDir()
	}
	if prefix == "" || strings.ContainsAny(prefix, `/\`) {
		return nil, fmt.Errorf("tmpdir: bad prefix %q", prefix)
	}
	entries, err := os.ReadDir(base)
	if err != nil {
		return nil, fmt.Errorf("tmpdir: %w", err)
	}
	var errs []error
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), prefix) || slices.ContainsFunc(s.Except, func(p string) bool { return strings.HasPrefix(e.Name(), p) }) {
			continue
		}
		dir := filepath.Join(base, e.Name())
		// Lstat, not the DirEntry's type: a symbolic link named like a
		// pgwalk directory is never followed.
		st, err := os.Lstat(dir)
		if err != nil || !st.IsDir() || st.Mode().Perm()&0o077 != 0 {
			continue
		}
		o, err := ReadOwner(dir)
		if err != nil || !o.Gone() {
			continue
		}
		if s.Reap != nil {
			s.Reap(dir)
		}
		if err := os.RemoveAll(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("tmpdir: remove %s: %w", dir, err))
			continue
		}
		removed = append(removed, dir)
	}
	return removed, errors.Join(errs...)
}

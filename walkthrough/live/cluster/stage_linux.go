package cluster

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// cacheBase returns pgwalk's cache directory: $PGWALK_CACHE, else
// <user cache dir>/pgwalk.
func cacheBase() (string, error) {
	if d := os.Getenv("PGWALK_CACHE"); d != "" {
		return d, nil
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(base, "pgwalk"), nil
}

// ServerCredential returns the user the server runs as: nil (pgwalk's own)
// unless pgwalk runs as root, which PostgreSQL refuses; then the
// "postgres" account, or the one PGWALK_PG_USER names.
func ServerCredential() (*syscall.Credential, string, error) {
	if os.Geteuid() != 0 {
		return nil, "", nil
	}
	name := os.Getenv("PGWALK_PG_USER")
	if name == "" {
		name = "postgres"
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, "", fmt.Errorf("pgwalk runs as root and PostgreSQL refuses to: it needs an unprivileged account to run the server as (%q: %w); create one or set PGWALK_PG_USER", name, err)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil || uid == 0 {
		return nil, "", fmt.Errorf("account %q cannot run PostgreSQL (uid %s)", name, u.Uid)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, name, nil
}

// permitted reports whether the user of cred has permission bit (1
// execute/search, 4 read) on path, by its owner, group and other bits.
func permitted(path string, cred *syscall.Credential, bit uint32) bool {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return false
	}
	switch {
	case st.Uid == cred.Uid:
		return st.Mode&(bit<<6) != 0
	case st.Gid == cred.Gid:
		return st.Mode&(bit<<3) != 0
	}
	return st.Mode&bit != 0
}

// searchable reports whether the user of cred may search dir and every
// directory above it.
func searchable(dir string, cred *syscall.Credential) bool {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return false
	}
	for d := abs; ; d = filepath.Dir(d) {
		if !permitted(d, cred, 1) {
			return false
		}
		if d == "/" {
			return true
		}
	}
}

// reachable reports whether the user of cred (nil: pgwalk's own) may
// execute path.
func reachable(path string, cred *syscall.Credential) bool {
	if cred == nil {
		return true
	}
	return searchable(filepath.Dir(path), cred) && permitted(path, cred, 1)
}

// StageInstall returns a postgres binary the user of cred can run. When
// bin lies where that user cannot reach (an installation under root's home
// directory), the whole installation (bin's parent: bin, lib, share) is
// copied once into a root-owned, world-readable directory under the system
// temporary directory and reused by later runs.
func StageInstall(bin string, cred *syscall.Credential) (string, error) {
	real, err := filepath.EvalSymlinks(bin)
	if err != nil {
		return "", err
	}
	if reachable(real, cred) {
		return real, nil
	}
	root := filepath.Dir(filepath.Dir(real))
	st, err := os.Stat(real)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s|%d|%d", real, st.Size(), st.ModTime().UnixNano())))
	base := ""
	for _, d := range []string{os.TempDir(), "/var/tmp", "/tmp"} {
		if searchable(d, cred) {
			base = d
			break
		}
	}
	if base == "" {
		return "", fmt.Errorf("%s is out of reach of uid %d, and no temporary directory is in reach to copy it to", real, cred.Uid)
	}
	parent := filepath.Join(base, fmt.Sprintf("pgwalk-pg-%d", os.Geteuid()))
	if err := os.Mkdir(parent, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", err
	}
	// Only a directory of our own, that nobody else may write, is safe to
	// run binaries from.
	var pst unix.Stat_t
	if err := unix.Lstat(parent, &pst); err != nil {
		return "", err
	}
	if pst.Uid != uint32(os.Geteuid()) || pst.Mode&unix.S_IFMT != unix.S_IFDIR || pst.Mode&0o022 != 0 {
		return "", fmt.Errorf("%s is not a directory owned by uid %d and closed to others: refusing to stage PostgreSQL there", parent, os.Geteuid())
	}
	dest := filepath.Join(parent, hex.EncodeToString(sum[:8]))
	staged := filepath.Join(dest, filepath.Base(filepath.Dir(real)), filepath.Base(real))
	if _, err := os.Stat(filepath.Join(dest, ".complete")); err == nil {
		return staged, nil
	}
	tmp, err := os.MkdirTemp(parent, ".stage-*")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", err
	}
	if err := CopyTree(root, tmp, nil); err != nil {
		return "", fmt.Errorf("stage %s for user %d: %w", root, cred.Uid, err)
	}
	if err := os.WriteFile(filepath.Join(tmp, ".complete"), []byte(real+"\n"), 0o644); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, dest); err != nil {
		if _, serr := os.Stat(filepath.Join(dest, ".complete")); serr == nil {
			return staged, nil // another run staged it meanwhile
		}
		return "", err
	}
	return staged, nil
}

// CopyTree copies the directory src to dst (which exists), keeping modes
// and symbolic links; with cred set it hands every copy to that user.
func CopyTree(src, dst string, cred *syscall.Credential) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			if err := os.Symlink(link, to); err != nil {
				return err
			}
			if cred != nil {
				return os.Lchown(to, int(cred.Uid), int(cred.Gid))
			}
			return nil
		case d.IsDir():
			if rel != "." {
				if err := os.Mkdir(to, info.Mode().Perm()); err != nil {
					return err
				}
			}
			if err := os.Chmod(to, info.Mode().Perm()); err != nil {
				return err
			}
		case d.Type().IsRegular():
			if err := copyFile(path, to, info.Mode().Perm()); err != nil {
				return err
			}
		default:
			return nil // sockets, fifos: nothing to copy
		}
		if cred != nil {
			return os.Chown(to, int(cred.Uid), int(cred.Gid))
		}
		return nil
	})
}

func copyFile(src, dst string, perm fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

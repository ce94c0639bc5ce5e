package trace

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pgwalk/pgwalk/walkthrough"
)

func TestParseMaps(t *testing.T) {
	text := `55d0c5a00000-55d0c5b00000 r--p 00000000 fd:01 1234    /opt/pg/bin/postgres
55d0c5b00000-55d0c5f00000 r-xp 00100000 fd:01 1234    /opt/pg/bin/postgres
7f0000000000-7f0000021000 rw-p 00000000 00:00 0
7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0       [stack]
7f1000000000-7f1000001000 r--p 00000000 fd:01 99      /opt/a dir/with space.so
`
	maps, err := parseMaps(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if len(maps) != 5 {
		t.Fatalf("parsed %d mappings, want 5", len(maps))
	}
	tests := []struct {
		i     int
		start uint64
		off   uint64
		path  string
	}{
		{0, 0x55d0c5a00000, 0, "/opt/pg/bin/postgres"},
		{1, 0x55d0c5b00000, 0x100000, "/opt/pg/bin/postgres"},
		{2, 0x7f0000000000, 0, ""},
		{3, 0x7ffd00000000, 0, "[stack]"},
		{4, 0x7f1000000000, 0, "/opt/a dir/with space.so"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			m := maps[tt.i]
			if m.Start != tt.start || m.Offset != tt.off || m.Path != tt.path {
				t.Errorf("mapping %d = %+v, want start %#x offset %#x path %q", tt.i, m, tt.start, tt.off, tt.path)
			}
		})
	}
	if p, ok := libcPath(maps); ok {
		t.Errorf("libcPath found %q in maps without a C library", p)
	}
	withLibc := append(maps, mapping{Path: "/lib/x86_64-linux-gnu/libc.so.6"})
	if p, ok := libcPath(withLibc); !ok || p != "/lib/x86_64-linux-gnu/libc.so.6" {
		t.Errorf("libcPath = %q, %v", p, ok)
	}
}

func TestParseNetUnix(t *testing.T) {
	text := `Num       RefCount Protocol Flags    Type St Inode Path
0000000000000000: 00000002 00000000 00010000 0001 01 62442 /dev/shm/pgwalk-live-1/.s.PGSQL.5432
0000000000000000: 00000003 00000000 00000000 0001 03 62444 /dev/shm/pgwalk-live-1/.s.PGSQL.5432
0000000000000000: 00000003 00000000 00000000 0001 03 62445
`
	socks, err := parseNetUnix(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if !socks[62442].Listening || socks[62444].Listening || socks[62445].Listening {
		t.Errorf("listening flags wrong: %+v", socks)
	}
	if socks[62444].Path != "/dev/shm/pgwalk-live-1/.s.PGSQL.5432" {
		t.Errorf("path = %q", socks[62444].Path)
	}
	n := fdNamer{sockets: socks, deathRead: 6, deathWrite: 7, syslogRead: -1}
	tests := []struct {
		fd   rawFD
		want string
	}{
		{rawFD{0, "/dev/null"}, walkthrough.FDStdio},
		{rawFD{2, "/tmp/log"}, walkthrough.FDStdio},
		{rawFD{3, "/dev/urandom"}, walkthrough.FDPostmasterOther},
		{rawFD{6, "pipe:[1]"}, walkthrough.FDDeathPipeRead},
		{rawFD{7, "pipe:[1]"}, walkthrough.FDDeathPipeWrite},
		{rawFD{8, "socket:[62442]"}, walkthrough.FDListenSocket},
		{rawFD{9, "anon_inode:[eventpoll]"}, walkthrough.FDEpoll},
		{rawFD{10, "socket:[62444]"}, walkthrough.FDClientSocket},
		{rawFD{11, "socket:[99]"}, walkthrough.FDOther},
		{rawFD{12, "pipe:[5]"}, walkthrough.FDOther},
		{rawFD{13, "anon_inode:[signalfd]"}, walkthrough.FDOther},
	}
	for _, tt := range tests {
		t.Run(tt.fd.Target, func(t *testing.T) {
			if got := n.name(tt.fd); got != tt.want {
				t.Errorf("name(%d %s) = %q, want %q", tt.fd.Num, tt.fd.Target, got, tt.want)
			}
		})
	}
}

func TestClosedFDs(t *testing.T) {
	before := []walkthrough.FD{{Num: 7, Kind: "a", Target: "pipe:[1]"}, {Num: 8, Kind: "b", Target: "socket:[2]"}, {Num: 10, Kind: "c", Target: "socket:[3]"}}
	after := []walkthrough.FD{{Num: 8, Kind: "b", Target: "socket:[9]"}, {Num: 10, Kind: "c", Target: "socket:[3]"}}
	got := closedFDs(before, after)
	// fd 8 was closed and the number reused for another socket.
	if len(got) != 2 || got[0].Num != 7 || got[1].Num != 8 {
		t.Errorf("closedFDs = %+v, want fds 7 and 8", got)
	}
	if own := ownFDs(after, []rawFD{{10, "socket:[3]"}}); own != "fd 8 (b)" {
		t.Errorf("ownFDs = %q", own)
	}
	if own := ownFDs(after, nil); own != "" {
		t.Errorf("ownFDs without a postmaster table = %q", own)
	}
}

func TestReadFDsSelf(t *testing.T) {
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fds, err := readFDs(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, fd := range fds {
		found = found || (fd.Num == int(f.Fd()) && fd.Target == os.DevNull)
	}
	if !found {
		t.Errorf("readFDs did not list fd %d -> %s: %+v", f.Fd(), os.DevNull, fds)
	}
}

func TestModuleLibc(t *testing.T) {
	// A child running a dynamically linked program maps the C library at
	// a load address of the kernel's choosing: the module must relocate
	// its symbols so that the bytes in memory equal the file's.
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep command")
	}
	cmd := exec.Command(sleep, "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	pid := cmd.Process.Pid
	// A static build maps no C library: only a dynamic one is a test.
	if !linksLibc(t, sleep) {
		t.Skipf("%s is not linked with the C library (a static build?)", sleep)
	}
	var maps []mapping
	var libc string
	deadline := time.Now().Add(time.Minute)
	for libc == "" { // until the loader has mapped the library
		if time.Now().After(deadline) {
			t.Fatalf("%s (pid %d) did not map the C library within a minute of its start", sleep, pid)
		}
		maps, err = readMaps(pid)
		if err != nil {
			t.Fatal(err)
		}
		if p, ok := libcPath(maps); ok {
			libc = p
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	m, err := loadModule(libc, libc, maps, true)
	if err != nil {
		t.Fatal(err)
	}
	defer m.close()
	addr, _, ok := m.lookup("malloc")
	if !ok {
		t.Fatalf("%s exports no malloc", libc)
	}
	if addr == m.syms["malloc"].Value {
		t.Errorf("malloc at its file address %#x: not relocated", addr)
	}
	want, err := m.fileBytes(addr, 16)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 16)
	if err := readMem(pid, addr, got); err != nil {
		t.Skipf("cannot read the child's memory here: %v", err)
	}
	if string(got) != string(want) {
		t.Errorf("memory at malloc = % x, the file has % x", got, want)
	}
	if !m.contains(addr) || m.contains(0) {
		t.Error("contains is wrong")
	}
	if fn := m.funcAt(addr + 1); fn == "" || m.syms[fn].Value != m.syms["malloc"].Value {
		t.Errorf("funcAt(malloc+1) = %q", fn)
	}
}

// linksLibc reports whether the ELF program at path needs the C library.
func linksLibc(t *testing.T, path string) bool {
	t.Helper()
	ef, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	libs, err := ef.ImportedLibraries()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range libs {
		if strings.HasPrefix(l, "libc.so") {
			return true
		}
	}
	return false
}

func TestReachable(t *testing.T) {
	root := t.TempDir()
	mk := func(rel string, mode os.FileMode, dir bool) string {
		p := filepath.Join(root, rel)
		var err error
		if dir {
			err = os.Mkdir(p, mode)
		} else {
			err = os.WriteFile(p, []byte("x"), mode)
		}
		if err == nil {
			err = os.Chmod(p, mode)
		}
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, d := range []string{filepath.Dir(root), root} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// Every parent of the test's temporary directory must be searchable
	// for the cases below to mean anything.
	stranger := &syscall.Credential{Uid: 54321, Gid: 54321}
	if !searchable(filepath.Dir(root), stranger) {
		t.Skipf("%s is not searchable by others", filepath.Dir(root))
	}
	mk("open", 0o755, true)
	closed := mk("closed", 0o700, true)
	tests := []struct {
		name string
		path string
		cred *syscall.Credential
		want bool
	}{
		{"pgwalk's own user", mk("closed/bin", 0o700, false), nil, true},
		{"open directory, executable", mk("open/postgres", 0o755, false), stranger, true},
		{"open directory, not executable", mk("open/data", 0o644, false), stranger, false},
		{"closed directory", mk("closed/postgres", 0o755, false), stranger, false},
		{"owner of a closed directory", filepath.Join(closed, "postgres"), &syscall.Credential{Uid: ownerOf(t, closed), Gid: 54321}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := reachable(tt.path, tt.cred); got != tt.want {
				t.Errorf("reachable(%s) = %v, want %v", tt.path, got, tt.want)
			}
		})
	}
}

func ownerOf(t *testing.T, path string) uint32 {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Uid
}

package trace

import (
	"os"
	"strings"
	"testing"

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

func TestModuleSelf(t *testing.T) {
	// The test binary is an ELF file mapped into this process: its own
	// symbols must resolve to addresses whose bytes equal the file's.
	maps, err := readMaps(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	m, err := loadModule("/proc/self/exe", exe, maps, false)
	if err != nil {
		t.Fatal(err)
	}
	defer m.close()
	addr, _, ok := m.lookup("main.main")
	if !ok {
		t.Skip("test binary has no main.main symbol")
	}
	want, err := m.fileBytes(addr, 16)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 16)
	if err := readMem(os.Getpid(), addr, got); err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("memory at main.main = % x, file has % x", got, want)
	}
	if !m.contains(addr) || m.contains(0) {
		t.Error("contains is wrong")
	}
}

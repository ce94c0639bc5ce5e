package live

import (
	"os"
	"strings"
	"testing"

	"github.com/pgwalk/pgwalk/walkthrough"
)

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

func TestOwnFDs(t *testing.T) {
	after := []walkthrough.FD{{Num: 8, Kind: "b", Target: "socket:[9]"}, {Num: 10, Kind: "c", Target: "socket:[3]"}}
	if own := ownFDs(after, []rawFD{{10, "socket:[3]"}}); own != "8 (b)" {
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

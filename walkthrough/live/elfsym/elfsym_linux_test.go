package elfsym

import (
	"debug/elf"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestModuleLibc: a child running a dynamically linked program maps the
// C library at a load address of the kernel's choosing: the module must
// relocate its symbols so that the bytes in memory equal the file's.
func TestModuleLibc(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep command")
	}
	// A static build maps no C library: only a dynamic one is a test.
	if !linksLibc(t, sleep) {
		t.Skipf("%s is not linked with the C library (a static build?)", sleep)
	}
	cmd := exec.Command(sleep, "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	pid := cmd.Process.Pid
	var maps []Mapping
	var libc string
	deadline := time.Now().Add(time.Minute)
	for libc == "" { // until the loader has mapped the library
		if time.Now().After(deadline) {
			t.Fatalf("%s (pid %d) did not map the C library within a minute of its start", sleep, pid)
		}
		if maps, err = ReadMaps(pid); err != nil {
			t.Fatal(err)
		}
		if p, ok := LibcPath(maps); ok {
			libc = p
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	m, err := Load(libc, libc, maps, true)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	addr, _, ok := m.Lookup("malloc")
	if !ok {
		t.Fatalf("%s exports no malloc", libc)
	}
	if addr == m.syms["malloc"].Value {
		t.Errorf("malloc at its file address %#x: not relocated", addr)
	}
	want, err := Set{m}.FileBytes(addr, 16)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 16)
	local := []unix.Iovec{{Base: &got[0]}}
	local[0].SetLen(len(got))
	if _, err := unix.ProcessVMReadv(pid, local, []unix.RemoteIovec{{Base: uintptr(addr), Len: len(got)}}, 0); err != nil {
		t.Skipf("cannot read the child's memory here: %v", err)
	}
	if string(got) != string(want) {
		t.Errorf("memory at malloc = % x, the file has % x", got, want)
	}
	if !m.Contains(addr) || m.Contains(0) {
		t.Error("Contains is wrong")
	}
	if _, err := (Set{m}).FileBytes(1, 1); err == nil {
		t.Error("FileBytes read an address no module holds")
	}
	if fn := m.FuncAt(addr + 1); fn == "" || m.syms[fn].Value != m.syms["malloc"].Value {
		t.Errorf("FuncAt(malloc+1) = %q", fn)
	}
	if m.NoSymtab() || m.Path() != libc {
		t.Errorf("a dynamic module: NoSymtab %v, Path %q", m.NoSymtab(), m.Path())
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

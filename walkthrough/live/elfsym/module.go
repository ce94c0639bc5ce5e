package elfsym

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Module is one ELF file mapped into a process: an executable, or a
// shared library.
type Module struct {
	// path is the file as /proc/PID/maps names it.
	path string
	file *os.File
	// bias is what the loader added to the file's virtual addresses.
	bias  uint64
	loads []elf.ProgHeader
	// syms maps a symbol name to its file address. noSymtab is set when
	// the file has no .symtab (a stripped binary).
	syms     map[string]elf.Symbol
	noSymtab bool
	// funcs are the function symbols by address, for funcAt.
	funcs []elf.Symbol
}

// Load opens the file mapped at path in a process whose maps are maps,
// reading it from open (a path such as /proc/PID/exe, which names exactly
// what runs). With dynamic set it reads the dynamic symbol table (enough
// for a shared library's exported functions), otherwise .symtab, which
// also holds static functions and variables; a stripped file falls back
// to its dynamic symbols (NoSymtab says so).
func Load(open string, path string, maps []Mapping, dynamic bool) (*Module, error) {
	f, err := os.Open(open)
	if err != nil {
		return nil, err
	}
	ef, err := elf.NewFile(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	m := &Module{path: path, file: f, syms: map[string]elf.Symbol{}}
	for _, p := range ef.Progs {
		if p.Type == elf.PT_LOAD {
			m.loads = append(m.loads, p.ProgHeader)
		}
	}
	if err := m.relocate(ef, maps); err != nil {
		f.Close()
		return nil, err
	}
	var syms []elf.Symbol
	if dynamic {
		syms, err = ef.DynamicSymbols()
	} else {
		syms, err = ef.Symbols()
	}
	if !dynamic && errors.Is(err, elf.ErrNoSymbols) {
		// A stripped binary: its exported functions and variables are
		// still in the dynamic symbol table.
		m.noSymtab = true
		syms, err = ef.DynamicSymbols()
	}
	if errors.Is(err, elf.ErrNoSymbols) {
		m.noSymtab = true
	} else if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: symbols: %w", path, err)
	}
	for _, s := range syms {
		t := elf.ST_TYPE(s.Info)
		if s.Value == 0 || (t != elf.STT_FUNC && t != elf.STT_OBJECT) || s.Section == elf.SHN_UNDEF {
			continue
		}
		if _, dup := m.syms[s.Name]; !dup {
			m.syms[s.Name] = s
		}
		if t == elf.STT_FUNC {
			m.funcs = append(m.funcs, s)
		}
	}
	sort.Slice(m.funcs, func(i, j int) bool {
		a, b := m.funcs[i], m.funcs[j]
		return a.Value < b.Value || (a.Value == b.Value && a.Name > b.Name)
	})
	return m, nil
}

// relocate computes the load bias from the first mapping of the file: the
// mapping of file offset o at address a gives bias = a - vaddr(o).
func (m *Module) relocate(ef *elf.File, maps []Mapping) error {
	if ef.Type == elf.ET_EXEC {
		return nil
	}
	for _, mp := range maps {
		if mp.Path != m.path {
			continue
		}
		for _, p := range m.loads {
			if mp.Offset >= p.Off&^0xfff && mp.Offset < p.Off+p.Filesz {
				m.bias = mp.Start - (p.Vaddr - p.Off + mp.Offset)
				return nil
			}
		}
	}
	return fmt.Errorf("%s is not mapped in the process", m.path)
}

// Close closes the file.
func (m *Module) Close() {
	if m != nil && m.file != nil {
		m.file.Close()
	}
}

// Lookup returns the run-time address and size of a symbol.
func (m *Module) Lookup(name string) (addr uint64, size uint64, ok bool) {
	if m == nil {
		return 0, 0, false
	}
	s, ok := m.syms[name]
	if !ok {
		return 0, 0, false
	}
	return s.Value + m.bias, s.Size, true
}

// FuncAt returns the name of the function whose code holds the run-time
// address addr ("" when unknown).
func (m *Module) FuncAt(addr uint64) string {
	if m == nil {
		return ""
	}
	va := addr - m.bias
	// The last function starting at or before va, if va lies inside it.
	i := sort.Search(len(m.funcs), func(i int) bool { return m.funcs[i].Value > va }) - 1
	for j := i; j >= 0 && m.funcs[j].Value == m.funcs[i].Value; j-- {
		if f := m.funcs[j]; va < f.Value+max(f.Size, 1) {
			return f.Name
		}
	}
	return ""
}

// FileBytes reads n bytes of the file at the run-time address addr, for
// comparing with the process's memory.
func (m *Module) FileBytes(addr uint64, n int) ([]byte, error) {
	va := addr - m.bias
	for _, p := range m.loads {
		if va >= p.Vaddr && va+uint64(n) <= p.Vaddr+p.Filesz {
			b := make([]byte, n)
			_, err := m.file.ReadAt(b, int64(va-p.Vaddr+p.Off))
			return b, err
		}
	}
	return nil, fmt.Errorf("%#x is not in a loaded part of %s", addr, m.path)
}

// Contains reports whether addr falls in a loaded part of the module.
func (m *Module) Contains(addr uint64) bool {
	if m == nil {
		return false
	}
	va := addr - m.bias
	for _, p := range m.loads {
		if va >= p.Vaddr && va < p.Vaddr+p.Memsz {
			return true
		}
	}
	return false
}

var libcRE = regexp.MustCompile(`^libc(\.so\.6|-[0-9.]+\.so)$`)

// LibcPath returns the C library's path among maps.
func LibcPath(maps []Mapping) (string, bool) {
	for _, mp := range maps {
		if strings.HasPrefix(mp.Path, "/") && libcRE.MatchString(filepath.Base(mp.Path)) {
			return mp.Path, true
		}
	}
	return "", false
}

// Path returns the file as the process's maps name it.
func (m *Module) Path() string { return m.path }

// NoSymtab reports whether the file has no .symtab (a stripped binary):
// only its dynamic symbols are known.
func (m *Module) NoSymtab() bool { return m.noSymtab }

// Set is the modules of one process.
type Set []*Module

// FileBytes reads n bytes at the run-time address addr from the module
// that holds it.
func (s Set) FileBytes(addr uint64, n int) ([]byte, error) {
	for _, m := range s {
		if m.Contains(addr) {
			return m.FileBytes(addr, n)
		}
	}
	return nil, fmt.Errorf("%#x lies in no file known", addr)
}

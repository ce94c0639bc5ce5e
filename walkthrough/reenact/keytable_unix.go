//go:build unix

package reenact

import (
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"os"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// keyTableName is the file in the private directory that backs the mini
// postmaster's shared key table.
const keyTableName = "pgwalk-cancel-keys"

// A row is the pid (4 bytes, 0 when free), the key's length (4 bytes) and
// the key.
const keyRowSize = 8 + maxKeyBytes

// keyTable is shared memory where each backend publishes its pid and the
// cancel key it made, and where the child of a cancel connection looks
// them up: the re-enactment's counterpart of the keys PostgreSQL 18's
// backends advertise in shared memory (ProcSignalInit) and SendCancelRequest
// compares with. It is a file in the postmaster's private directory that
// every process maps with MAP_SHARED, so that a row one process writes is
// the row another reads, with no message between them. Row i belongs to
// the backend with child slot i+1; the pid is written last and cleared
// first, atomically, so that a reader never takes a half-written key for
// a published one.
type keyTable struct {
	mem  []byte
	rows int
}

// createKeyTable creates the table's file in dir, with rows zeroed rows,
// and maps it.
func createKeyTable(dir string, rows int) (*keyTable, string, error) {
	path := dir + "/" + keyTableName
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, "", fmt.Errorf("create the shared key table: %w", err)
	}
	defer f.Close()
	if err := f.Truncate(int64(rows * keyRowSize)); err != nil {
		return nil, "", fmt.Errorf("size the shared key table: %w", err)
	}
	t, err := mapKeyTable(f, rows)
	return t, path, err
}

// openKeyTable maps the table the postmaster created at path. The file is
// closed again: the mapping stays.
func openKeyTable(path string, rows int) (*keyTable, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("open the shared key table: %w", err)
	}
	defer f.Close()
	return mapKeyTable(f, rows)
}

func mapKeyTable(f *os.File, rows int) (*keyTable, error) {
	if rows <= 0 {
		return nil, fmt.Errorf("shared key table: %d rows", rows)
	}
	mem, err := unix.Mmap(int(f.Fd()), 0, rows*keyRowSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("map the shared key table: %w", err)
	}
	return &keyTable{mem: mem, rows: rows}, nil
}

// close unmaps the table.
func (t *keyTable) close() error {
	if t == nil || t.mem == nil {
		return nil
	}
	err := unix.Munmap(t.mem)
	t.mem = nil
	return err
}

// pidWord returns the pid word of row i, for atomic access.
func (t *keyTable) pidWord(i int) *uint32 {
	return (*uint32)(unsafe.Pointer(&t.mem[i*keyRowSize]))
}

// publish writes pid and key into the row of child slot slot.
func (t *keyTable) publish(slot, pid int, key []byte) error {
	i := slot - 1
	if i < 0 || i >= t.rows {
		return fmt.Errorf("shared key table: no row for child slot %d (%d rows)", slot, t.rows)
	}
	if len(key) == 0 || len(key) > maxKeyBytes {
		return fmt.Errorf("shared key table: a key of %d bytes", len(key))
	}
	row := t.mem[i*keyRowSize : (i+1)*keyRowSize]
	atomic.StoreUint32(t.pidWord(i), 0)
	binary.BigEndian.PutUint32(row[4:8], uint32(len(key)))
	copy(row[8:], key)
	atomic.StoreUint32(t.pidWord(i), uint32(pid))
	return nil
}

// clear empties the row of child slot slot, if it still holds pid (0:
// whatever it holds).
func (t *keyTable) clear(slot, pid int) {
	i := slot - 1
	if t == nil || t.mem == nil || i < 0 || i >= t.rows {
		return
	}
	if pid == 0 {
		atomic.StoreUint32(t.pidWord(i), 0)
		return
	}
	atomic.CompareAndSwapUint32(t.pidWord(i), uint32(pid), 0)
}

// lookup searches the table for pid and compares key with the key
// published there in constant time. found is false when no row holds pid.
func (t *keyTable) lookup(pid int, key []byte) (found, matched bool) {
	if pid <= 0 {
		return false, false
	}
	for i := range t.rows {
		if atomic.LoadUint32(t.pidWord(i)) != uint32(pid) {
			continue
		}
		row := t.mem[i*keyRowSize : (i+1)*keyRowSize]
		n := int(binary.BigEndian.Uint32(row[4:8]))
		if n > maxKeyBytes {
			n = maxKeyBytes
		}
		stored := append([]byte(nil), row[8:8+n]...)
		// Re-check, as SendCancelRequest re-checks the pid under the
		// slot's lock: the backend may have left meanwhile.
		if atomic.LoadUint32(t.pidWord(i)) != uint32(pid) {
			continue
		}
		return true, len(stored) == len(key) && subtle.ConstantTimeCompare(stored, key) == 1
	}
	return false, false
}

// published returns the rows that hold a pid, for observations.
func (t *keyTable) published() int {
	n := 0
	for i := range t.rows {
		if atomic.LoadUint32(t.pidWord(i)) != 0 {
			n++
		}
	}
	return n
}

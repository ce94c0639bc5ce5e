package reenact

import "github.com/pgwalk/pgwalk/walkthrough"

// assignSlot takes a free slot as AssignPostmasterChildSlot does (scanning
// down from the last slot assigned) and returns its number (1..N), or 0
// when the table is full. Call with d.mu held.
func (d *Driver) assignSlot() int {
	slot := d.nextSlot
	for n := slotCount; n > 0; n-- {
		slot--
		if slot < 0 {
			slot = slotCount - 1
		}
		if !d.slots[slot] {
			d.slots[slot] = true
			d.nextSlot = slot
			return slot + 1
		}
	}
	return 0
}

// releaseSlot frees slot (1..N). Call with d.mu held.
func (d *Driver) releaseSlot(slot int) {
	if slot > 0 && slot <= slotCount {
		d.slots[slot-1] = false
	}
}

func (d *Driver) slotsInUse() int {
	n := 0
	for _, used := range d.slots {
		if used {
			n++
		}
	}
	return n
}

// closedFDs returns the fds of before that are not in after.
func closedFDs(before, after []walkthrough.FD) []walkthrough.FD {
	open := map[int]bool{}
	for _, fd := range after {
		open[fd.Num] = true
	}
	var closed []walkthrough.FD
	for _, fd := range before {
		if !open[fd.Num] {
			closed = append(closed, fd)
		}
	}
	return closed
}

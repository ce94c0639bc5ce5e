package reenact

// countChildren counts the children on BackendList that are not dead
// ends, as CountChildren(BACKEND_TYPE_ALL) does. Call with d.mu held.
func (d *Driver) countChildren() int {
	n := 0
	for _, bn := range d.backendList {
		if !bn.DeadEnd {
			n++
		}
	}
	return n
}

// canAcceptConnections answers as PostgreSQL's canAcceptConnections does
// for a normal connection on a server in PM_RUN: CAC_TOOMANY when
// CountChildren reaches MaxLivePostmasterChildren, CAC_OK otherwise. It
// also returns the count it compared. Call with d.mu held.
func (d *Driver) canAcceptConnections() (string, int) {
	n := d.countChildren()
	if n >= d.maxChildren {
		return "CAC_TOOMANY", n
	}
	return "CAC_OK", n
}

// assignSlot takes a free slot as AssignPostmasterChildSlot does (scanning
// down from the last slot assigned) and returns its number (1..N), or 0
// when the table is full, which canAcceptConnections rules out (PostgreSQL
// ends the postmaster with "no free slots in PMChildFlags array" then).
// Call with d.mu held.
func (d *Driver) assignSlot() int {
	slot := d.nextSlot
	for n := len(d.slots); n > 0; n-- {
		slot--
		if slot < 0 {
			slot = len(d.slots) - 1
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
	if slot > 0 && slot <= len(d.slots) {
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

// releaseRecord gives c's record back, as the fork-failure branch and
// CleanupBackend do: it takes the record off the list, if it is there, and
// gives its slot back, to the pool's free list when the release has a pool
// (ReleasePostmasterChildSlot), to the slot table otherwise; a dead-end
// record has no slot. It returns whether the slot is free afterwards
// (false for a dead end, which has none).
func (d *Driver) releaseRecord(c *conn) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i, bn := range d.backendList {
		if bn == &c.node {
			d.backendList = append(d.backendList[:i:i], d.backendList[i+1:]...)
			break
		}
	}
	if c.node.DeadEnd {
		return false
	}
	if d.pool != nil {
		d.pool.give(c.node.ChildSlot)
		return d.pool.isFree(c.node.ChildSlot)
	}
	d.releaseSlot(c.node.ChildSlot)
	return c.node.ChildSlot > 0 && c.node.ChildSlot <= len(d.slots) && !d.slots[c.node.ChildSlot-1]
}

// onList reports whether c's record is on the postmaster's list.
func (d *Driver) onList(c *conn) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, bn := range d.backendList {
		if bn == &c.node {
			return true
		}
	}
	return false
}

// slotFree reports whether c's slot is free: true for a dead end, which
// has none.
func (d *Driver) slotFree(c *conn) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if c.node.DeadEnd {
		return true
	}
	if d.pool != nil {
		return d.pool.isFree(c.node.ChildSlot)
	}
	return c.node.ChildSlot > 0 && c.node.ChildSlot <= len(d.slots) && !d.slots[c.node.ChildSlot-1]
}

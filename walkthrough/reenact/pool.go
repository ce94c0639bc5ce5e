package reenact

// pool is the re-enactment's PMChildPool for client backends: entries whose
// slot numbers are fixed when the pool is built, handed out from the head
// of a free list and given back to its head, as pmchild.c does
// (AssignPostmasterChildSlot pops the head, ReleasePostmasterChildSlot
// pushes onto it).
type pool struct {
	// free holds the slot numbers of the free entries, head first.
	free []int
	// first is the slot number of the first entry, size how many there are.
	first, size int
}

// newPool builds a pool of size entries numbered from first, all free, in
// slot order (InitPostmasterChildSlots pushes each onto the tail).
func newPool(first, size int) *pool {
	p := &pool{first: first, size: size}
	for i := range size {
		p.free = append(p.free, first+i)
	}
	return p
}

// take pops the head of the free list; ok is false when the pool is empty.
func (p *pool) take() (slot int, ok bool) {
	if len(p.free) == 0 {
		return 0, false
	}
	slot = p.free[0]
	p.free = p.free[1:]
	return slot, true
}

// give pushes slot back onto the head of the free list. A slot that is not
// the pool's, or already free, is ignored.
func (p *pool) give(slot int) {
	if slot < p.first || slot >= p.first+p.size || p.isFree(slot) {
		return
	}
	p.free = append([]int{slot}, p.free...)
}

// isFree reports whether slot is on the free list.
func (p *pool) isFree(slot int) bool {
	for _, s := range p.free {
		if s == slot {
			return true
		}
	}
	return false
}

// inUse returns how many entries are taken.
func (p *pool) inUse() int { return p.size - len(p.free) }

// Package elfsym reads the symbols of the ELF files a process has mapped
// (.symtab, or .dynsym for a stripped file or a shared library) and turns
// their addresses into run-time ones with the load bias found in
// /proc/PID/maps, as a position-independent executable needs. It also
// names the function that holds an address, and reads a file's bytes at a
// run-time address, so that a tracer can compare memory with the file
// before it sets a breakpoint. It knows nothing of the programs it reads.
package elfsym

//go:build !unix

package iostreams

// NotifyResize does nothing where there is no SIGWINCH: the screen is laid
// out anew at the next key.
func (s *IOStreams) NotifyResize(ch chan<- struct{}) (stop func()) { return func() {} }

package live

import "testing"

func TestErrnoOf(t *testing.T) {
	if e := errnoOf("Resource temporarily unavailable"); e == nil || e.Name != "EAGAIN" || e.Code != 11 {
		t.Errorf("errnoOf(EAGAIN's text) = %+v", e)
	}
	if e := errnoOf("no such error"); e != nil {
		t.Errorf("errnoOf(nonsense) = %+v", e)
	}
}

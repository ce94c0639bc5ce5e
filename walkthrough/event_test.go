package walkthrough

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// TestValuesJSON checks the encoding of Values: what was not observed is
// absent, an observed empty BackendList is [], and cancel_request always
// carries matched.
func TestValuesJSON(t *testing.T) {
	tests := []struct {
		name    string
		v       Values
		want    string
		missing []string
	}{
		{"nothing observed", Values{}, `{}`, nil},
		{"list not observed", Values{PostmasterPID: 7}, `{"postmaster_pid":7}`, []string{"backend_list"}},
		{"empty list observed", Values{PostmasterPID: 7, BackendList: []BackendNode{}}, `{"postmaster_pid":7,"backend_list":[]}`, nil},
		{"list with a node", Values{BackendList: []BackendNode{{PID: 9, CancelKey: -1, ChildSlot: 2, BkendType: "BACKEND_TYPE_NORMAL"}}},
			`{"backend_list":[{"pid":9,"cancel_key":-1,"child_slot":2,"bkend_type":"BACKEND_TYPE_NORMAL","dead_end":false,"bgworker_notify":false}]}`, nil},
		{"cancel request not matched", Values{CancelRequest: &CancelRequest{PID: 12, CheckedByPID: 34}},
			`{"cancel_request":{"pid":12,"matched":false,"checked_by_pid":34}}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.v)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.want {
				t.Errorf("json = %s, want %s", b, tt.want)
			}
			for _, k := range tt.missing {
				if strings.Contains(string(b), k) {
					t.Errorf("json %s has %s", b, k)
				}
			}
			var back Values
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back, tt.v) {
				t.Errorf("decoded %#v, want %#v", back, tt.v)
			}
		})
	}
}

func TestClosedFDs(t *testing.T) {
	before := []FD{{Num: 7, Kind: "a", Target: "pipe:[1]"}, {Num: 8, Kind: "b", Target: "socket:[2]"}, {Num: 10, Kind: "c", Target: "socket:[3]"}}
	after := []FD{{Num: 8, Kind: "b", Target: "socket:[9]"}, {Num: 10, Kind: "c", Target: "socket:[3]"}}
	got := ClosedFDs(before, after)
	// fd 8 was closed and the number reused for another socket.
	if len(got) != 2 || got[0].Num != 7 || got[1].Num != 8 {
		t.Errorf("ClosedFDs = %+v, want fds 7 and 8", got)
	}
	if got := ClosedFDs([]FD{{Num: 3}, {Num: 4}}, []FD{{Num: 4}}); len(got) != 1 || got[0].Num != 3 {
		t.Errorf("ClosedFDs without targets = %+v, want fd 3", got)
	}
}

package walkthrough

import (
	"encoding/json"
	"testing"
)

// TestKeyJSON checks the compatible encoding of cancel keys: int32 fields
// for 4-byte keys as before, hex for every key, and no int32 where there
// is none (a 32-byte key, a record without a key field).
func TestKeyJSON(t *testing.T) {
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"values with a 4-byte key", Values{CancelKey: Int32(-1)}, `{"cancel_key":-1,"cancel_key_hex":"ffffffff"}`},
		{"values with a 32-byte key", Values{CancelKeyHex: "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"},
			`{"cancel_key_hex":"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"}`},
		{"BackendKeyData, 4 bytes", BackendKey{PID: 7, SecretKey: 0x0102}, `{"pid":7,"secret_key":258,"secret_key_hex":"00000102"}`},
		{"BackendKeyData, 32 bytes", BackendKey{PID: 7, SecretKeyHex: "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"},
			`{"pid":7,"secret_key_hex":"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"}`},
		{"record with a key", BackendNode{PID: 7, CancelKey: 5, ChildSlot: 1}, `{"pid":7,"cancel_key":5,"child_slot":1,"bkend_type":"","dead_end":false,"bgworker_notify":false}`},
		{"record without a key field", BackendNode{PID: 7, NoKey: true, ChildSlot: 1}, `{"pid":7,"child_slot":1,"bkend_type":"","dead_end":false,"bgworker_notify":false}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := json.Marshal(tt.v)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

package render

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/pgwalk/pgwalk/annotations"
	"github.com/pgwalk/pgwalk/walkthrough"
)

// filler fills any value of the event vocabulary from a byte string, so
// that the fuzzer reaches every field of walkthrough.Event, including the
// ones added after this test was written.
type filler struct{ b []byte }

func (f *filler) take(n int) []byte {
	n = min(n, len(f.b))
	out := f.b[:n]
	f.b = f.b[n:]
	return out
}

func (f *filler) byte() byte {
	if b := f.take(1); len(b) == 1 {
		return b[0]
	}
	return 0
}

func (f *filler) u64() uint64 {
	var b [8]byte
	copy(b[:], f.take(8))
	return binary.LittleEndian.Uint64(b[:])
}

// fill sets v from the bytes. Empty slices stay nil and optional fields
// are set or left nil by one byte each, as a driver would leave them.
func (f *filler) fill(v reflect.Value) error {
	switch v.Kind() {
	case reflect.String:
		v.SetString(string(f.take(int(f.byte() % 24))))
	case reflect.Int, reflect.Int64:
		v.SetInt(int64(f.u64()))
	case reflect.Int32:
		v.SetInt(int64(int32(f.u64())))
	case reflect.Bool:
		v.SetBool(f.byte()&1 == 1)
	case reflect.Pointer:
		if f.byte()&1 == 1 {
			p := reflect.New(v.Type().Elem())
			if err := f.fill(p.Elem()); err != nil {
				return err
			}
			v.Set(p)
		}
	case reflect.Slice:
		if n := int(f.byte() % 4); n > 0 {
			s := reflect.MakeSlice(v.Type(), n, n)
			for i := range n {
				if err := f.fill(s.Index(i)); err != nil {
					return err
				}
			}
			v.Set(s)
		}
	case reflect.Map:
		if n := int(f.byte() % 4); n > 0 {
			m := reflect.MakeMapWithSize(v.Type(), n)
			for range n {
				k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
				if err := f.fill(k); err != nil {
					return err
				}
				if err := f.fill(e); err != nil {
					return err
				}
				// JSON writes a key as valid UTF-8: two keys that differ
				// only in invalid bytes are one key in JSON, so the map
				// holds keys as JSON has them, each once.
				asJSONStrings(k)
				if m.MapIndex(k).IsValid() {
					continue
				}
				m.SetMapIndex(k, e)
			}
			v.Set(m)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				if err := f.fill(v.Field(i)); err != nil {
					return err
				}
			}
		}
	default:
		return fmt.Errorf("the filler does not know %s (%s): teach it", v.Type(), v.Kind())
	}
	return nil
}

// asJSONStrings replaces, in every string reachable from v, each byte that
// is not part of valid UTF-8 with U+FFFD: what encoding/json does with
// such bytes ("coerced to valid UTF-8").
func asJSONStrings(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		s := v.String()
		if utf8.ValidString(s) {
			return
		}
		var b strings.Builder
		for i := 0; i < len(s); {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b.WriteRune(utf8.RuneError)
			} else {
				b.WriteString(s[i : i+size])
			}
			i += size
		}
		v.SetString(b.String())
	case reflect.Pointer:
		if !v.IsNil() {
			asJSONStrings(v.Elem())
		}
	case reflect.Slice:
		for i := range v.Len() {
			asJSONStrings(v.Index(i))
		}
	case reflect.Map:
		if v.IsNil() {
			return
		}
		m := reflect.MakeMapWithSize(v.Type(), v.Len())
		iter := v.MapRange()
		for iter.Next() {
			k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
			k.Set(iter.Key())
			e.Set(iter.Value())
			asJSONStrings(k)
			asJSONStrings(e)
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				asJSONStrings(v.Field(i))
			}
		}
	}
}

// asDecoded turns v into what decoding its JSON encoding gives back: the
// hex of a 4-byte key is derived from the int32, a key field that the
// record has not (NoKey) or a key longer than 4 bytes has no int32 in the
// encoding, and NoKey itself is not encoded.
func asDecoded(v *walkthrough.Values) {
	if v.CancelKeyHex == "" && v.CancelKey != nil {
		v.CancelKeyHex = walkthrough.KeyHex(*v.CancelKey)
	}
	node := func(n *walkthrough.BackendNode) {
		if n.NoKey {
			n.CancelKey, n.NoKey = 0, false
		}
	}
	if v.Backend != nil {
		node(v.Backend)
	}
	for i := range v.BackendList {
		node(&v.BackendList[i])
	}
	if k := v.ClientBackendKey; k != nil {
		if k.SecretKeyHex == "" {
			k.SecretKeyHex = walkthrough.KeyHex(k.SecretKey)
		}
		if len(k.SecretKeyHex) != 8 {
			k.SecretKey = 0
		}
	}
}

// FuzzJSONStop encodes a stop built from fuzzed bytes with WriteJSON, the
// encoding of --output json, and decodes it again: the result must be one
// line of valid UTF-8, and the event, title and references must come back
// equal (strings as encoding/json makes them valid UTF-8).
func FuzzJSONStop(f *testing.F) {
	f.Add([]byte{}, "16.4")
	f.Add([]byte("\x01\x02fork\x00\x00\x00\x00\x00\x00\x00\x03postmaster"), "17.1")
	f.Add(bytes.Repeat([]byte{0xff}, 400), "16.4")
	f.Add([]byte("\x10\xe2\x80\xa8line\nsep\u2029\"\\<>&\x00\x80\xc3"), "17.1")
	f.Add(bytes.Repeat([]byte{1, 7, 'a', 0xc3, 0x28, 'b', '\n', 0, 0x80}, 60), "16.4")
	f.Fuzz(func(t *testing.T, data []byte, version string) {
		v, err := walkthrough.LookupVersion(version)
		if err != nil {
			v = walkthrough.Version{Name: version, Tag: version}
		}
		fl := &filler{b: data}
		var ev walkthrough.Event
		if err := fl.fill(reflect.ValueOf(&ev).Elem()); err != nil {
			t.Fatal(err)
		}
		var note *annotations.Note
		if fl.byte()&1 == 1 {
			note = &annotations.Note{}
			if err := fl.fill(reflect.ValueOf(&note.Refs).Elem()); err != nil {
				t.Fatal(err)
			}
		}

		var buf bytes.Buffer
		if err := WriteJSON(&buf, Stop{Event: ev, Note: note, Version: v}); err != nil {
			t.Fatalf("WriteJSON: %v", err)
		}
		out := buf.Bytes()
		if bytes.Count(out, []byte("\n")) != 1 || !bytes.HasSuffix(out, []byte("\n")) {
			t.Fatalf("not one line: %q", out)
		}
		if !utf8.Valid(out) {
			t.Fatalf("not valid UTF-8: %q", out)
		}
		var got JSONStop
		dec := json.NewDecoder(bytes.NewReader(out))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&got); err != nil {
			t.Fatalf("decode %s: %v", out, err)
		}

		want := NewJSONStop(Stop{Event: ev, Note: note, Version: v})
		asDecoded(&want.Values)
		asJSONStrings(reflect.ValueOf(&want).Elem())
		if !reflect.DeepEqual(got.Event, want.Event) {
			t.Fatalf("event changed in JSON:\n got %#v\nwant %#v\njson %s", got.Event, want.Event, out)
		}
		if got.Title != want.Title {
			t.Fatalf("title %q, want %q", got.Title, want.Title)
		}
		if len(got.Refs) != len(want.Refs) || (len(want.Refs) > 0 && !reflect.DeepEqual(got.Refs, want.Refs)) {
			t.Fatalf("refs changed in JSON:\n got %#v\nwant %#v", got.Refs, want.Refs)
		}
	})
}

package main

import (
	"strings"
	"testing"
)

// stream is what `go test -json` prints for two packages: one passes with
// two tests, one fails with a failing subtest, and a third does not build.
const stream = `{"Action":"start","Package":"example/a"}
{"Action":"run","Package":"example/a","Test":"TestFast"}
{"Action":"output","Package":"example/a","Test":"TestFast","Output":"=== RUN   TestFast\n"}
{"Action":"output","Package":"example/a","Test":"TestFast","Output":"    a_test.go:9: chatter of a passing test\n"}
{"Action":"pass","Package":"example/a","Test":"TestFast","Elapsed":0.01}
{"Action":"run","Package":"example/a","Test":"TestSlow"}
{"Action":"pass","Package":"example/a","Test":"TestSlow","Elapsed":12.5}
{"Action":"output","Package":"example/a","Output":"PASS\n"}
{"Action":"output","Package":"example/a","Output":"ok  \texample/a\t12.6s\n"}
{"Action":"pass","Package":"example/a","Elapsed":12.6}
{"Action":"run","Package":"example/b","Test":"TestBroken"}
{"Action":"run","Package":"example/b","Test":"TestBroken/case"}
{"Action":"output","Package":"example/b","Test":"TestBroken/case","Output":"    b_test.go:20: got 1, want 2\n"}
{"Action":"output","Package":"example/b","Test":"TestBroken/case","Output":"    --- FAIL: TestBroken/case (3.00s)\n"}
{"Action":"fail","Package":"example/b","Test":"TestBroken/case","Elapsed":3}
{"Action":"output","Package":"example/b","Test":"TestBroken","Output":"--- FAIL: TestBroken (3.00s)\n"}
{"Action":"fail","Package":"example/b","Test":"TestBroken","Elapsed":3}
{"Action":"output","Package":"example/b","Output":"FAIL\n"}
{"Action":"output","Package":"example/b","Output":"FAIL\texample/b\t3.1s\n"}
{"Action":"fail","Package":"example/b","Elapsed":3.1}
{"ImportPath":"example/c [example/c.test]","Action":"build-output","Output":"c.go:3:1: syntax error\n"}
{"ImportPath":"example/c [example/c.test]","Action":"build-fail"}
# example/c
`

func TestRun(t *testing.T) {
	var out strings.Builder
	failed, err := run(strings.NewReader(stream), &out, 2)
	if err != nil {
		t.Fatal(err)
	}
	if !failed {
		t.Error("a failing test and a failed build were not reported as a failure")
	}
	got := out.String()
	for _, want := range []string{
		"ok  \texample/a\t12.6s\n",
		"b_test.go:20: got 1, want 2",
		"--- FAIL: TestBroken (3.00s)",
		"FAIL\texample/b\t3.1s\n",
		"c.go:3:1: syntax error",
		"# example/c\n",
		"slowest 2 tests:\n    12.5s  TestSlow  example/a\n       3s  TestBroken  example/b (FAILED)\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	for _, bad := range []string{"chatter of a passing test", "PASS\n", "TestBroken/case  "} {
		if strings.Contains(got, bad) {
			t.Errorf("output has %q:\n%s", bad, got)
		}
	}
}

func TestRunAllPassing(t *testing.T) {
	in := `{"Action":"pass","Package":"example/a","Test":"TestX","Elapsed":1}
{"Action":"output","Package":"example/a","Output":"ok  \texample/a\t1s\n"}
{"Action":"pass","Package":"example/a","Elapsed":1}
`
	var out strings.Builder
	failed, err := run(strings.NewReader(in), &out, 10)
	if err != nil || failed {
		t.Fatalf("failed=%v err=%v:\n%s", failed, err, out.String())
	}
}

package main

import (
	"bytes"
	"math/rand/v2"
	"net"
	"strings"
	"testing"
)

// Two runs of the mix never send the same file: intake would answer the
// second with the upload it already has, and do no work for it.
func TestRunsSendFilesOfTheirOwn(t *testing.T) {
	top := []supplierRef{{Name: "suppliers/S1", DisplayName: "Steel One"}, {Name: "suppliers/S2", DisplayName: "Freight Two"}}
	file := func(run uint64) []byte {
		t.Helper()
		b, err := smallUpload(run, 7, 3, rand.New(rand.NewPCG(1, 7)), top)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	one, again, two := file(1), file(1), file(2)
	if !bytes.Equal(one, again) {
		t.Fatal("the same run, VU and request gave two files")
	}
	if bytes.Equal(one, two) {
		t.Fatal("runs 1 and 2 sent the same file")
	}
	lines := strings.Split(strings.TrimSpace(string(two)), "\n")
	if len(lines) != 11 || !strings.HasPrefix(lines[1], "LG2-0007-0000003-00,") || !strings.HasPrefix(lines[10], "LG2-0007-0000003-09,") {
		t.Fatalf("run 2's file:\n%s", two)
	}
}

func TestFreeAddrsAreDistinct(t *testing.T) {
	addrs, err := freeAddrs(200)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, a := range addrs {
		if seen[a] {
			t.Fatalf("%s handed out twice in %v", a, addrs)
		}
		seen[a] = true
		// Each is free again once chosen: the deployable can bind it.
		l, err := net.Listen("tcp", a)
		if err != nil {
			t.Fatalf("%s: %v", a, err)
		}
		l.Close()
	}
}

package main

import (
	"encoding/json"
	"os"
	"strconv"
	"testing"
)

func TestDigestsMatchContract(t *testing.T) {
	raw, err := os.ReadFile("../contract.json")
	if err != nil {
		t.Fatal(err)
	}
	var contract struct {
		Digests map[string]string `json:"digests"`
	}
	if err := json.Unmarshal(raw, &contract); err != nil {
		t.Fatal(err)
	}
	if len(contract.Digests) == 0 {
		t.Fatal("contract.json has no digests")
	}
	for work, want := range contract.Digests {
		n, err := strconv.Atoi(work)
		if err != nil {
			t.Fatal(err)
		}
		if got := digest(n); got != want {
			t.Errorf("digest(%d) = %q, want %q", n, got, want)
		}
	}
}

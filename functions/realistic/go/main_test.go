package main

import (
	"encoding/json"
	"os"
	"testing"
)

func TestDigestsMatchContract(t *testing.T) {
	raw, err := os.ReadFile("../../contract.json")
	if err != nil {
		t.Fatal(err)
	}
	var contract struct {
		Digests map[string]string `json:"digests"`
	}
	if err := json.Unmarshal(raw, &contract); err != nil {
		t.Fatal(err)
	}
	for work, want := range contract.Digests {
		var n int
		if err := json.Unmarshal([]byte(work), &n); err != nil {
			t.Fatal(err)
		}
		if got := digest(n); got != want {
			t.Errorf("work = %d: %s, want %s", n, got, want)
		}
	}
}

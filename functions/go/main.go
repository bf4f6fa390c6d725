// The coldbench function (contract: functions/README.md).
package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"runtime"
	"sync/atomic"

	"github.com/aws/aws-lambda-go/lambda"
)

type event struct {
	Work int `json:"work"`
}

type response struct {
	Runtime            string `json:"runtime"`
	RuntimeVersion     string `json:"runtime_version"`
	Cold               bool   `json:"cold"`
	InstanceID         string `json:"instance_id"`
	Invocation         int64  `json:"invocation"`
	InitializationType string `json:"initialization_type"`
	Work               int    `json:"work"`
	Digest             string `json:"digest"`
}

var (
	buf                = makeBuf()
	instanceID         = newInstanceID()
	initializationType = envOr("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
	invocations        atomic.Int64
)

func makeBuf() []byte {
	b := make([]byte, 4096)
	for i := range b {
		b[i] = byte(i % 256)
	}
	return b
}

func newInstanceID() string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func envOr(name, fallback string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return fallback
}

// digest is `work` rounds of state = SHA256(state || buf), from an empty state.
func digest(work int) string {
	var state []byte
	h := sha256.New()
	for range work {
		h.Reset()
		h.Write(state)
		h.Write(buf)
		state = h.Sum(state[:0])
	}
	return hex.EncodeToString(state)
}

func handler(_ context.Context, e event) (response, error) {
	n := invocations.Add(1)
	return response{
		Runtime:            "go",
		RuntimeVersion:     runtime.Version(),
		Cold:               n == 1 && initializationType != "provisioned-concurrency",
		InstanceID:         instanceID,
		Invocation:         n,
		InitializationType: initializationType,
		Work:               e.Work,
		Digest:             digest(e.Work),
	}, nil
}

func main() {
	lambda.Start(handler)
}

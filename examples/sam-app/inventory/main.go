// Inventory: answers with what its environment looks like from inside, so that the
// definition's memory size, timeout and variables can be checked where they land.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

var (
	instanceID         = newID()
	initializationType = os.Getenv("AWS_LAMBDA_INITIALIZATION_TYPE")
	invocations        = 0
)

func newID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

type response struct {
	Function     string            `json:"function"`
	Cold         bool              `json:"cold"`
	InstanceID   string            `json:"instance_id"`
	Invocation   int               `json:"invocation"`
	MemoryMB     int               `json:"memory_mb"`
	RemainingMs  int64             `json:"remaining_ms"`
	ExecutionEnv string            `json:"execution_env"`
	Environment  map[string]string `json:"environment"`
}

func handle(ctx context.Context) (response, error) {
	invocations++
	deadline, _ := ctx.Deadline()
	environment := map[string]string{}
	for _, name := range []string{"TABLE_NAME", "TABLE_ARN", "QUEUE_URL", "STAGE", "LOG_LEVEL"} {
		if value, ok := os.LookupEnv(name); ok {
			environment[name] = value
		}
	}
	return response{
		Function:     "inventory",
		Cold:         invocations == 1 && initializationType != "provisioned-concurrency",
		InstanceID:   instanceID,
		Invocation:   invocations,
		MemoryMB:     lambdacontext.MemoryLimitInMB,
		RemainingMs:  time.Until(deadline).Milliseconds(),
		ExecutionEnv: os.Getenv("AWS_EXECUTION_ENV"),
		Environment:  environment,
	}, nil
}

func main() {
	lambda.Start(handle)
}

// The realistic coldbench function (contract: functions/README.md; what it does at init:
// functions/realistic/README.md).
package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"runtime"
	"sync/atomic"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/go-chi/chi/v5"
	"github.com/go-playground/validator/v10"
)

// The catalogue every realistic function parses at init, embedded in the executable
// (Lambda's provided.al2023 package holds the executable alone).
//
//go:embed catalog.json
var catalogJSON []byte

type product struct {
	ID           int            `json:"id" validate:"gt=0"`
	SKU          string         `json:"sku" validate:"required"`
	Name         string         `json:"name" validate:"required"`
	Category     string         `json:"category" validate:"required"`
	Description  string         `json:"description"`
	PriceCents   int            `json:"price_cents" validate:"gt=0"`
	Currency     string         `json:"currency" validate:"len=3"`
	Active       bool           `json:"active"`
	Tags         []string       `json:"tags"`
	Stock        map[string]int `json:"stock"`
	DimensionsMM map[string]int `json:"dimensions_mm"`
	Rating       float64        `json:"rating"`
}

type catalog struct {
	Version  int       `json:"version"`
	Products []product `json:"products" validate:"dive"`
}

type event struct {
	Work int `json:"work" validate:"gte=0"`
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
	CatalogProducts    int    `json:"catalog_products"`
	SDKRegion          string `json:"sdk_region"`
}

var (
	buf                = makeBuf()
	instanceID         = newInstanceID()
	initializationType = envOr("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
	invocations        atomic.Int64
	validate           = validator.New(validator.WithRequiredStructEnabled())
	products           = loadCatalog()
	s3Client           = newS3Client()
	router             = newRouter()
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

func loadCatalog() map[int]product {
	var c catalog
	if err := json.Unmarshal(catalogJSON, &c); err != nil {
		panic(err)
	}
	if err := validate.Struct(c); err != nil {
		panic(err)
	}
	byID := make(map[int]product, len(c.Products))
	for _, p := range c.Products {
		byID[p.ID] = p
	}
	return byID
}

// newS3Client reads region and credentials from the environment, as Lambda sets them;
// no request is made until the client is used.
func newS3Client() *s3.Client {
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		panic(err)
	}
	return s3.NewFromConfig(cfg)
}

// newRouter sets up the routes a catalogue service answers, as an HTTP service would.
func newRouter() http.Handler {
	r := chi.NewRouter()
	r.Get("/products", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(len(products))
	})
	r.Get("/products/{id}", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(chi.URLParam(r, "id"))
	})
	r.Get("/categories/{category}", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(chi.URLParam(r, "category"))
	})
	return r
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
	if err := validate.Struct(e); err != nil {
		return response{}, err
	}
	return response{
		Runtime:            "go",
		RuntimeVersion:     runtime.Version(),
		Cold:               n == 1 && initializationType != "provisioned-concurrency",
		InstanceID:         instanceID,
		Invocation:         n,
		InitializationType: initializationType,
		Work:               e.Work,
		Digest:             digest(e.Work),
		CatalogProducts:    len(products),
		SDKRegion:          s3Client.Options().Region,
	}, nil
}

func main() {
	_ = router
	lambda.Start(handler)
}

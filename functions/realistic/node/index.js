// The realistic coldbench function (contract: functions/README.md; what it does at init:
// functions/realistic/README.md).
"use strict";

const crypto = require("node:crypto");
const fs = require("node:fs");
const path = require("node:path");

const { S3Client } = require("@aws-sdk/client-s3");
const express = require("express");

const BUF = Buffer.from(Array.from({ length: 4096 }, (_, i) => i % 256));
const INSTANCE_ID = crypto.randomBytes(8).toString("hex");
const INITIALIZATION_TYPE = process.env.AWS_LAMBDA_INITIALIZATION_TYPE || "on-demand";
let invocations = 0;

// Region and credentials from the environment, as Lambda sets them; no request is made
// until the client is used.
const s3 = new S3Client({});
const catalog = JSON.parse(fs.readFileSync(path.join(__dirname, "catalog.json"), "utf8"));
const byId = new Map(catalog.products.map((product) => [product.id, product]));

// The routes a catalogue service answers, set up as an HTTP framework's app would be.
const app = express();
app.use(express.json());
app.get("/products", (req, res) => res.json(catalog.products.slice(0, 20)));
app.get("/products/:id", (req, res) => res.json(byId.get(Number(req.params.id)) || null));
app.get("/categories/:category", (req, res) =>
  res.json(catalog.products.filter((p) => p.category === req.params.category)));

exports.handler = async (event) => {
  invocations += 1;
  const work = Number.parseInt((event && event.work) || 0, 10);
  let state = Buffer.alloc(0);
  for (let i = 0; i < work; i++) {
    state = crypto.createHash("sha256").update(state).update(BUF).digest();
  }
  return {
    runtime: "node",
    runtime_version: process.version,
    cold: invocations === 1 && INITIALIZATION_TYPE !== "provisioned-concurrency",
    instance_id: INSTANCE_ID,
    invocation: invocations,
    initialization_type: INITIALIZATION_TYPE,
    work,
    digest: state.toString("hex"),
    catalog_products: catalog.products.length,
    sdk_region: await s3.config.region(),
  };
};

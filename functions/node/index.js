// The coldbench function (contract: functions/README.md).
"use strict";

const crypto = require("node:crypto");

const BUF = Buffer.from(Array.from({ length: 4096 }, (_, i) => i % 256));
const INSTANCE_ID = crypto.randomBytes(8).toString("hex");
const INITIALIZATION_TYPE = process.env.AWS_LAMBDA_INITIALIZATION_TYPE || "on-demand";
let invocations = 0;

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
  };
};

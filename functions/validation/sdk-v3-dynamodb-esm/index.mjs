// Validation case (functions/validation/README.md): an ES module whose init imports the
// AWS SDK for JavaScript v3's DynamoDB client, at the release the published figure was
// measured with (3.556.0), and creates a client, as the SDK team's list-tables benchmark in
// aws/aws-sdk-js-v3#6026 did. No request is made (the benchmark's ListTables call ran in
// its handler, after init): the response follows the contract of functions/README.md.
import crypto from "node:crypto";
import { DynamoDB } from "@aws-sdk/client-dynamodb";

const client = new DynamoDB({});
const BUF = Buffer.from(Array.from({ length: 4096 }, (_, i) => i % 256));
const INSTANCE_ID = crypto.randomBytes(8).toString("hex");
const INITIALIZATION_TYPE = process.env.AWS_LAMBDA_INITIALIZATION_TYPE || "on-demand";
let invocations = 0;

export const handler = async (event) => {
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
    sdk_region: await client.config.region(),
  };
};

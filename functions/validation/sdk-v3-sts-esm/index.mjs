// Validation case (functions/validation/README.md): an ES module whose init imports the
// AWS SDK for JavaScript v3's STS client, at the release the published figure was measured
// with (3.758.0), and creates a client, as aws/aws-sdk-js-v3#6914's benchmark did. No
// request is made: the response follows the contract of functions/README.md.
import crypto from "node:crypto";
import { STS } from "@aws-sdk/client-sts";

const client = new STS({});
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

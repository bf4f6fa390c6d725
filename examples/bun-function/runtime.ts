// A Lambda runtime written in Bun, compiled with the function into one executable named
// bootstrap, for Lambda's provided.al2023 (AWS Lambda Developer Guide, "Building a custom
// runtime for AWS Lambda"): init once, then GET the next event from the Runtime API,
// run the handler, POST its answer (or the error). The handler keeps the contract of
// coldbench's functions (functions/README.md), so it is measured as theirs are.
import { createHash, randomBytes } from "node:crypto";

const api = `http://${process.env.AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime`;
const instanceId = randomBytes(8).toString("hex");
const initializationType = process.env.AWS_LAMBDA_INITIALIZATION_TYPE ?? "on-demand";
const buffer = Buffer.from(Array.from({ length: 4096 }, (_, i) => i % 256));
let invocations = 0;

function handler(event: { work?: number }) {
  invocations += 1;
  const work = Number(event?.work ?? 0);
  let state = Buffer.alloc(0);
  for (let i = 0; i < work; i++) {
    state = createHash("sha256").update(state).update(buffer).digest();
  }
  return {
    runtime: "bun",
    runtime_version: Bun.version,
    cold: invocations === 1 && initializationType !== "provisioned-concurrency",
    instance_id: instanceId,
    invocation: invocations,
    initialization_type: initializationType,
    work,
    digest: state.toString("hex"),
  };
}

while (true) {
  const next = await fetch(`${api}/invocation/next`);
  const requestId = next.headers.get("lambda-runtime-aws-request-id");
  const event = await next.json();
  try {
    await fetch(`${api}/invocation/${requestId}/response`, {
      method: "POST",
      body: JSON.stringify(handler(event)),
    });
  } catch (error) {
    await fetch(`${api}/invocation/${requestId}/error`, {
      method: "POST",
      headers: { "Lambda-Runtime-Function-Error-Type": "Unhandled" },
      body: JSON.stringify({ errorType: (error as Error).name, errorMessage: String(error) }),
    });
  }
}

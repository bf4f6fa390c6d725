// Loaded by `node --require` (NODE_OPTIONS) when `coldbench profile` profiles a Node.js
// function: times every CommonJS load (Module._load) and, through the hooks registered
// with module.register (node_hooks.mjs), the body of every ES module. Each event is
// appended at once to COLDBENCH_PROFILE_FILE as a JSON line, so a runtime that dies
// during init leaves what it loaded so far. Timestamps are process.hrtime.bigint():
// CLOCK_MONOTONIC nanoseconds, the clock coldbench times Init Duration with.
"use strict";

const preloadNs = process.hrtime.bigint();
// NODE_OPTIONS reaches threads too, the hooks' own among them: only the main thread is timed
if (require("node:worker_threads").isMainThread) {
  profile();
}

function profile() {
const fs = require("node:fs");
const Module = require("node:module");
const { pathToFileURL } = require("node:url");

const now = () => Number(process.hrtime.bigint());
const output = fs.openSync(process.env.COLDBENCH_PROFILE_FILE, "a");
const emit = (record) => fs.writeSync(output, `${JSON.stringify(record)}\n`);
const stack = [];            // ids of the modules being loaded or evaluated, innermost last
const seenBuiltins = new Set();
let sequence = 0;

emit({ event: "preload", at: Number(preloadNs) });

const originalLoad = Module._load;
Module._load = function load(request, parent, isMain) {
  let id = request;
  try {
    id = Module._resolveFilename(request, parent, isMain);
  } catch {
    // not resolvable: the original load reports it
  }
  const builtin = Module.isBuiltin(id);
  if ((builtin && seenBuiltins.has(id)) || (!builtin && Module._cache[id] !== undefined)) {
    return originalLoad.apply(this, arguments);   // already loaded: costs nothing to time
  }
  if (builtin) {
    seenBuiltins.add(id);
    id = id.startsWith("node:") ? id : `node:${id}`;
  }
  const key = `${id}#${++sequence}`;
  emit({ event: "enter", kind: "cjs", key, id, parent: stack.at(-1) ?? null, at: now() });
  stack.push(key);
  let failed = true;
  try {
    const exported = originalLoad.apply(this, arguments);
    failed = false;
    return exported;
  } finally {
    stack.splice(stack.lastIndexOf(key), 1);
    emit({ event: "leave", key, at: now(), failed });
  }
};

// Called from the first and last statement the hooks add to every ES module's source.
const esmKeys = new Map();
globalThis[Symbol.for("coldbench.profile")] = {
  enter(url, importer, resolvedAt) {
    const key = `${url}#${++sequence}`;
    esmKeys.set(url, key);
    emit({ event: "enter", kind: "esm", key, id: url, parent: importer, resolved: resolvedAt,
           at: now() });
    stack.push(key);
  },
  leave(url) {
    const key = esmKeys.get(url);
    const index = stack.lastIndexOf(key);
    if (index >= 0) stack.splice(index, 1);
    emit({ event: "leave", key, at: now(), failed: false });
  },
};

// The hooks run on a thread of their own, whose start costs tens of milliseconds (about
// 75 ms of Init Duration on a 2-core machine): they are registered only when the handler
// is an ES module, by the client's own rule (``module.mjs``, or ``module.js`` under a
// package.json with "type": "module"). A CommonJS handler's loads are all timed above.
if (handlerIsEsModule(process.argv[2] ?? "")) {
  Module.register("./node_hooks.mjs", pathToFileURL(__filename));
}

function handlerIsEsModule(handler) {      // "<task root>/<module>.<function>"
  const path = require("node:path");
  const base = handler.slice(0, handler.lastIndexOf("."));
  if (!base || fs.existsSync(base)) return false;         // extensionless: required
  if (fs.existsSync(`${base}.js`)) {
    for (let folder = path.dirname(base); ; folder = path.dirname(folder)) {
      try {
        return JSON.parse(fs.readFileSync(path.join(folder, "package.json"), "utf8")).type
          === "module";
      } catch {
        // no package.json here, or not JSON: look further up, as Node.js does
      }
      if (folder === path.dirname(folder)) return false;
    }
  }
  return fs.existsSync(`${base}.mjs`);
}
}

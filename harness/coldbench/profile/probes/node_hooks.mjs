// ES module hooks (module.register) of coldbench's Node.js profile: each ES module's
// source gets a first statement that says its body starts (with its first importer and
// when it was first resolved) and a last one that says it ended (node_preload.cjs
// receives both). Hooks run on a thread of their own; the marks run on the main thread.
const firstSeen = new Map();
const mark = 'globalThis[Symbol.for("coldbench.profile")]';

export async function resolve(specifier, context, nextResolve) {
  const at = Number(process.hrtime.bigint());
  const resolved = await nextResolve(specifier, context);
  if (!firstSeen.has(resolved.url)) {
    firstSeen.set(resolved.url, { importer: context.parentURL ?? null, at });
  }
  return resolved;
}

export async function load(url, context, nextLoad) {
  const loaded = await nextLoad(url, context);
  if (loaded.format !== "module" || !url.startsWith("file:") || loaded.source == null) {
    return loaded;
  }
  const seen = firstSeen.get(url) ?? { importer: null, at: null };
  let source = typeof loaded.source === "string"
    ? loaded.source : new TextDecoder().decode(loaded.source);
  // on the first line, so that line numbers stay; after a hashbang, which must come first
  let head = "";
  if (source.startsWith("#!")) {
    const end = source.indexOf("\n") + 1 || source.length;
    head = source.slice(0, end);
    source = source.slice(end);
  }
  const enter = `${mark}?.enter(import.meta.url, ${JSON.stringify(seen.importer)}, ${seen.at});`;
  const leave = `\n;${mark}?.leave(import.meta.url);\n`;
  return { ...loaded, source: `${head}${enter}${source}${leave}` };
}

// Runs senderkeys_check.js on Node's WebCrypto: node senderkeys_node.mjs senderkeys.json
import { readFileSync } from "node:fs";
import { check } from "./senderkeys_check.js";

const file = JSON.parse(readFileSync(process.argv[2] ?? new URL("senderkeys.json", import.meta.url), "utf8"));
const { checks, failures } = await check(file);
for (const f of failures) console.error("FAIL", f);
console.log(`${checks - failures.length}/${checks} checks passed`);
process.exit(failures.length ? 1 : 0);

// Writes docs/openapi.json from the routes (npm run openapi); test/openapi.test.ts checks it is current.
import { writeFileSync } from "node:fs";
import { describeHttpApi } from "../app/http/create-http-app.js";

const path = new URL("../docs/openapi.json", import.meta.url);
writeFileSync(path, `${JSON.stringify(await describeHttpApi(), null, 2)}\n`);
console.log(`wrote ${path.pathname}`);
process.exit(0);

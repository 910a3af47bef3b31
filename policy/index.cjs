// Entry of the policy pack for the Pulumi policy host. @pulumi/pulumi's run-policy-pack loads `main` with
// require(), whatever PulumiPolicy.yaml's runtime options say, so an ESM TypeScript entry never gets its
// `.js` → `.ts` import mapping and the pack does not start ("Cannot find module .../rules.js"). This
// CommonJS entry registers tsx's ESM loader and then imports the real pack; the host awaits the function.
const { register } = require("tsx/esm/api");

module.exports = async () => {
  register();
  await import("./index.ts");
};

/**
 * The migration Job's exit code for a refused release (app/durability/release-checks.ts); the Job's
 * podFailurePolicy (infra/components/mesh-app.ts) fails it at once on this code, no retries. A module of
 * its own so the Pulumi program reads the number without loading the checks' database driver.
 */
export const RELEASE_REFUSED_EXIT_CODE = 3;

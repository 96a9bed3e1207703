/**
 * `deno task report`: the HTML report generator. Not implemented yet (its own issue); it fails
 * clearly instead of writing a placeholder report.
 *
 * @module
 */

if (import.meta.main) {
  console.error(
    "error: `deno task report` is not implemented yet. Results are in reports/results/*.json " +
      "(written by `deno task bench`); the HTML report generator is a separate issue.",
  );
  Deno.exit(2);
}

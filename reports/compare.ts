/**
 * `deno task compare BASELINE CURRENT`: regression tracking. Not implemented yet (its own issue);
 * it fails clearly (exit 2, "unusable") rather than report "no regression".
 *
 * @module
 */

if (import.meta.main) {
  console.error(
    "error: `deno task compare` is not implemented yet; it cannot say whether there is a " +
      "regression. The comparison and CI formats are a separate issue.",
  );
  Deno.exit(2);
}
